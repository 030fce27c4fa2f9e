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

	started := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := max(1, e.Target.Connections())
	chunks := e.chunks(work, workers)
	jobs := make(chan []plan.Change)
	var (
		mu         sync.Mutex
		errs       []error
		fatal      error
		done       atomic.Int64
		applied    atomic.Int64
		failed     atomic.Int64
		wg         sync.WaitGroup
		journalCtx = context.WithoutCancel(ctx)
	)
	// stop records a journal failure and stops the run.
	stop := func(err error) {
		mu.Lock()
		fatal = errors.Join(fatal, err)
		mu.Unlock()
		cancel(err)
	}
	chained, _ := e.Journal.(ChainedJournal)
	// record journals the outcome of c (change id) and, when next is not nil and the run goes
	// on, the intent of *next in the same transaction. It returns next's change id, 0 when its
	// intent was not journaled.
	record := func(id int64, c plan.Change, guid string, aerr error, next *plan.Change) int64 {
		if chained != nil && next != nil && ctx.Err() == nil {
			nid, err := chained.RecordOutcomeAndIntent(journalCtx, id, guid, aerr, runID, *next)
			if err == nil {
				return nid
			}
			// Neither row was committed. The outcome on its own tells which half failed, and
			// journals the write as the unchained path would have.
			if oerr := e.Journal.RecordOutcome(journalCtx, id, guid, aerr); oerr != nil {
				stop(fmt.Errorf("journal: outcome for %s: %w", c.DN, oerr))
			} else {
				stop(fmt.Errorf("journal: intent for %s: %w", next.DN, err))
			}
			return 0
		}
		if err := e.Journal.RecordOutcome(journalCtx, id, guid, aerr); err != nil {
			stop(fmt.Errorf("journal: outcome for %s: %w", c.DN, err))
		}
		return 0
	}
	// report counts the write of c once its outcome is journaled.
	report := func(c plan.Change, guid string, aerr error) {
		if errors.Is(aerr, directory.ErrNotSent) {
			return // not tried: journaled as such, counted with the changes never started
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
	for range workers {
		wg.Go(func() {
			for chunk := range jobs {
				if ctx.Err() != nil {
					continue // the run stopped: nothing more starts (counted as not tried)
				}
				write, backfill := e.prepare(ctx, log, chunk)
				ids := make([]int64, len(chunk)) // each change's intent; 0: not journaled, not tried
				var err error
				if ids[0], err = e.Journal.RecordIntent(journalCtx, runID, chunk[0]); err != nil {
					stop(fmt.Errorf("journal: intent for %s: %w", chunk[0].DN, err))
					continue
				}
				// Each write overlaps the journal commit of the previous change's outcome and the
				// next change's intent (one transaction), so the commit is off the write's path:
				// every change still has its intent committed before it is sent and its outcome
				// after it returns. The commit runs on a goroutine of its own, started before the
				// write: the worker sends the write at once, and the commit gets the CPU while the
				// worker waits for the directory (the other way round, the write waited for the
				// commit's CPU work: 0.2 ms a write, measured).
				type written struct {
					i    int
					guid string
					err  error
				}
				var prev *written
				for i := range chunk {
					if ids[i] == 0 {
						break // the rest of the chunk is not tried
					}
					var next *plan.Change
					if i+1 < len(chunk) {
						next = &chunk[i+1]
					}
					journaled := make(chan struct{})
					go func(p *written) {
						defer close(journaled)
						if p != nil {
							nid := record(ids[p.i], chunk[p.i], p.guid, p.err, next)
							report(chunk[p.i], p.guid, p.err)
							if next != nil {
								ids[i+1] = nid
							}
						}
						if next != nil && ids[i+1] == 0 && (p == nil || chained == nil) && ctx.Err() == nil {
							// the first write of the chunk, or a journal that cannot chain
							var err error
							if ids[i+1], err = e.Journal.RecordIntent(journalCtx, runID, *next); err != nil {
								stop(fmt.Errorf("journal: intent for %s: %w", next.DN, err))
							}
						}
					}(prev)
					w := written{i: i}
					if cerr := context.Cause(ctx); cerr != nil {
						// Its intent was journaled while the previous write was in flight, then
						// the run stopped: nothing is sent, and its outcome says so.
						w.err = fmt.Errorf("%w (%w)", directory.ErrNotSent, cerr)
					} else {
						w.guid, w.err = write(ctx, i)
					}
					<-journaled
					prev = &w
				}
				if prev != nil {
					record(ids[prev.i], chunk[prev.i], prev.guid, prev.err, nil)
					report(chunk[prev.i], prev.guid, prev.err)
				}
				if backfill != nil {
					e.backfillGUIDs(journalCtx, log, backfill, ids)
				}
			}
		})
	}
feed:
	for _, c := range chunks {
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
	res.Applied, res.Failed = int(applied.Load()), int(failed.Load())
	res.NotTried = len(work) - res.Applied - res.Failed
	elapsed := time.Since(started)
	log.Info("writes done", "applied", res.Applied, "failed", res.Failed, "not_tried", res.NotTried,
		"elapsed_seconds", elapsed.Seconds(), "per_second", float64(res.Applied+res.Failed)/max(elapsed.Seconds(), 1e-9))

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

// ChainedJournal is implemented by a Journal that can commit the outcome of one change and the
// intent of the next in one transaction (journal.Store, through internal/app). A worker going
// straight on to the next change of its chunk then pays one commit (one fsync) per write instead
// of two; the intent still commits before its write and the outcome after its own. If the
// transaction fails, neither row may have been committed.
type ChainedJournal interface {
	RecordOutcomeAndIntent(ctx context.Context, changeID int64, objectGUID string, applyErr error, runID int64, next plan.Change) (nextID int64, err error)
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
// journaled and compare-and-set on its own.
func (e *Engine) prepare(ctx context.Context, log *slog.Logger, chunk []plan.Change) (write func(context.Context, int) (string, error), backfill func(context.Context) (map[int]string, error)) {
	w := e.writerFor(chunk[0])
	each := func(ctx context.Context, i int) (string, error) { return w.Apply(ctx, chunk[i]) }
	p, ok := w.(Preparer)
	if !ok {
		return each, nil
	}
	prep, err := p.Prepare(ctx, chunk)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("chunk re-read failed; re-reading each change", "changes", len(chunk), "first_dn", chunk[0].DN, "err", err)
		}
		return each, nil
	}
	if b, ok := prep.(GUIDBackfill); ok {
		backfill = b.CreatedGUIDs
	}
	return prep.Apply, backfill
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
