package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// applyFlags are shared by the commands that plan and, with --confirm, apply.
type applyFlags struct {
	path       *string
	confirm    *bool
	allowLarge *bool
	format     *string
	out        *string
}

func newApplyFlags(fs *flag.FlagSet, what string) *applyFlags {
	return &applyFlags{
		path:       configFlag(fs),
		confirm:    fs.Bool("confirm", false, "apply the "+what+" (without it, nothing is written)"),
		allowLarge: fs.Bool("allow-large-plan", false, "apply even when the "+what+" writes more than limits.max_changes objects"),
		format:     fs.String("o", "text", "plan output: text, json or ldif"),
		out:        fs.String("out", "", "write the plan to this file instead of stdout"),
	}
}

func (m *Main) cutover(ctx context.Context, args []string) error {
	fs := newFlags("cutover")
	a := newApplyFlags(fs, "plan")
	completed := fs.String("completed", "", "CSV of completed moves exported from the target tenant (Get-MoveRequest -Flags CrossTenant | Export-Csv)")
	fromGraph := fs.Bool("from-graph", false, "ask the tenants instead: a move completed when the target user has a mailbox and the source user has none")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*completed == "") == !*fromGraph {
		return errors.New("cutover: give either --completed FILE (a CSV exported from the target tenant) or --from-graph")
	}
	return m.planAndApply(ctx, a, "cutover", 0, func(r *app.Rig, _ *journal.Store) (*plan.Plan, error) {
		if *fromGraph {
			return r.PlanCutover(ctx, app.GraphCompletions{R: r})
		}
		return r.PlanCutover(ctx, cutover.CSVFile(*completed))
	})
}

func (m *Main) rollback(ctx context.Context, args []string) error {
	fs := newFlags("rollback")
	a := newApplyFlags(fs, "inverse")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: xtmsyncd rollback RUN -config FILE [--confirm]")
	}
	run, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("rollback: %q is not a run number (see xtmsyncd journal list)", pos[0])
	}
	return m.planAndApply(ctx, a, "rollback", run, func(r *app.Rig, j *journal.Store) (*plan.Plan, error) {
		return r.PlanRollback(ctx, j, run)
	})
}

// planAndApply is the shared path of cutover and rollback: plan, render, and with --confirm
// apply through the engine, journaled like sync.
func (m *Main) planAndApply(ctx context.Context, a *applyFlags, kind string, parent int64, build func(*app.Rig, *journal.Store) (*plan.Plan, error)) error {
	r, err := m.connect(ctx, *a.path)
	if err != nil {
		return err
	}
	defer r.Close()
	c := r.Config
	j, err := m.openAndReconcile(ctx, r)
	if err != nil {
		return err
	}
	defer j.Close()
	p, err := build(r, j)
	if err != nil {
		return err
	}
	p.DryRun = !*a.confirm
	if err := m.render(p, *a.format, *a.out, false); err != nil {
		return err
	}
	if !*a.confirm {
		fmt.Fprintf(m.Stderr, "dry run: nothing was written. Re-run with --confirm to apply.\n")
		return nil
	}
	r.Engine.Journal = app.Journal{S: j}
	if m.IsTerminal != nil && m.IsTerminal(m.Stderr) {
		r.Engine.Progress = progress(m.Stderr, time.Now())
	}
	var res engine.Result
	err = j.WithLock(ctx, app.LockApply, m.holder(kind), app.ApplyLockTTL, func() error {
		var err error
		res, err = r.Engine.Apply(ctx, engine.RunInfo{Kind: kind, Actor: m.actor(), ConfigHash: c.Hash, ParentRunID: parent}, p,
			engine.Options{AllowLarge: *a.allowLarge})
		return err
	})
	var locked *journal.LockedError
	if errors.As(err, &locked) {
		return err // nothing was started: no run to report
	}
	if err != nil && errors.Is(err, directory.ErrUnsafePlan) {
		fmt.Fprintf(m.Stderr, "refused (journal run %d): nothing was written\n", res.RunID)
		return err
	}
	fmt.Fprintf(m.Stderr, "%s run %d: %d applied, %d failed (%d of them outcome unknown), %d not tried (xtmsyncd journal show %d)\n",
		kind, res.RunID, res.Applied, res.Failed, res.Unknown, res.NotTried, res.RunID)
	return err
}
