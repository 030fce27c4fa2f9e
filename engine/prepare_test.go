package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// fakePreparer is a fakeTarget that also reads chunks: Prepare logs "prepare <dn>" for each
// change of the chunk in the shared journal log, and the chunk's Apply(i) goes through the
// fakeTarget's Apply, which checks the intent was journaled first.
type fakePreparer struct {
	*fakeTarget
	failPrepare bool
	prepareErr  error // the error of a failed Prepare (default: "chunk read failed")

	prepares atomic.Int64
	viaChunk atomic.Int64

	pmu      sync.Mutex
	chunks   [][]string          // the DNs of every chunk prepared
	prepared map[string]int      // dn -> times prepared
	forests  map[string][]string // forest -> DNs prepared for it
}

func newPreparer(t *testing.T, conns int) (*engine.Engine, *fakeJournal, *fakePreparer) {
	e, j, tg := newEngine(t, conns)
	p := &fakePreparer{fakeTarget: tg, prepared: map[string]int{}, forests: map[string][]string{}}
	e.Target = p
	return e, j, p
}

var _ engine.Preparer = (*fakePreparer)(nil)

func (f *fakePreparer) Prepare(_ context.Context, cs []plan.Change) (engine.Prepared, error) {
	f.prepares.Add(1)
	if len(cs) == 0 || len(cs) > 50 {
		f.t.Errorf("Prepare of %d changes", len(cs))
	}
	dns := make([]string, len(cs))
	for i, c := range cs {
		dns[i] = c.DN
		if f.j.index("apply "+c.DN) >= 0 {
			f.t.Errorf("Prepare(%s) after its write: the chunk read must come before the chunk's writes", c.DN)
		}
		f.j.record("prepare " + c.DN)
	}
	f.pmu.Lock()
	f.chunks = append(f.chunks, dns)
	for _, c := range cs {
		f.prepared[c.DN]++
		f.forests[c.Forest] = append(f.forests[c.Forest], c.DN)
	}
	f.pmu.Unlock()
	if f.failPrepare {
		if f.prepareErr != nil {
			return nil, f.prepareErr
		}
		return nil, errors.New("chunk read failed")
	}
	return &fakeChunk{f: f, cs: cs}, nil
}

type fakeChunk struct {
	f  *fakePreparer
	cs []plan.Change
}

func (c *fakeChunk) Apply(ctx context.Context, i int) (string, error) {
	c.f.viaChunk.Add(1)
	return c.f.fakeTarget.Apply(ctx, c.cs[i])
}

// With a target that prepares, changes go in chunks: one read per chunk, and still exactly one
// intent before and one outcome after every write; the read itself is not journaled.
func TestApply_PreparerReadsChunksAndJournalsEachWrite(t *testing.T) {
	e, j, p := newPreparer(t, 2)
	res, err := e.Apply(context.Background(), info, testPlan(130), engine.Options{})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res.Applied != 130 || res.Failed != 0 || res.NotTried != 0 {
		t.Errorf("result %+v", res)
	}
	checkJournalPairs(t, j, p.fakeTarget)
	if n := p.viaChunk.Load(); n != 130 {
		t.Errorf("%d writes through the prepared chunks, want all 130", n)
	}
	if n := p.prepares.Load(); n < 3 || n > 5 {
		t.Errorf("%d chunk reads for 130 changes, want 3 to 5 (at most 50 each)", n)
	}
	for i := range 130 {
		dn := dnOf(i)
		if p.prepared[dn] != 1 {
			t.Errorf("%s prepared %d times, want 1", dn, p.prepared[dn])
		}
		if iP, iW := j.index("prepare "+dn), j.index("apply "+dn); iP < 0 || iP > iW {
			t.Errorf("%s: prepared at %d, written at %d; want the read before the write", dn, iP, iW)
		}
	}
	if got := len(j.intent); got != 130 {
		t.Errorf("%d intents for 130 writes: the chunk read was journaled or a write was not", got)
	}
}

// A small plan is still spread over every connection.
func TestApply_PreparerSmallPlanUsesEveryWorker(t *testing.T) {
	e, _, p := newPreparer(t, 2)
	if _, err := e.Apply(context.Background(), info, testPlan(6), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	if n := p.prepares.Load(); n != 2 {
		t.Errorf("6 changes on 2 connections read in %d chunks, want 2 of 3", n)
	}
}

// A chunk read that fails loses nothing: each change of the chunk is applied on its own (the
// writer reads it again), journaled as usual.
func TestApply_FailedChunkReadFallsBackToEachChange(t *testing.T) {
	e, j, p := newPreparer(t, 2)
	p.failPrepare = true
	p.fail = map[string]bool{dnOf(3): true}
	res, err := e.Apply(context.Background(), info, testPlan(12), engine.Options{})
	if !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("Apply: %v, want the one stale change reported", err)
	}
	if res.Applied != 11 || res.Failed != 1 || res.NotTried != 0 {
		t.Errorf("result %+v, want 11 applied and 1 failed", res)
	}
	if n := p.viaChunk.Load(); n != 0 {
		t.Errorf("%d writes through a chunk whose read failed", n)
	}
	checkJournalPairs(t, j, p.fakeTarget)
}

// A cancel in the middle of a chunk stops it there: the write in flight finishes; the next change,
// whose intent was journaled while that write was in flight, is not sent and its outcome says so;
// the chunk's other changes are neither journaled nor written. Both count as not tried.
func TestApply_CancelStopsTheChunk(t *testing.T) {
	e, j, p := newPreparer(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.hook = func(_ context.Context, n int64, _ plan.Change) {
		if n == 4 {
			cancel()
		}
	}
	res, err := e.Apply(ctx, info, testPlan(30), engine.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply: %v, want context.Canceled", err)
	}
	if res.Applied != 4 || res.NotTried != 26 {
		t.Errorf("result %+v, want 4 applied (the one in flight finishes) and 26 not tried", res)
	}
	// user04's intent is committed during user03's write unless the cancel is seen first: either
	// it is not journaled at all, or it is journaled as not sent. It is never written.
	if j.index("intent "+dnOf(4)) >= 0 && !errors.Is(j.errs[dnOf(4)], directory.ErrNotSent) {
		t.Errorf("%s: intent journaled, outcome %v; want not sent", dnOf(4), j.errs[dnOf(4)])
	}
	for i := 5; i < 30; i++ {
		if j.index("intent "+dnOf(i)) >= 0 {
			t.Errorf("%s journaled after the cancel", dnOf(i))
		}
	}
	checkJournalPairs(t, j, p.fakeTarget)
}

// A journal failure on one change of a chunk stops the run: that change is not written, nor is
// any after it. Its intent is journaled while the write before it is in flight, so the stop
// can also land before that write is sent: it is then journaled as not sent.
func TestApply_IntentErrorStopsTheChunk(t *testing.T) {
	e, j, p := newPreparer(t, 1)
	down := errors.New("disk I/O error")
	j.intentErr = func(c plan.Change) error {
		if c.DN == dnOf(2) {
			return down
		}
		return nil
	}
	res, err := e.Apply(context.Background(), info, testPlan(10), engine.Options{})
	if !errors.Is(err, down) {
		t.Fatalf("Apply: %v, want the journal error", err)
	}
	got := p.appliedDNs()
	if !slices.Equal(got, []string{dnOf(0), dnOf(1)}) && !slices.Equal(got, []string{dnOf(0)}) {
		t.Errorf("written %v, want only changes before the journal failed", got)
	}
	if len(got) == 1 && !errors.Is(j.errs[dnOf(1)], directory.ErrNotSent) {
		t.Errorf("%s not written, outcome %v; want not sent", dnOf(1), j.errs[dnOf(1)])
	}
	if res.Applied != len(got) || res.NotTried != 10-len(got) {
		t.Errorf("result %+v, %d written", res, len(got))
	}
	checkJournalPairs(t, j, p.fakeTarget)
}

// Source-forest changes go to the source writer, and a chunk never holds both forests.
func TestApply_ChunksNeverMixForests(t *testing.T) {
	e, j, p := newPreparer(t, 2)
	src := &fakePreparer{fakeTarget: &fakeTarget{t: t, j: j, conns: 1}, prepared: map[string]int{}, forests: map[string][]string{}}
	e.SourceWriter = src
	pl := testPlan(40)
	for i := range pl.Changes {
		if i%10 >= 5 && pl.Changes[i].Action != plan.Unchanged && pl.Changes[i].Action != plan.Conflict {
			pl.Changes[i].Forest = plan.ForestSource
		}
	}
	res, err := e.Apply(context.Background(), info, pl, engine.Options{})
	if err != nil || res.Applied != 40 {
		t.Fatalf("Apply: %+v, %v", res, err)
	}
	if len(p.forests[plan.ForestSource]) != 0 || len(src.forests[plan.ForestTarget])+len(src.forests[""]) != 0 {
		t.Errorf("target prepared %d source changes; source prepared %d target changes",
			len(p.forests[plan.ForestSource]), len(src.forests[plan.ForestTarget])+len(src.forests[""]))
	}
	if n := len(src.forests[plan.ForestSource]); n != 20 {
		t.Errorf("source writer prepared %d changes, want 20", n)
	}
	for _, ch := range append(slices.Clone(p.chunks), src.chunks...) {
		forest := map[bool]int{}
		for _, dn := range ch {
			var n int
			fmt.Sscanf(strings.TrimPrefix(dn, "CN=user"), "%d", &n)
			forest[n%10 >= 5]++
		}
		if len(forest) != 1 {
			t.Errorf("chunk %v mixes forests", ch)
		}
	}
}

// fakeGrouped is a fakeJournal that commits outcomes and intents in groups; when one intent of
// a group would fail, nothing of it is recorded (the transaction rolls back).
type fakeGrouped struct {
	*fakeJournal
	gmu     sync.Mutex
	commits int   // RecordGroup calls
	sizes   []int // intents per call
	outs    []int // outcomes per call
}

var _ engine.GroupJournal = (*fakeGrouped)(nil)

func (j *fakeGrouped) RecordGroup(ctx context.Context, outs []engine.Outcome, runID int64, next []plan.Change) ([]int64, error) {
	if j.intentErr != nil {
		for _, c := range next {
			if err := j.intentErr(c); err != nil {
				j.record("group-failed " + c.DN)
				return nil, err
			}
		}
	}
	j.gmu.Lock()
	j.commits++
	j.sizes = append(j.sizes, len(next))
	j.outs = append(j.outs, len(outs))
	j.gmu.Unlock()
	for _, o := range outs {
		if err := j.RecordOutcome(ctx, o.ChangeID, o.ObjectGUID, o.Err); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(next))
	for i, c := range next {
		var err error
		if ids[i], err = j.RecordIntent(ctx, runID, c); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func newGrouped(t *testing.T, conns int) (*engine.Engine, *fakeGrouped, *fakePreparer) {
	e, j, p := newPreparer(t, conns)
	gj := &fakeGrouped{fakeJournal: j}
	e.Journal = gj
	return e, gj, p
}

// With a journal that groups, a worker commits the intents of its next 8 writes together with
// the outcomes of its last 8 while the 8 in between are in flight: about one commit per 8
// writes instead of one per write, and still one intent before and one outcome after each.
func TestApply_GroupJournalCommitsEightWritesAtATime(t *testing.T) {
	e, j, p := newGrouped(t, 2)
	res, err := e.Apply(context.Background(), info, testPlan(130), engine.Options{})
	if err != nil || res.Applied != 130 {
		t.Fatalf("Apply: %+v, %v", res, err)
	}
	checkJournalPairs(t, j.fakeJournal, p.fakeTarget)
	// per chunk of k groups: the first group's intents, then one commit per group after it
	// plus one for the last group's outcomes; per worker, the last outcomes on their own
	most := 2
	for _, ch := range p.chunks {
		most += 2 + (len(ch)-1)/8
	}
	if j.commits > most || j.commits > 130/4 {
		t.Errorf("%d commits for 130 writes in %d chunks, want at most %d", j.commits, len(p.chunks), most)
	}
	for i := range j.sizes {
		if j.sizes[i] > 8 || j.outs[i] > 8 || j.sizes[i]+j.outs[i] == 0 {
			t.Errorf("commit %d: %d intents and %d outcomes, want 1 to 8 of each", i, j.sizes[i], j.outs[i])
		}
	}
}

// A group of intents that cannot be journaled stops the run: none of that group is written,
// and the writes before it keep their outcomes. Its commit runs while the group before it is
// in flight, so the stop lands somewhere in that group: what is not sent yet of it is journaled
// as not sent.
func TestApply_GroupIntentFailureKeepsTheOutcomesBefore(t *testing.T) {
	e, j, p := newGrouped(t, 1)
	down := errors.New("disk I/O error")
	j.intentErr = func(c plan.Change) error {
		if c.DN == dnOf(10) {
			return down
		}
		return nil
	}
	res, err := e.Apply(context.Background(), info, testPlan(30), engine.Options{})
	if !errors.Is(err, down) || !strings.Contains(err.Error(), "intents for "+dnOf(8)) {
		t.Fatalf("Apply: %v, want the journal error for the group from %s", err, dnOf(8))
	}
	got := p.appliedDNs()
	for i := range 30 {
		dn := dnOf(i)
		switch {
		case i < len(got):
			if got[i] != dn || j.outcomes(dn) != 1 || j.errs[dn] != nil {
				t.Errorf("write %d is %s with %d outcomes (%v), want %s applied", i, got[i], j.outcomes(dn), j.errs[dn], dn)
			}
		case i < 8:
			if !errors.Is(j.errs[dn], directory.ErrNotSent) {
				t.Errorf("%s of the group in flight: outcome %v, want not sent", dn, j.errs[dn])
			}
		case j.hasIntent(dn):
			t.Errorf("%s journaled: its group's intents failed, or come after them", dn)
		}
	}
	if len(got) > 8 || res.Applied != len(got) || res.NotTried != 30-len(got) {
		t.Errorf("result %+v, %d written", res, len(got))
	}
	checkJournalPairs(t, j.fakeJournal, p.fakeTarget)
}

// A cancel during a write: that write's outcome is journaled; the rest of its group and the next
// group, whose intents were committed while the group was in flight, are journaled as not sent;
// no later change is journaled. None of them is written.
func TestApply_GroupCancelJournalsTheRestNotSent(t *testing.T) {
	e, j, p := newGrouped(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.hook = func(_ context.Context, n int64, _ plan.Change) {
		if n == 4 {
			cancel()
		}
	}
	res, err := e.Apply(ctx, info, testPlan(30), engine.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply: %v", err)
	}
	if res.Applied != 4 || res.Failed != 0 || res.NotTried != 26 {
		t.Errorf("result %+v, want 4 applied (user00..user03: the write in flight finishes) and 26 not tried", res)
	}
	for i := 4; i < 30; i++ {
		switch {
		case i < 16 && j.hasIntent(dnOf(i)) && !errors.Is(j.errs[dnOf(i)], directory.ErrNotSent):
			t.Errorf("%s: intent journaled, outcome %v; want not sent", dnOf(i), j.errs[dnOf(i)])
		case i >= 16 && j.hasIntent(dnOf(i)):
			t.Errorf("%s journaled after the cancel", dnOf(i))
		}
	}
	if got := p.appliedDNs(); len(got) != 4 {
		t.Errorf("written %v, want the first 4 only", got)
	}
	checkJournalPairs(t, j.fakeJournal, p.fakeTarget)
}
