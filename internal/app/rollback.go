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
	"github.com/xtmsyncd/xtmsyncd/writer"
)

// PlanRollback reads run's applied changes from the journal and the objects as they are now,
// and plans their inverse.
func (r *Rig) PlanRollback(ctx context.Context, j *journal.Store, run int64) (*plan.Plan, error) {
	if _, err := j.Run(ctx, run); err != nil {
		return nil, fmt.Errorf("run %d: %w", run, err)
	}
	jc, err := j.Changes(ctx, run)
	if err != nil {
		return nil, err
	}
	changes := make([]rollback.Change, len(jc))
	for i, c := range jc {
		attrs := make([]plan.AttrChange, len(c.Attrs))
		for k, a := range c.Attrs {
			attrs[k] = plan.AttrChange{Name: a.Name, Before: a.Before, After: a.After, Add: a.Add, Delete: a.Delete}
		}
		changes[i] = rollback.Change{ID: c.ID, Key: c.Key, DN: c.DN, Forest: c.Forest, Action: c.Action, Status: c.Status, Attrs: attrs}
	}
	var readErr error
	now := func(forest, dn string) *directory.Entry {
		var w *writer.Client = r.Target
		if forest == plan.ForestSource {
			w = r.SourceWriter
		}
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
		e, err := w.Read(ctx, dn, names)
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
