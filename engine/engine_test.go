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
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// ---- fakes -------------------------------------------------------------------------------

// fakeJournal records every call, in order, in one log shared with the fake target, so a test
// can check that the intent for a change commits before its write and the outcome after.
type fakeJournal struct {
	mu     sync.Mutex
	log    []string // "start", "intent <dn>", "apply <dn>", "outcome <dn>", "finish <outcome>"
	nextID int64
	byID   map[int64]string // change id -> dn
	intent map[string]int   // dn -> intents recorded
	out    map[string]int   // dn -> outcomes recorded
	errs   map[string]error // dn -> error recorded with the outcome

	info     engine.RunInfo
	started  int
	finished int
	outcome  string
	result   engine.Result
	runErr   error

	// intentErr, when set, makes RecordIntent fail for the changes it returns an error for.
	intentErr func(c plan.Change) error
}

func newJournal() *fakeJournal {
	return &fakeJournal{byID: map[int64]string{}, intent: map[string]int{}, out: map[string]int{}, errs: map[string]error{}}
}

func (j *fakeJournal) record(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *fakeJournal) StartRun(_ context.Context, r engine.RunInfo, _ *plan.Plan) (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.info = r
	j.started++
	j.log = append(j.log, "start")
	return 42, nil
}

func (j *fakeJournal) RecordIntent(_ context.Context, runID int64, c plan.Change) (int64, error) {
	if runID != 42 {
		return 0, fmt.Errorf("intent for run %d, want 42", runID)
	}
	if j.intentErr != nil {
		if err := j.intentErr(c); err != nil {
			j.record("intent-failed " + c.DN)
			return 0, err
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.nextID++
	j.byID[j.nextID] = c.DN
	j.intent[c.DN]++
	j.log = append(j.log, "intent "+c.DN)
	return j.nextID, nil
}

func (j *fakeJournal) RecordOutcome(_ context.Context, changeID int64, _ string, applyErr error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	dn, ok := j.byID[changeID]
	if !ok {
		return fmt.Errorf("outcome for unknown change %d", changeID)
	}
	j.out[dn]++
	j.errs[dn] = applyErr
	j.log = append(j.log, "outcome "+dn)
	return nil
}

func (j *fakeJournal) FinishRun(_ context.Context, runID int64, outcome string, s engine.Result, runErr error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished++
	j.outcome, j.result, j.runErr = outcome, s, runErr
	j.log = append(j.log, "finish "+outcome)
	return nil
}

func (j *fakeJournal) hasIntent(dn string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.intent[dn] > 0
}

func (j *fakeJournal) outcomes(dn string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.out[dn]
}

func (j *fakeJournal) index(entry string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Index(j.log, entry)
}

// fakeTarget applies changes in memory. It fails the test when a change arrives whose intent
// is not in the journal yet, and tracks how many Apply calls run at once.
type fakeTarget struct {
	t     *testing.T
	j     *fakeJournal
	conns int
	sleep time.Duration
	fail  map[string]bool // dn -> Apply fails
	// hook, when set, runs at the start of every Apply with its 1-based call number.
	hook func(ctx context.Context, n int64, c plan.Change)

	calls   atomic.Int64
	cur     atomic.Int64
	maxSeen atomic.Int64

	mu      sync.Mutex
	applied []string
}

func (f *fakeTarget) Entries(context.Context) ([]*directory.Entry, error) { return nil, nil }

func (f *fakeTarget) Connections() int { return f.conns }

func (f *fakeTarget) Apply(ctx context.Context, c plan.Change) (string, error) {
	n := f.calls.Add(1)
	if f.j != nil {
		if !f.j.hasIntent(c.DN) {
			f.t.Errorf("Apply(%s) called before its intent was journaled", c.DN)
		}
		if f.j.outcomes(c.DN) != 0 {
			f.t.Errorf("Apply(%s) called after its outcome was journaled", c.DN)
		}
		f.j.record("apply " + c.DN)
	}
	cur := f.cur.Add(1)
	for {
		m := f.maxSeen.Load()
		if cur <= m || f.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	defer f.cur.Add(-1)
	if f.hook != nil {
		f.hook(ctx, n, c)
	}
	if f.sleep > 0 {
		time.Sleep(f.sleep)
	}
	if f.fail[c.DN] {
		return "", fmt.Errorf("%w: %s changed", directory.ErrStalePlan, c.DN)
	}
	f.mu.Lock()
	f.applied = append(f.applied, c.DN)
	f.mu.Unlock()
	return "guid-" + c.DN, nil
}

func (f *fakeTarget) appliedDNs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.applied)
}

type fakeSource struct {
	scope *directory.Scope
	err   error
}

func (s fakeSource) Scope(context.Context) (*directory.Scope, error) { return s.scope, s.err }

// ---- helpers -----------------------------------------------------------------------------

func dnOf(i int) string { return fmt.Sprintf("CN=user%02d,OU=Cross-Tenant,DC=northwind,DC=test", i) }

// testPlan returns a plan of n writing changes (alternating create and update) plus one
// unchanged and one conflict, which Apply must never send.
func testPlan(n int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Kind: "sync"}
	for i := range n {
		c := plan.Change{Action: plan.Create, DN: dnOf(i), Source: fmt.Sprintf("CN=src%02d,DC=contoso,DC=test", i),
			Attrs: []plan.AttrChange{{Name: "displayName", After: []string{fmt.Sprintf("User %d", i)}}}}
		if i%2 == 1 {
			c.Action = plan.Update
			c.Attrs[0].Before = []string{"Old"}
		}
		p.Changes = append(p.Changes, c)
	}
	p.Changes = append(p.Changes,
		plan.Change{Action: plan.Unchanged, DN: "CN=same,OU=Cross-Tenant,DC=northwind,DC=test", Source: "CN=same,DC=contoso,DC=test"},
		plan.Change{Action: plan.Conflict, Source: "CN=clash,DC=contoso,DC=test", Reason: "alias_in_use"})
	for _, c := range p.Changes {
		switch c.Action {
		case plan.Create:
			p.Summary.Create++
		case plan.Update:
			p.Summary.Update++
		case plan.Unchanged:
			p.Summary.Unchanged++
		case plan.Conflict:
			p.Summary.Conflict++
		}
	}
	return p
}

func newEngine(t *testing.T, conns int) (*engine.Engine, *fakeJournal, *fakeTarget) {
	j := newJournal()
	tg := &fakeTarget{t: t, j: j, conns: conns}
	return &engine.Engine{Target: tg, Journal: j}, j, tg
}

var info = engine.RunInfo{Kind: "sync", Actor: "test", ConfigHash: "abc"}

// checkJournalPairs checks every change sent to the target has exactly one intent before its
// write and one outcome after it, and that nothing else was journaled as a change.
func checkJournalPairs(t *testing.T, j *fakeJournal, tg *fakeTarget) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.started != 1 || j.finished != 1 {
		t.Errorf("StartRun called %d times, FinishRun %d times; want 1 and 1", j.started, j.finished)
	}
	if j.log[0] != "start" || !strings.HasPrefix(j.log[len(j.log)-1], "finish ") {
		t.Errorf("journal log does not start with StartRun and end with FinishRun: %q", j.log)
	}
	notSent := 0
	for dn, n := range j.intent {
		if n != 1 || j.out[dn] != 1 {
			t.Errorf("%s: %d intents and %d outcomes, want exactly 1 and 1", dn, n, j.out[dn])
		}
		iI := slices.Index(j.log, "intent "+dn)
		iA := slices.Index(j.log, "apply "+dn)
		iO := slices.Index(j.log, "outcome "+dn)
		if errors.Is(j.errs[dn], directory.ErrNotSent) { // the run stopped between its intent and its write
			notSent++
			if iA >= 0 || iI < 0 || iO < iI {
				t.Errorf("%s: journaled as not sent, but intent at %d, apply at %d, outcome at %d", dn, iI, iA, iO)
			}
			continue
		}
		if iI < 0 || iA < 0 || iO < 0 || !(iI < iA && iA < iO) {
			t.Errorf("%s: intent at %d, apply at %d, outcome at %d; want intent < apply < outcome", dn, iI, iA, iO)
		}
	}
	if got := int(tg.calls.Load()); got != len(j.intent)-notSent {
		t.Errorf("target Apply called %d times, %d intents journaled (%d of them not sent)", got, len(j.intent), notSent)
	}
}

// ---- Apply -------------------------------------------------------------------------------

func TestApply_JournalsIntentBeforeAndOutcomeAfterEachWrite(t *testing.T) {
	e, j, tg := newEngine(t, 3)
	p := testPlan(10)
	res, err := e.Apply(context.Background(), info, p, engine.Options{})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	checkJournalPairs(t, j, tg)
	if len(j.intent) != 10 {
		t.Errorf("%d changes journaled, want the 10 writing ones", len(j.intent))
	}
	if j.intent["CN=same,OU=Cross-Tenant,DC=northwind,DC=test"] != 0 {
		t.Error("an unchanged object was journaled/applied")
	}
	if res.RunID != 42 || res.Planned != 10 || res.Applied != 10 || res.Failed != 0 || res.NotTried != 0 {
		t.Errorf("result %+v", res)
	}
	if j.outcome != engine.OutcomeOK || j.runErr != nil {
		t.Errorf("journal outcome %q err %v, want ok", j.outcome, j.runErr)
	}
	if j.info.Mode != "apply" || j.info.Kind != "sync" || j.info.Actor != "test" {
		t.Errorf("run info %+v, want mode apply", j.info)
	}
	if j.result != res {
		t.Errorf("journaled result %+v, returned %+v", j.result, res)
	}
}

func TestApply_ProgressCountsEveryChange(t *testing.T) {
	e, _, _ := newEngine(t, 2)
	var mu sync.Mutex
	var seen []int
	e.Progress = func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if total != 6 {
			t.Errorf("progress total %d, want 6", total)
		}
		seen = append(seen, done)
	}
	if _, err := e.Apply(context.Background(), info, testPlan(6), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []int{1, 2, 3, 4, 5, 6}) {
		t.Errorf("progress %v, want 1..6", seen)
	}
}

func TestApply_PerObjectFailuresDoNotStopTheRun(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	tg.fail = map[string]bool{dnOf(1): true, dnOf(4): true}
	res, err := e.Apply(context.Background(), info, testPlan(8), engine.Options{})
	if !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("Apply error %v, want ErrPartial", err)
	}
	if !errors.Is(err, directory.ErrStalePlan) {
		t.Errorf("Apply error %v does not wrap the per-object cause", err)
	}
	var oe *directory.ObjectError
	if !errors.As(err, &oe) {
		t.Fatalf("Apply error %v holds no *directory.ObjectError", err)
	}
	if !tg.fail[oe.DN] || oe.Op == "" {
		t.Errorf("ObjectError %+v: not one of the failed objects", oe)
	}
	// every failed object is named by its own ObjectError
	for dn := range tg.fail {
		if !strings.Contains(err.Error(), dn) {
			t.Errorf("error %q does not name %s", err, dn)
		}
	}
	if res.Applied != 6 || res.Failed != 2 || res.NotTried != 0 || res.Planned != 8 {
		t.Errorf("result %+v, want 6 applied, 2 failed", res)
	}
	if got := len(tg.appliedDNs()); got != 6 {
		t.Errorf("%d objects written, want 6", got)
	}
	if j.outcome != engine.OutcomePartial {
		t.Errorf("outcome %q, want partial", j.outcome)
	}
	checkJournalPairs(t, j, tg)
	for dn := range tg.fail {
		if j.errs[dn] == nil {
			t.Errorf("%s: outcome journaled without its error", dn)
		}
	}
	if j.errs[dnOf(0)] != nil {
		t.Errorf("%s: outcome journaled with error %v", dnOf(0), j.errs[dnOf(0)])
	}
}

func TestApply_AllFailedIsOutcomeFailed(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	tg.fail = map[string]bool{}
	for i := range 4 {
		tg.fail[dnOf(i)] = true
	}
	res, err := e.Apply(context.Background(), info, testPlan(4), engine.Options{})
	if !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("Apply error %v, want ErrPartial", err)
	}
	var oe *directory.ObjectError
	if !errors.As(err, &oe) {
		t.Errorf("Apply error %v holds no *directory.ObjectError", err)
	}
	if res.Applied != 0 || res.Failed != 4 {
		t.Errorf("result %+v", res)
	}
	if j.outcome != engine.OutcomeFailed {
		t.Errorf("outcome %q, want failed", j.outcome)
	}
	checkJournalPairs(t, j, tg)
}

func TestApply_LimitExceededIsRefused(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	e.Limits = plan.Limits{MaxChanges: 3}
	res, err := e.Apply(context.Background(), info, testPlan(4), engine.Options{})
	if !errors.Is(err, directory.ErrUnsafePlan) {
		t.Fatalf("Apply error %v, want ErrUnsafePlan", err)
	}
	if tg.calls.Load() != 0 || len(j.intent) != 0 {
		t.Errorf("%d writes and %d intents for a refused plan", tg.calls.Load(), len(j.intent))
	}
	if j.outcome != engine.OutcomeRefused || !errors.Is(j.runErr, directory.ErrUnsafePlan) {
		t.Errorf("journal outcome %q err %v, want refused", j.outcome, j.runErr)
	}
	if res.NotTried != 4 || res.Applied != 0 || res.Planned != 4 {
		t.Errorf("result %+v", res)
	}
	if j.started != 1 || j.finished != 1 {
		t.Errorf("a refused run must still be journaled: started %d, finished %d", j.started, j.finished)
	}
}

func TestApply_AtTheLimitIsAllowed(t *testing.T) {
	e, j, _ := newEngine(t, 2)
	e.Limits = plan.Limits{MaxChanges: 4}
	if _, err := e.Apply(context.Background(), info, testPlan(4), engine.Options{}); err != nil {
		t.Fatalf("Apply of exactly max_changes: %v", err)
	}
	if j.outcome != engine.OutcomeOK {
		t.Errorf("outcome %q", j.outcome)
	}
}

func TestApply_AllowLargeLetsAPlanOverTheLimitThrough(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	e.Limits = plan.Limits{MaxChanges: 1}
	res, err := e.Apply(context.Background(), info, testPlan(5), engine.Options{AllowLarge: true})
	if err != nil {
		t.Fatalf("Apply with AllowLarge: %v", err)
	}
	if res.Applied != 5 || len(tg.appliedDNs()) != 5 {
		t.Errorf("result %+v, written %d", res, len(tg.appliedDNs()))
	}
	if j.outcome != engine.OutcomeOK {
		t.Errorf("outcome %q", j.outcome)
	}
	checkJournalPairs(t, j, tg)
}

func TestApply_DryRunJournalsTheRunAndWritesNothing(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	res, err := e.Apply(context.Background(), engine.RunInfo{Kind: "sync", Mode: "apply"}, testPlan(5), engine.Options{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if j.info.Mode != "dry-run" {
		t.Errorf("run journaled with mode %q, want dry-run", j.info.Mode)
	}
	if j.started != 1 || j.finished != 1 || j.outcome != engine.OutcomeOK {
		t.Errorf("started %d finished %d outcome %q", j.started, j.finished, j.outcome)
	}
	if tg.calls.Load() != 0 || len(j.intent) != 0 {
		t.Errorf("dry run wrote %d objects, journaled %d intents", tg.calls.Load(), len(j.intent))
	}
	if res.Planned != 5 || res.Applied != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestApply_DryRunStillChecksTheLimit(t *testing.T) {
	e, j, _ := newEngine(t, 2)
	e.Limits = plan.Limits{MaxChanges: 2}
	_, err := e.Apply(context.Background(), info, testPlan(3), engine.Options{DryRun: true})
	if !errors.Is(err, directory.ErrUnsafePlan) || j.outcome != engine.OutcomeRefused {
		t.Errorf("dry run over the limit: err %v outcome %q, want refused", err, j.outcome)
	}
}

func TestApply_EmptyPlanIsOK(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	p := testPlan(0)
	res, err := e.Apply(context.Background(), info, p, engine.Options{})
	if err != nil || j.outcome != engine.OutcomeOK || tg.calls.Load() != 0 || res.Planned != 0 {
		t.Errorf("err %v outcome %q calls %d result %+v", err, j.outcome, tg.calls.Load(), res)
	}
}

func TestApply_IntentErrorIsFatal(t *testing.T) {
	e, j, tg := newEngine(t, 1)
	journalDown := errors.New("disk I/O error")
	bad := dnOf(2)
	j.intentErr = func(c plan.Change) error {
		if c.DN == bad {
			return journalDown
		}
		return nil
	}
	res, err := e.Apply(context.Background(), info, testPlan(8), engine.Options{})
	if !errors.Is(err, journalDown) {
		t.Fatalf("Apply error %v, want the journal error", err)
	}
	if slices.Contains(tg.appliedDNs(), bad) || j.index("apply "+bad) >= 0 {
		t.Errorf("%s was written without a journaled intent", bad)
	}
	if j.outcome != engine.OutcomeFailed || !errors.Is(j.runErr, journalDown) {
		t.Errorf("journal outcome %q err %v, want failed with the journal error", j.outcome, j.runErr)
	}
	if res.Applied+res.Failed >= 8 {
		t.Errorf("result %+v: the run did not stop", res)
	}
	// with one connection the changes are sent in order: the two before the failure are written,
	// and the run stops there.
	if got := tg.appliedDNs(); len(got) < 2 || got[0] != dnOf(0) || got[1] != dnOf(1) {
		t.Errorf("written %v, want %s and %s first", got, dnOf(0), dnOf(1))
	}
	if res.NotTried == 0 && res.Applied == 7 {
		t.Errorf("result %+v: every other change was still written", res)
	}
	checkJournalPairs(t, j, tg)
}

// After a fatal journal error or a cancelled context no further change may be picked up. The
// scene is deterministic: with 2 connections, change 0 is held in flight on one worker while
// the other worker stops the run on change 1 (its intent fails, or the operator cancels during
// its write). That worker itself called cancel, so when it asks for more work the run is
// already stopped: it must not journal and send change 2. Today the worker loop never looks at
// ctx, and the feeder's select hands it the next change whenever that case wins the random
// choice against ctx.Done() (about every second run); the real writer then writes it unless
// its own acquire happens to pick ctx.Done().
func TestApply_NothingStartsAfterTheRunStops(t *testing.T) {
	for _, how := range []string{"intent error", "cancel"} {
		t.Run(how, func(t *testing.T) {
			for run := range 20 {
				e, j, tg := newEngine(t, 2)
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				var once sync.Once
				stop := func() { once.Do(func() { close(stopped) }) }
				if how == "intent error" {
					j.intentErr = func(c plan.Change) error {
						if c.DN == dnOf(1) {
							stop()
							return errors.New("journal down")
						}
						return nil
					}
				}
				tg.hook = func(_ context.Context, _ int64, c plan.Change) {
					switch c.DN {
					case dnOf(0): // stays in flight until well after the run was stopped
						<-stopped
						time.Sleep(5 * time.Millisecond)
					case dnOf(1):
						if how == "cancel" {
							cancel()
							stop()
						}
					}
				}
				_, err := e.Apply(ctx, info, testPlan(10), engine.Options{})
				cancel()
				if err == nil {
					t.Fatal("Apply succeeded")
				}
				var late []string
				for i := 2; i < 10; i++ {
					if j.index("intent "+dnOf(i)) >= 0 || j.index("apply "+dnOf(i)) >= 0 {
						late = append(late, dnOf(i))
					}
				}
				if len(late) > 0 {
					t.Fatalf("run %d: journaled and sent to the target after the run was stopped: %v", run, late)
				}
			}
		})
	}
}

func TestApply_ContextCancelledMidRun(t *testing.T) {
	e, j, tg := newEngine(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var inFlight atomic.Value
	tg.hook = func(_ context.Context, n int64, c plan.Change) {
		if n == 4 {
			inFlight.Store(c.DN)
			cancel() // the operator presses Ctrl-C while this write is in flight
		}
	}
	tg.sleep = 2 * time.Millisecond
	res, err := e.Apply(ctx, info, testPlan(30), engine.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply error %v, want context.Canceled", err)
	}
	if res.NotTried == 0 {
		t.Errorf("result %+v: want changes not tried after the cancel", res)
	}
	if res.Applied+res.Failed+res.NotTried != res.Planned {
		t.Errorf("result %+v does not add up", res)
	}
	dn, _ := inFlight.Load().(string)
	if dn == "" || j.outcomes(dn) != 1 {
		t.Errorf("the write in flight at the cancel (%q) has %d outcomes, want 1", dn, j.outcomes(dn))
	}
	if j.outcome != engine.OutcomeFailed {
		t.Errorf("outcome %q, want failed", j.outcome)
	}
	checkJournalPairs(t, j, tg)
}

func TestApply_ConcurrencyBoundedByConnections(t *testing.T) {
	for _, conns := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			e, j, tg := newEngine(t, conns)
			tg.sleep = 5 * time.Millisecond
			res, err := e.Apply(context.Background(), info, testPlan(20), engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied != 20 {
				t.Errorf("applied %d", res.Applied)
			}
			m := tg.maxSeen.Load()
			if m > int64(conns) {
				t.Errorf("%d Apply calls at once with %d connections", m, conns)
			}
			if conns == 4 && m <= 1 {
				t.Errorf("at most %d Apply call at once with 4 connections: changes are not applied in parallel", m)
			}
			checkJournalPairs(t, j, tg)
		})
	}
}

func TestApply_ZeroConnectionsStillApplies(t *testing.T) {
	e, _, tg := newEngine(t, 0)
	res, err := e.Apply(context.Background(), info, testPlan(3), engine.Options{})
	if err != nil || res.Applied != 3 || tg.maxSeen.Load() != 1 {
		t.Errorf("err %v result %+v max %d", err, res, tg.maxSeen.Load())
	}
}

// ---- Plan --------------------------------------------------------------------------------

func TestPlan_EmptySourceIsRefused(t *testing.T) {
	tg := &fakeTarget{t: t}
	e := &engine.Engine{Source: fakeSource{scope: &directory.Scope{}}, Target: tg}
	p, err := e.Plan(context.Background())
	if !errors.Is(err, directory.ErrUnsafePlan) {
		t.Fatalf("Plan of an empty scope: %v, want ErrUnsafePlan", err)
	}
	if p != nil {
		t.Errorf("Plan returned a plan with the error: %+v", p)
	}
}

func TestPlan_SourceErrorIsReturned(t *testing.T) {
	boom := errors.New("boom")
	e := &engine.Engine{Source: fakeSource{err: boom}, Target: &fakeTarget{t: t}}
	if _, err := e.Plan(context.Background()); !errors.Is(err, boom) {
		t.Errorf("Plan error %v, want the source's", err)
	}
}

func TestPlan_NestedGroupsAndSkippedMembersAreWarnings(t *testing.T) {
	g, _ := directory.ParseGUID("2d11ddf7-cc1e-4769-8214-72e43234cd63")
	nested := "CN=XTM-Wave2,OU=Groups,OU=Contoso,DC=contoso,DC=test"
	skipped := "CN=Some Contact,OU=Staff,OU=Contoso,DC=contoso,DC=test"
	scope := &directory.Scope{
		Mailboxes: []directory.Mailbox{{DN: "CN=Anna Berg,OU=Staff,OU=Contoso,DC=contoso,DC=test", Alias: "aberg", MailboxGUID: g.AD()}},
		NestedGroups: []directory.Group{{DN: nested, Members: []string{
			"CN=Walter Wood,OU=Staff,OU=Contoso,DC=contoso,DC=test", "CN=Wendy Walker,OU=Staff,OU=Contoso,DC=contoso,DC=test"}}},
		Skipped: []directory.Skipped{{DN: skipped, Reason: "member of the scope group but not a user object"}},
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	e := &engine.Engine{Source: fakeSource{scope: scope}, Target: &fakeTarget{t: t}, SourceName: "contoso",
		Diff: plan.Options{OU: "OU=Cross-Tenant,OU=Northwind,DC=northwind,DC=test"}, Now: func() time.Time { return at }}
	p, err := e.Plan(context.Background())
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if !p.DryRun || p.Source != "contoso" || !p.GeneratedAt.Equal(at) || p.GeneratedAt.Location() != time.UTC {
		t.Errorf("plan header dry_run=%v source=%q generated_at=%v", p.DryRun, p.Source, p.GeneratedAt)
	}
	if len(p.Changes) != 1 {
		t.Errorf("plan has %d changes, want 1 for the one mailbox", len(p.Changes))
	}
	want := engine.ScopeWarnings(scope)
	if len(want) != 2 {
		t.Fatalf("ScopeWarnings = %+v, want 2", want)
	}
	if w := want[0]; w.Code != "nested_group" || w.Object != nested || !strings.Contains(w.Message, "2 members") {
		t.Errorf("nested group warning %+v", w)
	}
	if w := want[1]; w.Code != "not_a_mailbox" || w.Object != skipped || w.Message != scope.Skipped[0].Reason {
		t.Errorf("skipped member warning %+v", w)
	}
	for _, w := range want {
		if !slices.Contains(p.Warnings, w) {
			t.Errorf("plan warnings %+v lack %+v", p.Warnings, w)
		}
	}
}

func TestScopeWarnings_NoneForACleanScope(t *testing.T) {
	if w := engine.ScopeWarnings(&directory.Scope{Mailboxes: make([]directory.Mailbox, 3)}); len(w) != 0 {
		t.Errorf("warnings %+v for a scope without nested groups or skipped members", w)
	}
}
