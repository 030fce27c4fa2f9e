package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// unreachable is a writer's verdict that the directory cannot be reached.
type unreachable struct{ attempts int }

func (u unreachable) Error() string {
	return fmt.Sprintf("directory unreachable after %d connection attempts in 1.2s: cannot connect: ldaps://dc.example:636: connection refused", u.attempts)
}
func (u unreachable) Is(target error) bool { return target == directory.ErrConnection }

// lostTarget is a fakeTarget whose directory dies at write number at: that write's answer is
// lost (outcome unknown), and every later write gets no connection (not sent, unreachable).
type lostTarget struct {
	*fakeTarget
	at    int64
	n     atomic.Int64
	after atomic.Int64 // writes tried after the directory died
}

func (l *lostTarget) Apply(ctx context.Context, c plan.Change) (string, error) {
	n := l.n.Add(1)
	switch {
	case n < l.at:
		return l.fakeTarget.Apply(ctx, c)
	case n == l.at:
		l.j.record("apply " + c.DN)
		return "", fmt.Errorf("add: %w: ldap: response channel closed", directory.ErrOutcomeUnknown)
	}
	l.after.Add(1)
	return "", fmt.Errorf("%w: connect: %w", directory.ErrNotSent, unreachable{4})
}

// records counts the log records at each level.
type records struct {
	mu     sync.Mutex
	levels map[slog.Level]int
	msgs   []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.levels == nil {
		r.levels = map[slog.Level]int{}
	}
	r.levels[rec.Level]++
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) count(min slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for l, k := range r.levels {
		if l >= min {
			n += k
		}
	}
	return n
}

// A directory lost mid-run stops the run once: one error with the counts, one log line, the
// write in flight journaled as outcome unknown and the changes after it as not sent, no
// failure per object, and no more than one write per connection tried after the loss.
func TestApply_ConnectionLostStopsTheRunOnce(t *testing.T) {
	for _, conns := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			const planned, at = 300, 41
			e, j, tg := newEngine(t, conns)
			lt := &lostTarget{fakeTarget: tg, at: at}
			e.Target = lt
			logs := &records{}
			e.Log = slog.New(logs)
			res, err := e.Apply(context.Background(), info, testPlan(planned), engine.Options{})

			if !errors.Is(err, directory.ErrConnection) {
				t.Fatalf("Apply error %v, want directory.ErrConnection", err)
			}
			if errors.Is(err, engine.ErrPartial) {
				t.Errorf("a lost directory reads as a partial run: %v", err)
			}
			var re *engine.RunError
			var cl *engine.ConnectionLostError
			if !errors.As(err, &re) || !errors.As(err, &cl) {
				t.Fatalf("error %T %v: want a RunError for a ConnectionLostError", err, err)
			}
			if len(re.Objects) != 0 {
				t.Errorf("the run error carries %d per-object errors, want none", len(re.Objects))
			}
			msg := err.Error()
			if len(msg) > engine.MaxRunErrorLen || strings.Count(msg, "\n") > 0 || strings.Count(msg, "connection refused") != 1 {
				t.Errorf("error message (%d chars) is not one short line naming the cause once:\n%s", len(msg), msg)
			}
			for _, want := range []string{"target forest: directory unreachable after 4 connection attempts", "outcome unknown", "not tried", "re-run"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if res.Applied != at-1 || res.Unknown != 1 || res.Failed != 1 ||
				res.Applied+res.Failed+res.NotTried != planned {
				t.Errorf("result %+v, want %d applied, 1 failed with its outcome unknown, the rest not tried", res, at-1)
			}
			if cl.Applied != res.Applied || cl.Failed != 0 || cl.Unknown != res.Unknown || cl.NotTried != res.NotTried || cl.Forest != "target" {
				t.Errorf("the error's counts %+v differ from the result %+v", cl, res)
			}
			if n := lt.after.Load(); n > int64(conns) {
				t.Errorf("%d writes were tried after the directory was lost, want at most one per connection (%d)", n, conns)
			}
			if n := logs.count(slog.LevelWarn); n > 2 {
				t.Errorf("%d warnings or errors logged: %q", n, logs.msgs)
			}
			if logs.levels[slog.LevelError] != 1 {
				t.Errorf("%d error lines logged, want exactly 1: %q", logs.levels[slog.LevelError], logs.msgs)
			}
			// The journal: the run failed with this error; every intent has one outcome, each
			// saying what happened.
			if j.outcome != engine.OutcomeFailed || j.runErr == nil || j.runErr.Error() != msg {
				t.Errorf("journal: outcome %q, error %v", j.outcome, j.runErr)
			}
			j.mu.Lock()
			defer j.mu.Unlock()
			var unknown, notSent int
			for dn, k := range j.intent {
				if j.out[dn] != k {
					t.Errorf("%s: %d intents, %d outcomes", dn, k, j.out[dn])
				}
				switch err := j.errs[dn]; {
				case errors.Is(err, directory.ErrOutcomeUnknown):
					unknown++
				case errors.Is(err, directory.ErrNotSent):
					notSent++
				case err != nil:
					t.Errorf("%s journaled as failed: %v", dn, err)
				}
			}
			if unknown != 1 || len(j.intent) != res.Applied+unknown+notSent {
				t.Errorf("journal: %d intents, %d applied, %d unknown, %d not sent", len(j.intent), res.Applied, unknown, notSent)
			}
		})
	}
}

// A chunk read that finds the directory unreachable stops the run: no fallback to one read per
// change, nothing written, one error.
func TestApply_UnreachableChunkReadStopsTheRun(t *testing.T) {
	e, j, p := newPreparer(t, 2)
	p.failPrepare = true
	p.prepareErr = fmt.Errorf("writer: connect: %w", unreachable{4})
	logs := &records{}
	e.Log = slog.New(logs)
	res, err := e.Apply(context.Background(), info, testPlan(200), engine.Options{})
	if !errors.Is(err, directory.ErrConnection) || errors.Is(err, engine.ErrPartial) {
		t.Fatalf("Apply error %v, want only directory.ErrConnection", err)
	}
	if n := p.calls.Load(); n != 0 {
		t.Errorf("%d changes written through Apply after the chunk read found no directory", n)
	}
	if n := p.prepares.Load(); n > 2 {
		t.Errorf("%d chunks read, want at most one per worker", n)
	}
	if res.Applied+res.Failed != 0 || res.NotTried != res.Planned {
		t.Errorf("result %+v, want nothing tried", res)
	}
	if strings.Count(err.Error(), "connection refused") != 1 || logs.count(slog.LevelWarn) != 1 {
		t.Errorf("error %q, %d warnings+ logged (%q)", err, logs.count(slog.LevelWarn), logs.msgs)
	}
	checkJournalNotSent(t, j)
}

// checkJournalNotSent checks every journaled change has one outcome, and it says not sent.
func checkJournalNotSent(t *testing.T, j *fakeJournal) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for dn, k := range j.intent {
		if j.out[dn] != k || !errors.Is(j.errs[dn], directory.ErrNotSent) {
			t.Errorf("%s: %d intents, %d outcomes, error %v", dn, k, j.out[dn], j.errs[dn])
		}
	}
}

// However many objects fail, the run's error stays short (it is the journal's runs.error and a
// line on stderr); every error stays reachable with errors.Is and errors.As.
func TestApply_RunErrorStaysShort(t *testing.T) {
	const n = 3000
	e, _, tg := newEngine(t, 2)
	tg.fail = map[string]bool{}
	for i := range n {
		if i%2 == 0 {
			tg.fail[dnOf(i)] = true
		}
	}
	res, err := e.Apply(context.Background(), info, testPlan(n), engine.Options{})
	if !errors.Is(err, engine.ErrPartial) || !errors.Is(err, directory.ErrStalePlan) {
		t.Fatalf("Apply error %v", err)
	}
	if res.Failed != n/2 {
		t.Errorf("result %+v", res)
	}
	msg := err.Error()
	if len(msg) > engine.MaxRunErrorLen || !strings.Contains(msg, fmt.Sprintf("and %d more", n/2-3)) || !strings.Contains(msg, fmt.Sprintf("%d of %d", n/2, n)) {
		t.Errorf("error (%d chars): %s", len(msg), msg)
	}
	var objs int
	for _, x := range err.(*engine.RunError).Unwrap() {
		var oe *directory.ObjectError
		if errors.As(x, &oe) {
			objs++
		}
	}
	if objs != n/2 {
		t.Errorf("%d per-object errors reachable, want %d", objs, n/2)
	}
}

func TestRunError_Message(t *testing.T) {
	long := strings.Repeat("é", 2000)
	obj := func(i int, msg string) error {
		return &directory.ObjectError{DN: fmt.Sprintf("CN=u%d,DC=x", i), Op: "create", Err: errors.New(msg)}
	}
	for _, tc := range []struct {
		name string
		err  *engine.RunError
		want string // "" : only the bound is checked
	}{
		{"reason only", &engine.RunError{Reason: errors.New("journal: disk full")}, "journal: disk full"},
		{"two objects", &engine.RunError{Reason: engine.ErrPartial, Objects: []error{obj(1, "stale"), obj(2, "not owned")}},
			"some changes failed: create CN=u1,DC=x: stale; create CN=u2,DC=x: not owned"},
		{"five objects", &engine.RunError{Reason: engine.ErrPartial, Objects: []error{obj(1, "a"), obj(2, "b"), obj(3, "c"), obj(4, "d"), obj(5, "e")}},
			"some changes failed: create CN=u1,DC=x: a; create CN=u2,DC=x: b; create CN=u3,DC=x: c; and 2 more (the journal holds each change's error)"},
		{"joined lines", &engine.RunError{Reason: errors.Join(errors.New("journal: a"), errors.New("journal: b"))}, "journal: a; journal: b"},
		{"no reason", &engine.RunError{}, "the run did not finish"},
		{"huge", &engine.RunError{Reason: errors.New(long), Objects: []error{obj(1, long), obj(2, long), obj(3, long), obj(4, long)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.err.Error()
			if tc.want != "" && got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if len(got) > engine.MaxRunErrorLen || strings.Contains(got, "\n") || !utf8Valid(got) {
				t.Errorf("message of %d bytes (bound %d), valid UTF-8 %v", len(got), engine.MaxRunErrorLen, utf8Valid(got))
			}
		})
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// A target that cannot be read fails the plan at once, as the target's error, without waiting
// for the source read to finish.
func TestPlan_UnreachableTargetEndsTheSourceRead(t *testing.T) {
	tg := &failingTarget{err: fmt.Errorf("writer: connect: %w", unreachable{4})}
	src := streamSource{n: 5, start: make(chan struct{})} // a source read that would never end
	e := &engine.Engine{Source: src, Target: tg, Rules: streamRules, Diff: plan.Options{OU: streamOU}}
	done := make(chan error, 1)
	go func() { _, err := e.Plan(context.Background()); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, directory.ErrConnection) || !strings.HasPrefix(err.Error(), "read target: ") {
			t.Errorf("Plan error %v, want the target's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Plan waited for the source after the target read failed")
	}
}

type failingTarget struct {
	fakeTarget
	err error
}

func (f *failingTarget) EachEntry(context.Context, func(*directory.Entry) error) error { return f.err }
