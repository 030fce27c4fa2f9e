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
	// DCs are the domain controllers the run's connections go to (filled from Engine.DCs).
	DCs DCs
}

// DCs names the domain controller of each forest a run uses, as the journal records it.
type DCs struct{ Source, Target string }

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
	// DCs are the domain controllers the engine's connections go to, recorded on each run.
	DCs DCs
	// Progress, when set, is called after each applied change.
	Progress func(done, total int)
	// OnRead and OnWrite, when set, observe reads of each forest and every write (metrics).
	OnRead  func(forest string, d time.Duration)
	OnWrite func(c plan.Change, err error)
	// HoldBudget bounds, in bytes, the target objects held while the source is still being
	// read (0: DefaultHoldBudget).
	HoldBudget int
	// SourceName is shown in plans.
	SourceName string
	Now        func() time.Time
}

// MailboxStreamer is a Source that hands mailboxes over one at a time, so the plan never holds
// them all (ldapsrc.Reader).
type MailboxStreamer interface {
	EachMailbox(ctx context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error)
}

// EntryStreamer is a Target that hands its objects over one at a time (writer.Client).
type EntryStreamer interface {
	EachEntry(ctx context.Context, fn func(*directory.Entry) error) error
}

// DefaultHoldBudget bounds the target objects a plan holds while the source is still being
// read; past it the target read waits for the source.
const DefaultHoldBudget = 8 << 20

// Plan reads both forests and returns the plan. The forests are read at the same time and fed
// to a plan.Builder as they arrive: memory grows with the scope, not with the target forest.
// Target objects that arrive before the last source are held (packed) up to HoldBudget bytes;
// then the target read pauses until the source is read. A source that returns no mailbox is
// refused (directory.ErrUnsafePlan): an empty scope is far more often a broken filter than intent.
// Either read failing ends the other: a target that cannot be read (a lost DC,
// directory.ErrConnection) fails the plan at once, as one error, not after the whole source.
func (e *Engine) Plan(ctx context.Context) (*plan.Plan, error) {
	log := e.logger()
	b := plan.NewBuilder(e.Rules, e.Diff)
	budget := e.HoldBudget
	if budget <= 0 {
		budget = DefaultHoldBudget
	}
	var (
		mu      sync.Mutex
		srcDone = make(chan struct{})
		nTarget int
		terr    error
		tdur    time.Duration
		waited  time.Duration
		wg      sync.WaitGroup
	)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sctx, stopSource := context.WithCancelCause(ctx)
	defer stopSource(nil)
	errTargetFailed := errors.New("the target read failed")
	wg.Go(func() {
		t1 := time.Now()
		terr = eachEntry(tctx, e.Target, func(en *directory.Entry) error {
			mu.Lock()
			b.AddTarget(en)
			nTarget++
			full := b.HeldBytes() > budget
			mu.Unlock()
			if full {
				t := time.Now()
				select {
				case <-srcDone:
				case <-tctx.Done():
					return tctx.Err()
				}
				waited += time.Since(t)
			}
			return nil
		})
		tdur = time.Since(t1)
		if terr != nil && tctx.Err() == nil {
			stopSource(errTargetFailed) // no plan without the target: the source read stops too
		}
	})
	t0 := time.Now()
	nSource := 0
	scope, err := eachMailbox(sctx, e.Source, func(m *directory.Mailbox) error {
		mu.Lock()
		b.AddSource(m)
		mu.Unlock()
		nSource++
		return nil
	})
	sdur := time.Since(t0)
	mu.Lock()
	b.SourcesDone()
	mu.Unlock()
	close(srcDone)
	if err != nil {
		cancel()
		wg.Wait()
		if ctx.Err() == nil && errors.Is(context.Cause(sctx), errTargetFailed) {
			return nil, fmt.Errorf("read target: %w", terr)
		}
		return nil, fmt.Errorf("read source: %w", err)
	}
	if nSource == 0 {
		cancel()
		wg.Wait()
		return nil, fmt.Errorf("%w: the source returned no mailboxes in scope; check scope.group and scope.filter", directory.ErrUnsafePlan)
	}
	wg.Wait()
	if terr != nil {
		return nil, fmt.Errorf("read target: %w", terr)
	}
	log.Info("forests read", "mailboxes", nSource, "nested_groups", len(scope.NestedGroups),
		"source_elapsed", sdur.Round(time.Millisecond), "target_objects", nTarget, "target_elapsed", tdur.Round(time.Millisecond),
		"target_waited", waited.Round(time.Millisecond))
	if e.OnRead != nil {
		e.OnRead(plan.ForestSource, sdur)
		e.OnRead(plan.ForestTarget, tdur)
	}
	t2 := time.Now()
	p := b.Finish()
	log.Debug("plan built", "elapsed", time.Since(t2).Round(time.Millisecond))
	p.Source = e.SourceName
	p.DryRun = true
	p.GeneratedAt = e.now().UTC()
	p.Warnings = append(p.Warnings, ScopeWarnings(scope)...)
	return p, nil
}

func eachMailbox(ctx context.Context, s Source, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	if st, ok := s.(MailboxStreamer); ok {
		return st.EachMailbox(ctx, fn)
	}
	scope, err := s.Scope(ctx)
	if err != nil {
		return nil, err
	}
	for i := range scope.Mailboxes {
		if err := fn(&scope.Mailboxes[i]); err != nil {
			return nil, err
		}
	}
	rest := *scope
	rest.Mailboxes = nil
	return &rest, nil
}

func eachEntry(ctx context.Context, t Target, fn func(*directory.Entry) error) error {
	if st, ok := t.(EntryStreamer); ok {
		return st.EachEntry(ctx, fn)
	}
	entries, err := t.Entries(ctx)
	if err != nil {
		return err
	}
	for _, en := range entries {
		if err := fn(en); err != nil {
			return err
		}
	}
	return nil
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
	for _, r := range s.Referrals {
		out = append(out, plan.Warning{Code: "referral", Object: r, Message: ReferralFix})
	}
	for _, dn := range s.Elsewhere {
		out = append(out, plan.Warning{Code: "member_in_other_domain", Object: dn, Message: ElsewhereFix})
	}
	return out
}

// ElsewhereFix says what a scope group member outside source.base_dn means and what to do.
const ElsewhereFix = "a member of the scope group outside source.base_dn (another domain of the forest): it is not read, so it is neither prepared nor validated; give that domain a configuration of its own (its DCs and base_dn), or move the mailbox's account"

// ReferralFix says what a continuation reference to another domain means and what to do.
const ReferralFix = "the source directory referred part of the search to another domain; xtmsyncd does not follow referrals, so mailboxes there are not read: if mailboxes in that domain should move, point another configuration at that domain's DCs (its own source.base_dn), or narrow source.base_dn so the domain is not searched"

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
