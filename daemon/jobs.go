package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

func (d *Daemon) job(ctx context.Context, job string, log *slog.Logger) (string, error) {
	r, err := d.Build(ctx)
	if err != nil {
		d.journalRun(ctx, job, "job", journal.OutcomeFailed, nil, err)
		return journal.OutcomeFailed, err
	}
	defer r.Close()
	r.Log, r.Engine.Log = log, log // the job's logger: its lines carry job=
	r.Engine.Journal = app.Journal{S: d.store}
	// What a crash left (this process's or another's) is settled before anything is planned.
	if rec, err := r.Reconcile(ctx, d.store); err != nil {
		d.journalRun(ctx, job, "job", journal.OutcomeFailed, nil, fmt.Errorf("recovery: %w", err))
		return journal.OutcomeFailed, err
	} else if rec.Total()+rec.GUIDs > 0 {
		log.Info("recovery", "job", job, "settled", rec.String())
	}
	r.Engine.OnRead = d.Metrics.read
	r.Engine.OnWrite = func(c plan.Change, err error) { d.Metrics.write(c.Forest, string(c.Action), err) }
	switch job {
	case "sync":
		p, err := r.Engine.Plan(ctx)
		if err != nil {
			return d.planFailed(ctx, job, err)
		}
		d.Metrics.inScope.Set(float64(p.Summary.Create + p.Summary.Update + p.Summary.Unchanged + p.Summary.Conflict + p.Summary.Invalid))
		return d.apply(ctx, r, job, p)
	case "cutover":
		if r.Tenants != nil { // the tenants say which moves completed
			p, err := r.PlanCutover(ctx, app.GraphCompletions{R: r})
			if err != nil {
				return d.planFailed(ctx, job, err)
			}
			return d.apply(ctx, r, job, p)
		}
		files, err := filepath.Glob(filepath.Join(d.cfg.Service.CompletedDir, "*.csv"))
		if err != nil || len(files) == 0 {
			d.journalRun(ctx, job, "job", journal.OutcomeOK, map[string]any{"files": 0, "dir": d.cfg.Service.CompletedDir}, err)
			return journal.OutcomeOK, err
		}
		slices.Sort(files)
		p, err := r.PlanCutover(ctx, csvFiles(files))
		if err != nil {
			return d.planFailed(ctx, job, err)
		}
		outcome, err := d.apply(ctx, r, job, p)
		if err == nil && d.cfg.Service.Apply {
			d.archive(files, log)
		}
		return outcome, err
	case "validate", "batches":
		t0 := time.Now()
		rep, err := r.Validate(ctx)
		if err != nil {
			return d.planFailed(ctx, job, err)
		}
		d.Metrics.read("both", time.Since(t0))
		d.Metrics.inScope.Set(float64(rep.Summary.Total))
		for v, n := range map[readiness.Verdict]int{readiness.Ready: rep.Summary.Ready, readiness.Warn: rep.Summary.Warning, readiness.Blocked: rep.Summary.Blocked, readiness.Migrated: rep.Summary.Migrated} {
			d.Metrics.verdicts.WithLabelValues(string(v)).Set(float64(n))
		}
		if job == "validate" {
			return d.writeValidate(ctx, rep)
		}
		return d.writeBatches(ctx, rep)
	}
	return journal.OutcomeFailed, fmt.Errorf("unknown job %q", job)
}

// apply writes p (or journals it as a dry run when service.apply is false), holding the apply
// lock so that no other process writes at the same time.
func (d *Daemon) apply(ctx context.Context, r *app.Rig, job string, p *plan.Plan) (string, error) {
	info := engine.RunInfo{Kind: job, Actor: d.holder, ConfigHash: d.cfg.Hash}
	if !d.cfg.Service.Apply {
		_, err := r.Engine.Apply(ctx, info, p, engine.Options{DryRun: true})
		return outcomeOf(err), err
	}
	var res engine.Result
	err := d.store.WithLock(ctx, LockApply, d.holder, lockTTL, func() error {
		var err error
		res, err = r.Engine.Apply(ctx, info, p, engine.Options{})
		return err
	})
	var locked *journal.LockedError
	if errors.As(err, &locked) {
		d.journalRun(ctx, job, "apply", journal.OutcomeRefused, nil, err)
		return journal.OutcomeRefused, err
	}
	d.log.Info("applied", "job", job, "run", res.RunID, "applied", res.Applied, "failed", res.Failed, "unknown", res.Unknown, "not_tried", res.NotTried)
	return outcomeOf(err), err
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return journal.OutcomeOK
	case errors.Is(err, directory.ErrUnsafePlan):
		return journal.OutcomeRefused
	case errors.Is(err, engine.ErrPartial):
		return journal.OutcomePartial
	}
	return journal.OutcomeFailed
}

// planFailed journals a run that ended before anything could be applied.
func (d *Daemon) planFailed(ctx context.Context, job string, err error) (string, error) {
	o := outcomeOf(err)
	d.journalRun(ctx, job, "job", o, nil, err)
	return o, err
}

// journalRun records a job run that the engine did not journal itself.
func (d *Daemon) journalRun(ctx context.Context, job, mode, outcome string, summary any, runErr error) {
	ctx = context.WithoutCancel(ctx)
	var sum json.RawMessage
	if summary != nil {
		sum, _ = json.Marshal(summary)
	}
	id, err := d.store.StartRun(ctx, journal.Run{Kind: job, Mode: mode, Actor: d.holder, ConfigHash: d.cfg.Hash, Summary: sum})
	if err == nil {
		err = d.store.FinishRun(ctx, id, outcome, sum, runErr)
	}
	if err != nil {
		d.log.Error("journal", "job", job, "err", err)
	}
}

func (d *Daemon) stamp() string { return d.Now().UTC().Format("20060102-150405") }

func (d *Daemon) writeValidate(ctx context.Context, rep *readiness.Report) (string, error) {
	dir := d.cfg.Service.ReportsDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		d.journalRun(ctx, "validate", "report", journal.OutcomeFailed, nil, err)
		return journal.OutcomeFailed, err
	}
	base := filepath.Join(dir, "validate-"+d.stamp())
	err := writeFile(base+".json", func(f *os.File) error { return readiness.WriteJSON(f, rep) })
	if err == nil {
		err = writeFile(base+".csv", func(f *os.File) error { return readiness.WriteCSV(f, rep) })
	}
	if err == nil {
		err = retain(dir, "validate-", d.cfg.Service.Keep)
	}
	o := journal.OutcomeOK
	if err != nil {
		o = journal.OutcomeFailed
	}
	d.journalRun(ctx, "validate", "report", o, map[string]any{"summary": rep.Summary, "report": base + ".json"}, err)
	return o, err
}

func (d *Daemon) writeBatches(ctx context.Context, rep *readiness.Report) (string, error) {
	res, err := app.Batches(rep, d.cfg.Service.BatchSize, false)
	var files []string
	out := filepath.Join(d.cfg.Service.ReportsDir, "batches-"+d.stamp())
	if err == nil {
		files, err = batch.WriteFiles(out, res)
	}
	if err == nil {
		err = retain(d.cfg.Service.ReportsDir, "batches-", d.cfg.Service.Keep)
	}
	o := journal.OutcomeOK
	if err != nil {
		o = journal.OutcomeFailed
	}
	d.journalRun(ctx, "batches", "report", o, map[string]any{"dir": out, "files": len(files)}, err)
	return o, err
}

func writeFile(path string, fn func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// retain keeps the newest keep reports (files or folders) whose name starts with prefix; the
// names embed a sortable timestamp.
func retain(dir, prefix string, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	groups := map[string]bool{}
	var stamps []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		s := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".json"), ".csv")
		if !groups[s] {
			groups[s] = true
			stamps = append(stamps, s)
		}
	}
	slices.Sort(stamps)
	var errs []error
	for _, s := range stamps[:max(0, len(stamps)-keep)] {
		for _, e := range ents {
			n := e.Name()
			if n == s || n == s+".json" || n == s+".csv" {
				errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
			}
		}
	}
	return errors.Join(errs...)
}

// archive moves processed completed-move files into processed/ so they are not cut over again.
func (d *Daemon) archive(files []string, log *slog.Logger) {
	dir := filepath.Join(d.cfg.Service.CompletedDir, "processed")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		log.Error("archive completed-move files", "err", err)
		return
	}
	for _, f := range files {
		dst := filepath.Join(dir, d.stamp()+"-"+filepath.Base(f))
		if err := os.Rename(f, dst); err != nil {
			log.Error("archive completed-move file", "file", f, "err", err)
		}
	}
}

// csvFiles reads completed moves from several exports.
type csvFiles []string

func (fs csvFiles) Completions(ctx context.Context) ([]cutover.Completion, error) {
	var out []cutover.Completion
	for _, f := range fs {
		c, err := cutover.CSVFile(f).Completions(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	return out, nil
}
