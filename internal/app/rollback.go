package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/rollback"
)

// PlanRollback plans the inverse of run: it refuses a run already rolled back, settles what
// crashes left unknown (Reconcile), then reads each object the run wrote as it is now.
func (r *Rig) PlanRollback(ctx context.Context, j *journal.Store, run int64) (*plan.Plan, error) {
	if _, err := j.Run(ctx, run); err != nil {
		return nil, fmt.Errorf("run %d: %w", run, err)
	}
	if err := checkNotRolledBack(ctx, j, run); err != nil {
		return nil, err
	}
	if _, err := r.Reconcile(ctx, j); err != nil {
		return nil, err
	}
	jc, err := j.Changes(ctx, run)
	if err != nil {
		return nil, err
	}
	changes := make([]rollback.Change, len(jc))
	for i, c := range jc {
		changes[i] = rollbackChange(c)
	}
	var readErr error
	now := func(forest, dn string) *directory.Entry {
		names := []string{r.Config.Mapping.Owner.Attribute}
		for _, c := range changes {
			if strings.EqualFold(c.DN, dn) {
				for _, a := range c.Attrs {
					if !slices.Contains(names, a.Name) {
						names = append(names, a.Name)
					}
				}
			}
		}
		e, err := r.writerOf(forest).Read(ctx, dn, names)
		if err != nil && readErr == nil {
			readErr = err
		}
		return e
	}
	p := rollback.Plan(run, changes, now, rollback.Options{OwnerAttr: r.Config.Mapping.Owner.Attribute, OwnerValue: r.Config.Mapping.Owner.Value})
	if readErr != nil {
		return nil, readErr
	}
	p.Target = r.Config.Target.OU
	p.DryRun = true
	p.GeneratedAt = time.Now().UTC()
	return p, nil
}
