// Package engine orchestrates a run: read the source scope, map, read the target, diff into a
// plan, and apply the plan with a write-ahead journal. It owns the small interfaces it consumes
// and imports no adapter.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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
