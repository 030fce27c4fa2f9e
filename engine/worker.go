package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// groupSize is how many changes a worker journals per commit with a GroupJournal: the intents
// of its next 8 writes and the outcomes of its last 8 commit in one transaction while the 8
// writes in between are in flight. It divides the journal's fsyncs by 8. The price is on a
// stop: the changes whose intents are committed but that were not yet sent, at most two groups
// per connection (16; 2 for a Journal that cannot group, whose groups are of 1), are journaled as
// not sent.
const groupSize = 8

// applyRun is the shared state of one Apply's workers.
type applyRun struct {
	e          *Engine
	log        *slog.Logger
	ctx        context.Context // cancelled when the run stops
	cancel     context.CancelCauseFunc
	journalCtx context.Context // ctx without its cancel: what was done is journaled even after a stop
	runID      int64
	total      int
	grouped    GroupJournal // nil: the journal records one row at a time
	size       int          // changes journaled per commit

	done, applied, failed, unknown atomic.Int64

	mu         sync.Mutex
	errs       []error // per-object failures
	fatal      error   // journal failures: they stop the run
	lost       error   // the first directory.ErrConnection: it stopped the run
	lostForest string
}

// tried is a change the worker has tried (or, after a stop, decided not to send), its outcome
// not journaled yet.
type tried struct {
	c    plan.Change
	id   int64
	guid string
	err  error
}

// stop records a journal failure and stops the run.
func (r *applyRun) stop(err error) {
	r.mu.Lock()
	r.fatal = errors.Join(r.fatal, err)
	r.mu.Unlock()
	r.cancel(err)
}

// connectionLost stops the run because a forest's directory is unreachable: once, logged once,
// whichever write or read saw it first. Writes already sent finish (the writer bounds them by
// its timeout); nothing more is sent.
func (r *applyRun) connectionLost(forest string, err error) {
	if forest == "" {
		forest = plan.ForestTarget
	}
	r.mu.Lock()
	first := r.lost == nil
	if first {
		r.lost, r.lostForest = err, forest
	}
	r.mu.Unlock()
	// Every caller cancels (the first cause stays): one that returned before the first had
	// cancelled would send its next write.
	r.cancel(fmt.Errorf("the run stopped: %s forest: %w", forest, verdict(err)))
	if first {
		r.log.Error("directory unreachable: the run stops; the changes not sent are journaled as such", "forest", forest, "err", verdict(err))
	}
}

func (r *applyRun) lostConnection() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost != nil
}

// worker applies chunks until jobs closes. Within a chunk it goes group by group: while the
// writes of group g are in flight, one commit journals the outcomes of group g-1 and the
// intents of group g+1. The outcomes of a chunk's last group go with the first intents of the
// worker's next chunk, or alone when the worker is done.
func (r *applyRun) worker(jobs <-chan []plan.Change) {
	var outs []tried // written, outcome not journaled yet
	defer func() { r.commit(outs, nil) }()
	for chunk := range jobs {
		if r.ctx.Err() != nil {
			continue // the run stopped: nothing more starts (counted as not tried)
		}
		// The chunk's read and the commit of its first group's intents (with the outcomes left
		// from the worker's last chunk) run at once: neither needs the other, and while this
		// worker waited for a commit alone, the directory had only the other worker's requests
		// and idled between them.
		ids := make([]int64, len(chunk)) // each change's intent; 0: not journaled, not tried
		prev, first := outs, chunk[:min(r.size, len(chunk))]
		committed := make(chan struct{})
		go func() {
			defer close(committed)
			copy(ids, r.commit(prev, first))
		}()
		write, backfill, lost := r.e.prepare(r.ctx, r.log, chunk)
		if lost != nil {
			r.connectionLost(chunk[0].Forest, lost)
		}
		<-committed
		outs = nil
		for g := 0; g < len(chunk) && ids[g] != 0; g += r.size {
			end := min(g+r.size, len(chunk))
			next := chunk[end:min(end+r.size, len(chunk))]
			// The commit runs on a goroutine of its own, started before the writes: the worker
			// sends at once, and the commit gets the CPU while the worker waits for the
			// directory (the other way round, each write waited for the commit's CPU work).
			prev := outs
			var nextIDs []int64
			committed := make(chan struct{})
			go func() {
				defer close(committed)
				nextIDs = r.commit(prev, next)
			}()
			outs = r.writeGroup(write, chunk, ids, g, end)
			<-committed
			copy(ids[end:], nextIDs)
		}
		if backfill != nil && !r.lostConnection() {
			// (With the directory lost it would only wait for it again; recovery learns them.)
			r.e.backfillGUIDs(r.journalCtx, r.log, backfill, ids)
		}
	}
}

// writeGroup writes chunk[from:to] (those with a journaled intent) and returns what it tried.
func (r *applyRun) writeGroup(write func(context.Context, int) (string, error), chunk []plan.Change, ids []int64, from, to int) []tried {
	var out []tried
	for i := from; i < to && ids[i] != 0; i++ {
		t := tried{c: chunk[i], id: ids[i]}
		if cerr := context.Cause(r.ctx); cerr != nil {
			// Its intent was journaled before the run stopped: nothing is sent, and its
			// outcome says so.
			t.err = fmt.Errorf("%w (%w)", directory.ErrNotSent, cerr)
		} else {
			t.guid, t.err = write(r.ctx, i)
			if errors.Is(t.err, directory.ErrConnection) {
				r.connectionLost(t.c.Forest, t.err)
			}
		}
		out = append(out, t)
	}
	return out
}

// commit journals the outcomes of outs and, unless the run has stopped, the intents of next,
// then counts outs. It returns next's change ids, 0 for each intent not journaled. Any journal
// failure stops the run.
func (r *applyRun) commit(outs []tried, next []plan.Change) []int64 {
	ids := make([]int64, len(next))
	if r.ctx.Err() != nil {
		next = nil
	}
	if len(outs)+len(next) == 0 {
		return ids
	}
	if r.grouped != nil {
		group := make([]Outcome, len(outs))
		for i, t := range outs {
			group[i] = Outcome{ChangeID: t.id, ObjectGUID: t.guid, Err: t.err}
		}
		nids, err := r.grouped.RecordGroup(r.journalCtx, group, r.runID, next)
		if err == nil {
			for _, t := range outs {
				r.report(t)
			}
			if len(nids) != len(next) { // a broken journal: write nothing more
				r.stop(fmt.Errorf("journal: %d change ids for %d intents", len(nids), len(next)))
				return ids
			}
			copy(ids, nids)
			return ids
		}
		// Nothing was committed. The outcomes on their own tell which part failed, and journal
		// the writes as the ungrouped path would have.
		if r.outcomes(outs) && len(next) > 0 {
			r.stop(fmt.Errorf("journal: intents for %s and the %d changes after it: %w", next[0].DN, len(next)-1, err))
		}
		return ids
	}
	r.outcomes(outs)
	for i, c := range next {
		if r.ctx.Err() != nil {
			break
		}
		id, err := r.e.Journal.RecordIntent(r.journalCtx, r.runID, c)
		if err != nil {
			r.stop(fmt.Errorf("journal: intent for %s: %w", c.DN, err))
			break
		}
		ids[i] = id
	}
	return ids
}

// outcomes journals each outcome on its own and counts it; false when one could not be
// journaled (the run is stopped).
func (r *applyRun) outcomes(outs []tried) bool {
	ok := true
	for _, t := range outs {
		if err := r.e.Journal.RecordOutcome(r.journalCtx, t.id, t.guid, t.err); err != nil {
			r.stop(fmt.Errorf("journal: outcome for %s: %w", t.c.DN, err))
			ok = false
			continue
		}
		r.report(t)
	}
	return ok
}

// report counts the write of t once its outcome is journaled.
func (r *applyRun) report(t tried) {
	if errors.Is(t.err, directory.ErrNotSent) {
		return // not tried: journaled as such, counted with the changes never started
	}
	if r.e.OnWrite != nil {
		r.e.OnWrite(t.c, t.err)
	}
	if t.err != nil {
		if errors.Is(t.err, directory.ErrOutcomeUnknown) {
			r.unknown.Add(1)
			r.log.Warn("write outcome unknown: the connection failed after it was sent", "action", t.c.Action, "dn", t.c.DN, "err", t.err)
		} else {
			r.failed.Add(1)
			r.log.Warn("write failed", "action", t.c.Action, "dn", t.c.DN, "err", t.err)
		}
		r.mu.Lock()
		r.errs = append(r.errs, &directory.ObjectError{DN: t.c.DN, Op: string(t.c.Action), Err: t.err})
		r.mu.Unlock()
	} else {
		r.applied.Add(1)
		r.log.Debug("written", "action", t.c.Action, "dn", t.c.DN, "object_guid", t.guid)
	}
	if r.e.Progress != nil {
		r.e.Progress(int(r.done.Add(1)), r.total)
	}
}
