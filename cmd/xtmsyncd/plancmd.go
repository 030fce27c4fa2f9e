package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

func (m *Main) plan(ctx context.Context, args []string) error {
	fs := newFlags("plan")
	path := configFlag(fs)
	format := fs.String("o", "text", "output: text, json or ldif")
	out := fs.String("out", "", "write the plan to this file instead of stdout")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plan has changes")
	unchanged := fs.Bool("show-unchanged", false, "list unchanged objects in the text output")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	r, err := m.connect(ctx, *path)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := r.Engine.Plan(ctx)
	if err != nil {
		return err
	}
	if err := m.render(p, *format, *out, *unchanged); err != nil {
		return err
	}
	if rail := p.Check(r.Engine.Limits); rail != nil {
		fmt.Fprintf(m.Stderr, "note: sync would refuse this plan: %v\n", rail)
	}
	if *detailed && p.Summary.Writes() > 0 {
		return exitError{ExitChanges}
	}
	return nil
}

func (m *Main) render(p *plan.Plan, format, out string, unchanged bool) error {
	var fn func(io.Writer) error
	switch format {
	case "text":
		color := out == "" && m.IsTerminal != nil && m.IsTerminal(m.Stdout) && os.Getenv("NO_COLOR") == ""
		fn = func(w io.Writer) error {
			return plan.WriteText(w, p, plan.TextOptions{Color: color, Unchanged: unchanged})
		}
	case "json":
		fn = func(w io.Writer) error { return plan.WriteJSON(w, p) }
	case "ldif":
		fn = func(w io.Writer) error { return writer.WriteLDIF(w, p) }
	default:
		return fmt.Errorf("-o %s: use text, json or ldif", format)
	}
	return writeTo(out, m.Stdout, fn)
}

func (m *Main) sync(ctx context.Context, args []string) error {
	fs := newFlags("sync")
	path := configFlag(fs)
	confirm := fs.Bool("confirm", false, "apply the plan (without it, sync only plans)")
	allowLarge := fs.Bool("allow-large-plan", false, "apply even when the plan writes more than limits.max_changes objects")
	format := fs.String("o", "text", "plan output: text or json")
	detailed := fs.Bool("detailed-exitcode", false, "without --confirm, exit 2 when the plan has changes")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	r, err := m.connect(ctx, *path)
	if err != nil {
		return err
	}
	defer r.Close()
	c := r.Config
	// The journal first: a journal that cannot record the run must fail before the plan is
	// shown, and what a crash left must be settled before anything is planned or written.
	j, err := m.openAndReconcile(ctx, r)
	if err != nil {
		return err
	}
	defer j.Close()
	p, err := r.Engine.Plan(ctx)
	if err != nil {
		return err
	}
	p.DryRun = !*confirm
	if err := m.render(p, *format, "", false); err != nil {
		return err
	}
	r.Engine.Journal = app.Journal{S: j}
	if *confirm && m.IsTerminal != nil && m.IsTerminal(m.Stderr) {
		r.Engine.Progress = progress(m.Stderr, time.Now())
	}
	var res engine.Result
	apply := func() error {
		var err error
		res, err = r.Engine.Apply(ctx, engine.RunInfo{Kind: "sync", Actor: m.actor(), ConfigHash: c.Hash}, p,
			engine.Options{AllowLarge: *allowLarge, DryRun: !*confirm})
		return err
	}
	if *confirm {
		err = j.WithLock(ctx, app.LockApply, m.holder("sync"), app.ApplyLockTTL, apply)
	} else {
		err = apply()
	}
	var locked *journal.LockedError
	switch {
	case errors.As(err, &locked):
		return err // nothing was started: no run to report
	case err != nil && errors.Is(err, directory.ErrUnsafePlan):
		fmt.Fprintf(m.Stderr, "refused (journal run %d): nothing was written\n", res.RunID)
		return err
	case !*confirm:
		fmt.Fprintf(m.Stderr, "dry run journaled as run %d; nothing was written. Re-run with --confirm to apply.\n", res.RunID)
		if *detailed && p.Summary.Writes() > 0 {
			return exitError{ExitChanges}
		}
		return nil
	}
	fmt.Fprintf(m.Stderr, "run %d: %d applied, %d failed (%d of them outcome unknown), %d not tried (xtmsyncd journal show %d)\n",
		res.RunID, res.Applied, res.Failed, res.Unknown, res.NotTried, res.RunID)
	return err
}

// progress prints "written/total, rate, ETA" on one terminal line.
func progress(w io.Writer, start time.Time) func(done, total int) {
	return func(done, total int) {
		el := time.Since(start).Seconds()
		rate := float64(done) / max(el, 1e-3)
		eta := time.Duration(float64(total-done)/max(rate, 1e-3)) * time.Second
		fmt.Fprintf(w, "\rwritten %d/%d  %.0f/s  ETA %s   ", done, total, rate, eta.Round(time.Second))
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// openAndReconcile opens the journal (recovering the runs of processes that are gone), checks
// that it takes a write now (before any plan is shown), and settles, against the directories, the writes that crashed or cut-off runs left without a
// known outcome. It says on stderr what it settled.
func (m *Main) openAndReconcile(ctx context.Context, r *app.Rig) (*journal.Store, error) {
	j, err := app.OpenJournal(ctx, r.Config)
	if err != nil {
		return nil, err
	}
	if err := j.CheckWritable(ctx); err != nil {
		j.Close()
		return nil, err
	}
	rec, err := r.Reconcile(ctx, j)
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("recovery: %w (the journal is intact; re-run when the directory answers)", err)
	}
	if rec.Total()+rec.GUIDs > 0 {
		fmt.Fprintf(m.Stderr, "recovery: %s (xtmsyncd journal list shows the runs)\n", rec)
	}
	return j, nil
}
