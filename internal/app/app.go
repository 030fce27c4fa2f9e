// Package app wires the configuration onto the engine and its adapters: the one place, with
// cmd/xtmsyncd, that knows every package. Tests and the daemon use it too.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

// Rig is everything a planning or applying command needs, wired from the config.
type Rig struct {
	Config *config.Config
	Log    *slog.Logger
	Engine *engine.Engine
	Source *ldapsrc.Reader
	Target *writer.Client
	// Tenants are the Graph clients (nil when graph is not configured).
	Tenants *Tenants
	// SourceWriter writes the source forest (cutover only): no ownership marker there, every
	// change compare-and-set, never outside source.base_dn.
	SourceWriter *writer.Client
	// SourceDC and TargetDC are the domain controllers this rig's connections all go to.
	SourceDC, TargetDC ldapconn.DC
	close              func()
}

// BulkDialer opens the connections the whole-forest reads run on, to the session's DC, so the
// read streams while the run's other connection stays free for ranged reads.
func BulkDialer(s *ldapconn.Session) ldapsrc.BulkDialer {
	return func(ctx context.Context) (ldapsrc.Bulk, error) {
		c, err := s.Dial(ctx)
		if err != nil {
			return nil, err
		}
		return ldapsrc.BulkConn(c), nil
	}
}

// WriterDialer opens the writers' connections, to the session's DC: a run writes to, and
// re-reads from, the domain controller it read.
func WriterDialer(s *ldapconn.Session) writer.Dialer {
	return func(ctx context.Context) (writer.Conn, error) {
		c, err := s.Dial(ctx)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

var _ writer.Conn = (*ldap.Conn)(nil)

// Build connects to both forests and wires the engine. Close the rig when done.
func Build(ctx context.Context, c *config.Config, log *slog.Logger) (*Rig, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srcSess, srcConn, err := ldapconn.Open(ctx, &c.Source, log.With("forest", "source"))
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	src := ldapsrc.New(srcConn, ldapsrc.Options{BaseDN: c.Source.BaseDN, Group: c.Scope.Group, Filter: c.Scope.Filter,
		PageSize: c.Source.PageSize, Bulk: BulkDialer(srcSess)}, log)
	// target.ou must hold no domain controller and no critical system object: a wrong OU in
	// the config must never reach a write.
	tgtSess, tc, err := ldapconn.Open(ctx, &c.Target.Directory, log.With("forest", "target"))
	if err != nil {
		srcConn.Close()
		return nil, fmt.Errorf("target: %w", err)
	}
	err = doctor.CheckTargetOU(tc, c.Target.OU)
	tc.Close()
	if err != nil {
		srcConn.Close()
		return nil, err
	}
	tgt, err := writer.New(WriterDialer(tgtSess), writer.Options{
		BaseDN: c.Target.BaseDN, OU: c.Target.OU, OwnerAttr: c.Mapping.Owner.Attribute, OwnerValue: c.Mapping.Owner.Value,
		Anchor: c.Mapping.Anchor, PageSize: c.Target.PageSize, Connections: c.Target.Connections,
		Bulk: BulkDialer(tgtSess), Timeout: c.Target.Timeout,
	}, log)
	if err != nil {
		srcConn.Close()
		return nil, err
	}
	srcW, err := writer.New(WriterDialer(srcSess), writer.Options{BaseDN: c.Source.BaseDN, OU: c.Source.BaseDN, PageSize: c.Source.PageSize, Timeout: c.Source.Timeout,
		Connections: 1, SkipOwnerCheck: true, OwnerAttr: c.Mapping.Owner.Attribute, OwnerValue: c.Mapping.Owner.Value}, log)
	if err != nil {
		srcConn.Close()
		tgt.Close()
		return nil, err
	}
	tenants, err := NewTenants(c)
	if err != nil {
		srcConn.Close()
		tgt.Close()
		srcW.Close()
		return nil, err
	}
	e := &engine.Engine{
		Source: src, Target: tgt, SourceWriter: srcW, Rules: Rules(c), Diff: DiffOptions(c),
		Limits: plan.Limits{MaxChanges: c.Limits.MaxChanges, MaxChangePercent: c.Limits.MaxChangePercent}, Log: log,
		SourceName: c.Source.BaseDN + " (" + srcSess.DC().String() + ")",
		DCs:        engine.DCs{Source: dcJSON(srcSess.DC()), Target: dcJSON(tgtSess.DC())},
	}
	return &Rig{Config: c, Log: log, Engine: e, Source: src, Target: tgt, SourceWriter: srcW, Tenants: tenants,
		SourceDC: srcSess.DC(), TargetDC: tgtSess.DC(),
		close: func() { srcConn.Close(); tgt.Close(); srcW.Close() }}, nil
}

// dcJSON is a domain controller as the journal's run row keeps it.
func dcJSON(dc ldapconn.DC) string {
	b, _ := json.Marshal(dc)
	return string(b)
}

// Rules maps the configuration onto the mapper's rules.
func Rules(c *config.Config) mapper.Rules {
	m := c.Mapping
	return mapper.Rules{
		SourceRoutingDomain: m.SourceRoutingDomain, SourceDomains: m.SourceDomains,
		TargetPrimaryDomain: m.TargetPrimaryDomain, TargetDeliveryDomain: m.TargetDeliveryDomain,
		TargetUPNSuffix: m.TargetUPNSuffix, AcceptedDomains: m.AcceptedDomains, DomainMap: m.DomainMap,
		DisplayType: m.RecipientDisplayType, ExchangeVersion: m.ExchangeVersion,
		OwnerAttr: m.Owner.Attribute, OwnerValue: m.Owner.Value,
	}
}

// DiffOptions maps the configuration onto the plan's options.
func DiffOptions(c *config.Config) plan.Options {
	return plan.Options{OU: c.Target.OU, Anchor: c.Mapping.Anchor, OwnerAttr: c.Mapping.Owner.Attribute, OwnerValue: c.Mapping.Owner.Value}
}

// OpenJournal opens the configured journal, creating its directory (0700) if needed, and
// recovers what a crash left: runs left "running" by a process that is gone become "crashed"
// (their writes with no outcome wait for Reconcile, which needs the directories).
func OpenJournal(ctx context.Context, c *config.Config) (*journal.Store, error) {
	if dir := filepath.Dir(c.Journal.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	j, err := journal.Open(ctx, c.Journal.Path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", c.Journal.Path, err)
	}
	if _, err := j.RecoverCrashed(ctx, ApplyLockTTL); err != nil {
		j.Close()
		return nil, fmt.Errorf("journal %s: %w", c.Journal.Path, err)
	}
	return j, nil
}

// Close closes the connections.
func (r *Rig) Close() { r.close() }

// LockApply is the journal lock held while writing: by the daemon's jobs and by the CLI's
// --confirm, so two processes never apply at once.
const LockApply = "apply"

// ApplyLockTTL is how long a silent holder keeps the lock before it counts as crashed.
const ApplyLockTTL = 2 * time.Minute
