package app_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// world is one test's pair of forests: both directories, a config, an open journal.
type world struct {
	src, tgt *ldaptest.Dir
	cfg      *config.Config
	j        *journal.Store
}

func newWorld(t *testing.T, scopeGroup, targetOU string) *world {
	t.Helper()
	src := ldaptest.Open(t, "source")
	tgt := ldaptest.Open(t, "target")
	c := ldaptest.SyncConfig(t, src, tgt, scopeGroup, targetOU)
	j, err := app.OpenJournal(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &world{src: src, tgt: tgt, cfg: c, j: j}
}

// synthetic gives the test n source mailboxes and a scope group of its own, and an empty
// target OU of its own, and returns the world wired to them.
func synthetic(t *testing.T, n int) (*world, synth.Options) {
	t.Helper()
	src := ldaptest.Open(t, "source")
	tgt := ldaptest.Open(t, "target")
	o, ou := ldaptest.Synthetic(t, src, tgt, n)
	return newWorld(t, o.GroupDN(), ou), o
}

func (w *world) rig(t *testing.T) *app.Rig {
	t.Helper()
	r, err := app.Build(context.Background(), w.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	r.Engine.Journal = app.Journal{S: w.j}
	return r
}

func (w *world) plan(t *testing.T) (*app.Rig, *plan.Plan) {
	t.Helper()
	r := w.rig(t)
	p, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return r, p
}

func (w *world) sync(t *testing.T) (*plan.Plan, engine.Result) {
	t.Helper()
	r, p := w.plan(t)
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p, res
}

// read returns the object at dn with all its attributes (raw values) plus uSNChanged.
func read(t *testing.T, d *ldaptest.Dir, dn string) *ldap.Entry {
	t.Helper()
	res, err := d.Conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*", "uSNChanged"}, nil))
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

func modify(t *testing.T, d *ldaptest.Dir, dn string, fn func(*ldap.ModifyRequest)) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	fn(req)
	if err := d.Conn.Modify(req); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

func changeFor(p *plan.Plan, sourceCN string) *plan.Change {
	for i := range p.Changes {
		if strings.HasPrefix(strings.ToLower(p.Changes[i].Source), "cn="+strings.ToLower(sourceCN)+",") {
			return &p.Changes[i]
		}
	}
	return nil
}

func proxies(e *ldap.Entry) []directory.Proxy {
	var out []directory.Proxy
	for _, v := range e.GetAttributeValues(directory.AttrProxyAddresses) {
		out = append(out, directory.Proxy(v))
	}
	return out
}

func hasProxy(ps []directory.Proxy, want string) bool {
	k := directory.Proxy(want).Key()
	for _, p := range ps {
		if p.Key() == k {
			return true
		}
	}
	return false
}
