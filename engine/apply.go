package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Options change how Apply behaves.
type Options struct {
	// AllowLarge lets a plan over limits.max_changes through (--allow-large-plan).
	AllowLarge bool
	// DryRun journals the run without writing (sync without --confirm).
	DryRun bool
}

// Result is what Apply did.
type Result struct {
	RunID    int64 `json:"run_id"`
	Planned  int   `json:"planned"`
	Applied  int   `json:"applied"`
	Failed   int   `json:"failed"`
	NotTried int   `json:"not_tried"`
	Summary  plan.Summary
}

// ErrPartial is returned (wrapped, joined with the per-object errors) when some changes failed.
var ErrPartial = errors.New("some changes failed")

// Apply writes the plan's changes with up to Target.Connections() in parallel. Every write has
// exactly one intent and one outcome in the journal. Per-object failures do not stop the run;
// a journal failure or a cancelled context does (writes in flight finish and are journaled).
func (e *Engine) Apply(ctx context.Context, info RunInfo, p *plan.Plan, o Options) (Result, error) {
	log := e.logger()
	res := Result{Summary: p.Summary}
	work := p.Writable()
	res.Planned = len(work)
	if o.DryRun {
		info.Mode = "dry-run"
	} else {
		info.Mode = "apply"
	}
	runID, err := e.Journal.StartRun(ctx, info, p)
	if err != nil {
		return res, fmt.Errorf("journal: start run: %w", err)
	}
	res.RunID = runID
	log = log.With("run_id", runID)
	finish := func(outcome string, runErr error) (Result, error) {
		if jerr := e.Journal.FinishRun(context.WithoutCancel(ctx), runID, outcome, res, runErr); jerr != nil {
			runErr = errors.Join(runErr, fmt.Errorf("journal: finish run: %w", jerr))
		}
		return res, runErr
	}
	if !o.AllowLarge {
		if err := p.Check(e.Limits); err != nil {
			res.NotTried = len(work)
			log.Warn("safety rail: plan refused", "err", err)
			return finish(OutcomeRefused, err)
		}
	}
	if o.DryRun || len(work) == 0 {
		return finish(OutcomeOK, nil)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan plan.Change)
	var (
		mu         sync.Mutex
		errs       []error
		fatal      error
		done       atomic.Int64
		applied    atomic.Int64
		failed     atomic.Int64
		wg         sync.WaitGroup
		workers    = max(1, e.Target.Connections())
		journalCtx = context.WithoutCancel(ctx)
	)
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				if ctx.Err() != nil {
					continue // the run stopped: nothing more starts (counted as not tried)
				}
				id, err := e.Journal.RecordIntent(journalCtx, runID, c)
				if err != nil {
					mu.Lock()
					fatal = errors.Join(fatal, fmt.Errorf("journal: intent for %s: %w", c.DN, err))
					mu.Unlock()
					cancel(err)
					continue
				}
				guid, aerr := e.writerFor(c).Apply(ctx, c)
				if jerr := e.Journal.RecordOutcome(journalCtx, id, guid, aerr); jerr != nil {
					mu.Lock()
					fatal = errors.Join(fatal, fmt.Errorf("journal: outcome for %s: %w", c.DN, jerr))
					mu.Unlock()
					cancel(jerr)
				}
				if e.OnWrite != nil {
					e.OnWrite(c, aerr)
				}
				if aerr != nil {
					failed.Add(1)
					log.Warn("write failed", "action", c.Action, "dn", c.DN, "err", aerr)
					mu.Lock()
					errs = append(errs, &directory.ObjectError{DN: c.DN, Op: string(c.Action), Err: aerr})
					mu.Unlock()
				} else {
					applied.Add(1)
					log.Debug("written", "action", c.Action, "dn", c.DN, "object_guid", guid)
				}
				if e.Progress != nil {
					e.Progress(int(done.Add(1)), len(work))
				}
			}
		})
	}
	sent := 0
feed:
	for _, c := range work {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- c:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Applied, res.Failed = int(applied.Load()), int(failed.Load())
	res.NotTried = len(work) - res.Applied - res.Failed

	runErr := errors.Join(errs...)
	switch {
	case fatal != nil:
		return finish(OutcomeFailed, errors.Join(fatal, runErr))
	case res.NotTried > 0:
		return finish(OutcomeFailed, errors.Join(context.Cause(ctx), runErr))
	case res.Failed > 0 && res.Applied == 0:
		return finish(OutcomeFailed, fmt.Errorf("%w: %w", ErrPartial, runErr))
	case res.Failed > 0:
		return finish(OutcomePartial, fmt.Errorf("%w: %w", ErrPartial, runErr))
	}
	return finish(OutcomeOK, nil)
}

// refuseWriter refuses every change: the engine has no writer for that forest.
type refuseWriter struct{ forest string }

func (r refuseWriter) Entries(context.Context) ([]*directory.Entry, error) { return nil, nil }
func (r refuseWriter) Connections() int                                    { return 1 }
func (r refuseWriter) Apply(_ context.Context, c plan.Change) (string, error) {
	return "", fmt.Errorf("%w: no writer for the %s forest (%s)", directory.ErrOutOfScope, r.forest, c.DN)
}

func (e *Engine) writerFor(c plan.Change) Target {
	if c.Forest == plan.ForestSource {
		if e.SourceWriter == nil {
			return refuseWriter{plan.ForestSource}
		}
		return e.SourceWriter
	}
	return e.Target
}
