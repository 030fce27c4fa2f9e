package app

import (
	"context"
	"errors"
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

// clockSkew is how far the host's clock and a DC's may disagree when a create is dated by its
// whenCreated: AD's Kerberos refuses more than 5 minutes.
const clockSkew = 5 * time.Minute

// Reconciled counts what Reconcile settled.
type Reconciled struct {
	Applied, NotApplied, Unproven int
	// GUIDs is how many applied creates learned their objectGUID (a crash before the chunk's
	// GUID search).
	GUIDs int
}

// Total is how many writes with no known outcome were settled.
func (r Reconciled) Total() int { return r.Applied + r.NotApplied + r.Unproven }

func (r Reconciled) String() string {
	return fmt.Sprintf("%d writes with no known outcome resolved against the directory: %d applied, %d not applied, %d unproven (never undone); %d objectGUIDs learned",
		r.Total(), r.Applied, r.NotApplied, r.Unproven, r.GUIDs)
}

// Reconcile settles, against the directories, every write that a crashed or cut-off run left
// without a known outcome: it reads each object as it is now and records whether the write
// happened (rollback.Settle). It writes nothing to a directory. Run it before anything else
// writes: a later writer's identical values must not pass for the crashed run's.
func (r *Rig) Reconcile(ctx context.Context, j *journal.Store) (Reconciled, error) {
	var out Reconciled
	crashed, err := j.RecoverCrashed(ctx, ApplyLockTTL) // a long-lived process (the daemon) opened the journal long ago
	if err != nil {
		return out, err
	}
	for _, c := range crashed {
		r.Log.Warn("a run was left running by a process that is gone: marked crashed", "run_id", c.ID, "kind", c.Kind, "host", c.Host, "pid", c.PID)
	}
	un, err := j.Unresolved(ctx)
	if err != nil || len(un) == 0 {
		return out, err
	}
	win := rollback.Window{Skew: clockSkew, Longest: 2 * max(r.Config.Target.Timeout, r.Config.Source.Timeout)}
	opt := rollback.Options{OwnerAttr: r.Config.Mapping.Owner.Attribute, OwnerValue: r.Config.Mapping.Owner.Value}
	for _, jc := range un {
		c := rollbackChange(jc)
		w := r.writerOf(c.Forest)
		names := []string{rollback.AttrWhenCreated}
		if opt.OwnerAttr != "" {
			names = append(names, opt.OwnerAttr)
		}
		for _, a := range c.Attrs {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, a.Name) }) {
				names = append(names, a.Name)
			}
		}
		cur, err := w.Read(ctx, c.DN, names)
		if err != nil {
			return out, fmt.Errorf("reconcile change %d (%s %s): %w", jc.ID, jc.Action, jc.DN, err)
		}
		others, err := j.CreatedAt(ctx, jc.DN, jc.RunID)
		if err != nil {
			return out, err
		}
		v := rollback.Settle(c, cur, others, opt, win)
		status := v.Status
		if jc.Status == journal.StatusApplied {
			// The directory answered this create: it happened. Only its objectGUID was missing.
			status = journal.StatusApplied
			if v.Status != rollback.Happened {
				v.ObjectGUID, v.Why = "", "objectGUID not learned: "+v.Why
			}
		}
		ok, err := j.Resolve(ctx, jc.ID, status, v.ObjectGUID, v.Why)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		switch {
		case jc.Status == journal.StatusApplied:
			if v.ObjectGUID != "" {
				out.GUIDs++
			}
		case status == journal.StatusApplied:
			out.Applied++
		case status == journal.StatusNotApplied:
			out.NotApplied++
		default:
			out.Unproven++
		}
		r.Log.Debug("reconciled a write with no known outcome", "run_id", jc.RunID, "change", jc.ID, "action", jc.Action,
			"dn", jc.DN, "status", status, "why", v.Why)
	}
	return out, nil
}

func (r *Rig) writerOf(forest string) *writer.Client {
	if forest == plan.ForestSource {
		return r.SourceWriter
	}
	return r.Target
}

// rollbackChange is a journaled change as rollback reads it.
func rollbackChange(c journal.Change) rollback.Change {
	attrs := make([]plan.AttrChange, len(c.Attrs))
	for k, a := range c.Attrs {
		attrs[k] = plan.AttrChange{Name: a.Name, Before: a.Before, After: a.After, Add: a.Add, Delete: a.Delete}
	}
	forest := c.Forest
	if forest == "" {
		forest = plan.ForestTarget
	}
	return rollback.Change{ID: c.ID, Key: c.Key, DN: c.DN, Forest: forest, Action: c.Action, Status: c.Status,
		ObjectGUID: c.ObjectGUID, IntentAt: c.IntentAt, Attrs: attrs}
}

// ErrAlreadyRolledBack: the run's changes were already undone by a rollback run.
var ErrAlreadyRolledBack = errors.New("already rolled back")

// undoneBy returns the rollback run that undid run (it applied at least one inverse, and was
// not itself undone), or 0.
func undoneBy(ctx context.Context, j *journal.Store, run int64, depth int) (journal.Run, int, error) {
	if depth > 32 {
		return journal.Run{}, 0, fmt.Errorf("run %d: rollbacks of rollbacks nest too deep", run)
	}
	rbs, err := j.RollbacksOf(ctx, run)
	if err != nil {
		return journal.Run{}, 0, err
	}
	for i := len(rbs) - 1; i >= 0; i-- {
		rb := rbs[i]
		n, err := j.ChangeCounts(ctx, rb.ID)
		if err != nil {
			return journal.Run{}, 0, err
		}
		if n[journal.StatusApplied] == 0 {
			continue // wrote nothing
		}
		back, _, err := undoneBy(ctx, j, rb.ID, depth+1)
		if err != nil {
			return journal.Run{}, 0, err
		}
		if back.ID == 0 {
			return rb, n[journal.StatusApplied], nil
		}
	}
	return journal.Run{}, 0, nil
}

// checkNotRolledBack refuses to roll run back a second time.
func checkNotRolledBack(ctx context.Context, j *journal.Store, run int64) error {
	rb, n, err := undoneBy(ctx, j, run, 0)
	if err != nil || rb.ID == 0 {
		return err
	}
	return fmt.Errorf("run %d: %w by run %d (%s, %d changes undone, %s): a second rollback could undo what was written since, so it is refused; "+
		"xtmsyncd journal show %d lists what was undone and what was refused (fix those by hand)",
		run, ErrAlreadyRolledBack, rb.ID, rb.Outcome, n, rb.StartedAt.Local().Format(time.RFC3339), rb.ID)
}

// outcomeUnknown marks an outcome error for the journal as "sent, answer lost" while keeping its
// text.
type outcomeUnknown struct{ error }

func (e outcomeUnknown) Unwrap() error { return e.error }

func (outcomeUnknown) Is(target error) bool { return target == journal.ErrOutcomeUnknown }

// journalErr is the outcome error as the journal takes it.
func journalErr(err error) error {
	if err != nil && errors.Is(err, directory.ErrOutcomeUnknown) {
		return outcomeUnknown{err}
	}
	return err
}
