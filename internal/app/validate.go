package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Validate reads both forests (read only) and judges every candidate mailbox.
func (r *Rig) Validate(ctx context.Context) (*readiness.Report, error) {
	scope, err := r.Source.Candidates(ctx)
	if err != nil {
		return nil, fmt.Errorf("read source: %w", err)
	}
	entries, err := r.Target.Entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read target: %w", err)
	}
	p := plan.Build(scope.Mailboxes, r.Engine.Rules, entries, r.Engine.Diff)
	byDN := make(map[string]*directory.Entry, len(entries))
	for _, e := range entries {
		byDN[strings.ToLower(e.DN)] = e
	}
	rep := readiness.Evaluate(readiness.Input{Scope: scope, Group: r.Config.Scope.Group, Rules: r.Engine.Rules,
		Plan: p, Target: byDN, Now: time.Now()})
	if r.Tenants != nil {
		c, err := r.cloud(ctx, rep, scope, byDN)
		if err != nil {
			return nil, fmt.Errorf("cloud checks: %w", err)
		}
		readiness.ApplyCloud(rep, c)
	}
	return rep, nil
}
