package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

func (m *Main) logger(c *config.Config) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
}

func (m *Main) actor() string {
	if m.Actor != "" {
		return m.Actor
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// rig is everything a planning or applying command needs, wired from the config.
type rig struct {
	cfg    *config.Config
	log    *slog.Logger
	engine *engine.Engine
	target *writer.Client
	close  func()
}

func (m *Main) wire(ctx context.Context, c *config.Config) (*rig, error) {
	log := m.logger(c)
	srcConn, err := ldapconn.Dial(ctx, &c.Source)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	src := ldapsrc.New(srcConn, ldapsrc.Options{BaseDN: c.Source.BaseDN, Group: c.Scope.Group, Filter: c.Scope.Filter, PageSize: c.Source.PageSize}, log)
	dial := func(ctx context.Context) (writer.Conn, error) { return ldapconn.Dial(ctx, &c.Target.Directory) }
	tgt, err := writer.New(dial, writer.Options{
		BaseDN: c.Target.BaseDN, OU: c.Target.OU, OwnerAttr: c.Mapping.Owner.Attribute, OwnerValue: c.Mapping.Owner.Value,
		Anchor: c.Mapping.Anchor, PageSize: c.Target.PageSize, Connections: c.Target.Connections,
	}, log)
	if err != nil {
		srcConn.Close()
		return nil, err
	}
	e := &engine.Engine{
		Source: src, Target: tgt, Rules: Rules(c), Diff: DiffOptions(c),
		Limits: plan.Limits{MaxChanges: c.Limits.MaxChanges}, Log: log, SourceName: c.Source.BaseDN + " (" + c.Source.URL + ")",
	}
	return &rig{cfg: c, log: log, engine: e, target: tgt, close: func() { srcConn.Close(); tgt.Close() }}, nil
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

func openJournal(ctx context.Context, c *config.Config) (*journal.Store, error) {
	if dir := filepath.Dir(c.Journal.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	j, err := journal.Open(ctx, c.Journal.Path)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", c.Journal.Path, err)
	}
	return j, nil
}

func writeTo(out string, stdout io.Writer, fn func(io.Writer) error) error {
	if out == "" || out == "-" {
		return fn(stdout)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
