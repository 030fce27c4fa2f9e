// Package engine orchestrates a run: read the source scope, map, read the target, diff into a
// plan, and apply the plan with a write-ahead journal. It owns the small interfaces it consumes
// and imports no adapter.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Source reads the mailboxes in scope.
type Source interface {
	Scope(ctx context.Context) (*directory.Scope, error)
}

// Target reads the target forest and applies one change at a time (compare-and-set).
type Target interface {
	Entries(ctx context.Context) ([]*directory.Entry, error)
	Apply(ctx context.Context, c plan.Change) (objectGUID string, err error)
	Connections() int
}

// Journal records runs and changes: the intent commits before the write, the outcome after.
type Journal interface {
	StartRun(ctx context.Context, r RunInfo, p *plan.Plan) (int64, error)
	RecordIntent(ctx context.Context, runID int64, c plan.Change) (int64, error)
	RecordOutcome(ctx context.Context, changeID int64, objectGUID string, applyErr error) error
	FinishRun(ctx context.Context, runID int64, outcome string, s Result, runErr error) error
}

// RunInfo describes a run for the journal.
type RunInfo struct {
	Kind       string // sync
	Mode       string // dry-run or apply
	Actor      string
	ConfigHash string
	// ParentRunID is the run a rollback inverts (0: none).
	ParentRunID int64
}

// Outcomes of a run.
const (
	OutcomeOK      = "ok"
	OutcomePartial = "partial"
	OutcomeFailed  = "failed"
	OutcomeRefused = "refused"
)

// Engine plans and applies.
type Engine struct {
	Source Source
	Target Target
	// SourceWriter applies changes whose Forest is "source" (cutover, rollback); nil refuses them.
	SourceWriter Target
	Journal      Journal
	Rules        mapper.Rules
	Diff         plan.Options
	Limits       plan.Limits
	Log          *slog.Logger
	// Progress, when set, is called after each applied change.
	Progress func(done, total int)
	// OnRead and OnWrite, when set, observe reads of each forest and every write (metrics).
	OnRead  func(forest string, d time.Duration)
	OnWrite func(c plan.Change, err error)
	// SourceName is shown in plans.
	SourceName string
	Now        func() time.Time
}

// Plan reads both forests and returns the plan. A source that returns no mailbox is refused
// (directory.ErrUnsafePlan): an empty scope is far more often a broken filter than intent.
func (e *Engine) Plan(ctx context.Context) (*plan.Plan, error) {
	log := e.logger()
	// The two forests are different servers: read them at the same time.
	var (
		entries []*directory.Entry
		terr    error
		tdur    time.Duration
		wg      sync.WaitGroup
	)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		t1 := time.Now()
		entries, terr = e.Target.Entries(tctx)
		tdur = time.Since(t1)
	})
	t0 := time.Now()
	scope, err := e.Source.Scope(ctx)
	sdur := time.Since(t0)
	if err != nil {
		cancel()
		wg.Wait()
		return nil, fmt.Errorf("read source: %w", err)
	}
	wg.Wait()
	if terr != nil {
		return nil, fmt.Errorf("read target: %w", terr)
	}
	log.Info("forests read", "mailboxes", len(scope.Mailboxes), "nested_groups", len(scope.NestedGroups),
		"source_elapsed", sdur.Round(time.Millisecond), "target_objects", len(entries), "target_elapsed", tdur.Round(time.Millisecond))
	if e.OnRead != nil {
		e.OnRead(plan.ForestSource, sdur)
		e.OnRead(plan.ForestTarget, tdur)
	}
	if len(scope.Mailboxes) == 0 {
		return nil, fmt.Errorf("%w: the source returned no mailboxes in scope; check scope.group and scope.filter", directory.ErrUnsafePlan)
	}
	t2 := time.Now()
	p := plan.Build(scope.Mailboxes, e.Rules, entries, e.Diff)
	log.Debug("plan built", "elapsed", time.Since(t2).Round(time.Millisecond))
	p.Source = e.SourceName
	p.DryRun = true
	p.GeneratedAt = e.now().UTC()
	p.Warnings = append(p.Warnings, ScopeWarnings(scope)...)
	return p, nil
}

// ScopeWarnings reports what the source reader found but did not follow.
func ScopeWarnings(s *directory.Scope) []plan.Warning {
	var out []plan.Warning
	for _, g := range s.NestedGroups {
		out = append(out, plan.Warning{Code: "nested_group", Object: g.DN,
			Message: fmt.Sprintf("a nested group in the scope group: the move service does not expand nested groups, so its %d members are not in scope unless added directly", len(g.Members))})
	}
	for _, sk := range s.Skipped {
		out = append(out, plan.Warning{Code: "not_a_mailbox", Object: sk.DN, Message: sk.Reason})
	}
	return out
}

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

func (e *Engine) logger() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}
