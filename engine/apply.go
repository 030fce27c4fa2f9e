package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	RunID   int64 `json:"run_id"`
	Planned int   `json:"planned"`
	Applied int   `json:"applied"`
	// Failed counts the writes tried that are not known to have been applied: refused (by the
	// directory or the writer's guards) or, for Unknown of them, sent with the answer lost.
	Failed int `json:"failed"`
	// Unknown counts the writes of Failed whose answer was lost with the connection
	// (directory.ErrOutcomeUnknown): they may have been applied; the journal says unknown
	// until the directory is read.
	Unknown  int `json:"unknown"`
	NotTried int `json:"not_tried"`
	Summary  plan.Summary
}

// ErrPartial is returned (wrapped, joined with the per-object errors) when some changes failed.
var ErrPartial = errors.New("some changes failed")

// Apply writes the plan's changes with up to Target.Connections() in parallel. Every write has
// exactly one intent and one outcome in the journal. Per-object failures do not stop the run;
// a journal failure or a cancelled context does (writes in flight finish and are journaled).
//
// So does a directory the writer cannot reach (directory.ErrConnection: it gave up
// reconnecting): the run stops once, the changes it stopped are journaled as not sent and the
// writes whose answer was lost as outcome unknown, one line is logged, and the error is one
// ConnectionLostError with the counts, not a failure per object. Every error Apply returns
// for a run it started is a *RunError, whose message is short (MaxRunErrorLen).
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
	if info.DCs == (DCs{}) {
		info.DCs = e.DCs
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

	started := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := max(1, e.Target.Connections())
	r := &applyRun{e: e, log: log, ctx: ctx, cancel: cancel, journalCtx: context.WithoutCancel(ctx),
		runID: runID, total: len(work), size: 1}
	if g, ok := e.Journal.(GroupJournal); ok {
		r.grouped, r.size = g, groupSize
	}
	jobs := make(chan []plan.Change)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { r.worker(jobs) })
	}
feed:
	for _, c := range e.chunks(work, workers) {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.Unknown = int(r.unknown.Load())
	res.Applied, res.Failed = int(r.applied.Load()), int(r.failed.Load())+res.Unknown
	res.NotTried = len(work) - res.Applied - res.Failed
	elapsed := time.Since(started)
	log.Info("writes done", "applied", res.Applied, "failed", res.Failed, "unknown", res.Unknown, "not_tried", res.NotTried,
		"elapsed_seconds", elapsed.Seconds(), "per_second", float64(res.Applied+res.Failed)/max(elapsed.Seconds(), 1e-9))

	var lost error
	if r.lost != nil {
		lost = &ConnectionLostError{Forest: r.lostForest, Err: verdict(r.lost),
			Applied: res.Applied, Failed: res.Failed - res.Unknown, Unknown: res.Unknown, NotTried: res.NotTried}
	}
	switch {
	case r.fatal != nil:
		return finish(OutcomeFailed, &RunError{Reason: errors.Join(r.fatal, lost), Objects: r.errs})
	case lost != nil:
		// One error for the run: the per-object failures before the loss are journaled (and
		// logged), and the rest are the loss's consequence, not the objects'.
		return finish(OutcomeFailed, &RunError{Reason: lost})
	case res.NotTried > 0:
		cause := context.Cause(ctx)
		if cause == nil {
			cause = errors.New("the run stopped before every change was tried")
		}
		return finish(OutcomeFailed, &RunError{Reason: fmt.Errorf("%w; %d applied, %d failed, %d outcome unknown, %d not tried",
			cause, res.Applied, res.Failed-res.Unknown, res.Unknown, res.NotTried), Objects: r.errs})
	case res.Failed > 0 && res.Applied == 0:
		return finish(OutcomeFailed, &RunError{Reason: r.partial(res), Objects: r.errs})
	case res.Failed > 0:
		return finish(OutcomePartial, &RunError{Reason: r.partial(res), Objects: r.errs})
	}
	return finish(OutcomeOK, nil)
}

// partial is the reason of a run some of whose changes failed: ErrPartial, with the counts.
func (r *applyRun) partial(res Result) error {
	if res.Unknown > 0 {
		return fmt.Errorf("%w: %d of %d (%d of them with the outcome unknown)", ErrPartial, res.Failed, res.Planned, res.Unknown)
	}
	return fmt.Errorf("%w: %d of %d", ErrPartial, res.Failed, res.Planned)
}

// Prepared writes the changes of a chunk whose compare-and-set state was read in one operation.
// It is an alias of an interface literal so that an adapter can return the identical type
// without importing the engine.
type Prepared = interface {
	Apply(ctx context.Context, i int) (objectGUID string, err error)
}

// Preparer is implemented by a Target that can re-read the state of a chunk of changes in one
// server operation (writer.Client): a chunk then costs one read plus one write per change
// instead of a read and a write per change. Prepare writes nothing; Prepared.Apply(i) writes
// cs[i] with the same compare-and-set as Target.Apply.
type Preparer interface {
	Prepare(ctx context.Context, cs []plan.Change) (Prepared, error)
}

// GroupJournal is implemented by a Journal that can commit the outcomes of several changes and
// the intents of the next ones in one transaction (journal.Store, through internal/app). A
// worker then pays one commit (one fsync) per group of writes instead of one or two per write;
// every intent still commits before its write and every outcome after its own. If the
// transaction fails, no row of it may have been committed. It returns next's change ids.
type GroupJournal interface {
	RecordGroup(ctx context.Context, outcomes []Outcome, runID int64, next []plan.Change) (nextIDs []int64, err error)
}

// Outcome is the result of one journaled change's write.
type Outcome struct {
	ChangeID   int64
	ObjectGUID string
	Err        error
}

// maxChunk is the most changes handed to one Prepare. It matches writer.ChunkSize; a writer
// that takes fewer must refuse, and the chunk then falls back to Apply per change.
const maxChunk = 50

// chunks splits the work into the units a worker takes: single changes for writers that
// cannot prepare, and runs of consecutive changes to one forest for those that can, small
// enough that every worker gets some of a small plan.
func (e *Engine) chunks(work []plan.Change, workers int) [][]plan.Change {
	size := min(maxChunk, max(1, (len(work)+workers-1)/workers))
	var out [][]plan.Change
	for i := 0; i < len(work); {
		j := i + 1
		if _, ok := e.writerFor(work[i]).(Preparer); ok {
			for j < len(work) && j-i < size && work[j].Forest == work[i].Forest {
				j++
			}
		}
		out = append(out, work[i:j:j])
		i = j
	}
	return out
}

// prepare returns how the worker writes change i of chunk: through one Prepare of the whole
// chunk when its writer can, else (or when the chunk read fails) through Apply per change,
// which reads each object again. A failed chunk read loses no change: each is still tried,
// journaled and compare-and-set on its own. Unless the read failed because the directory is
// unreachable (directory.ErrConnection): lost is then that error, and the run must stop.
func (e *Engine) prepare(ctx context.Context, log *slog.Logger, chunk []plan.Change) (write func(context.Context, int) (string, error), backfill func(context.Context) (map[int]string, error), lost error) {
	w := e.writerFor(chunk[0])
	each := func(ctx context.Context, i int) (string, error) { return w.Apply(ctx, chunk[i]) }
	p, ok := w.(Preparer)
	if !ok {
		return each, nil, nil
	}
	prep, err := p.Prepare(ctx, chunk)
	if err != nil {
		if errors.Is(err, directory.ErrConnection) {
			return each, nil, err
		}
		if ctx.Err() == nil {
			log.Warn("chunk re-read failed; re-reading each change", "changes", len(chunk), "first_dn", chunk[0].DN, "err", err)
		}
		return each, nil, nil
	}
	if b, ok := prep.(GUIDBackfill); ok {
		backfill = b.CreatedGUIDs
	}
	return prep.Apply, backfill, nil
}

// GUIDBackfill is implemented by a Prepared whose creates do not read their new objectGUID back
// one by one: after the chunk, CreatedGUIDs reads them all in one search (by change index).
type GUIDBackfill interface {
	CreatedGUIDs(ctx context.Context) (map[int]string, error)
}

// GUIDJournal is implemented by a Journal that can record objectGUIDs learned after the
// outcomes were journaled (journal.Store, through internal/app).
type GUIDJournal interface {
	SetObjectGUIDs(ctx context.Context, guids map[int64]string) error
}

// backfillGUIDs journals the objectGUIDs of the objects a chunk created. They are informative
// (every decision re-reads the directory), so a failure is logged, not fatal.
func (e *Engine) backfillGUIDs(ctx context.Context, log *slog.Logger, backfill func(context.Context) (map[int]string, error), ids []int64) {
	gj, ok := e.Journal.(GUIDJournal)
	if !ok {
		return
	}
	got, err := backfill(ctx)
	if err != nil {
		log.Warn("could not read the new objects' objectGUIDs; the journal lacks them", "err", err)
		return
	}
	byID := make(map[int64]string, len(got))
	for i, g := range got {
		if i >= 0 && i < len(ids) && ids[i] != 0 {
			byID[ids[i]] = g
		}
	}
	if err := gj.SetObjectGUIDs(ctx, byID); err != nil {
		log.Warn("could not journal the new objects' objectGUIDs", "err", err)
	}
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
