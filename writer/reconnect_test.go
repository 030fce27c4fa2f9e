package writer

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

func TestReconnectPolicy_DerivedFromTheTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    Reconnect
		within  time.Duration // FailWithin
	}{
		{2 * time.Second, Reconnect{Attempts: 4, Window: 2 * time.Second, Backoff: 125 * time.Millisecond}, 4 * time.Second},
		{5 * time.Second, Reconnect{Attempts: 4, Window: 5 * time.Second, Backoff: 250 * time.Millisecond}, 10 * time.Second},
		{60 * time.Second, Reconnect{Attempts: 4, Window: 60 * time.Second, Backoff: 250 * time.Millisecond}, 2 * time.Minute},
		{300 * time.Millisecond, Reconnect{Attempts: 4, Window: 300 * time.Millisecond, Backoff: 50 * time.Millisecond}, 600 * time.Millisecond},
		{0, Reconnect{Attempts: 4, Window: DefaultTimeout, Backoff: 250 * time.Millisecond}, 2 * DefaultTimeout},
	} {
		t.Run(tc.timeout.String(), func(t *testing.T) {
			if got := ReconnectPolicy(tc.timeout); got != tc.want {
				t.Errorf("ReconnectPolicy(%v) = %+v, want %+v", tc.timeout, got, tc.want)
			}
			if got := FailWithin(tc.timeout); got != tc.within {
				t.Errorf("FailWithin(%v) = %v, want %v", tc.timeout, got, tc.within)
			}
		})
	}
}

func TestReconnect_Pause(t *testing.T) {
	p := Reconnect{Attempts: 4, Window: 2 * time.Second, Backoff: 250 * time.Millisecond}
	for _, tc := range []struct {
		n       int
		elapsed time.Duration
		pause   time.Duration
		ok      bool
	}{
		{0, 0, 0, true}, // the first dial at once
		{1, 10 * time.Millisecond, 250 * time.Millisecond, true}, // then doubling
		{2, 300 * time.Millisecond, 500 * time.Millisecond, true},
		{3, 900 * time.Millisecond, time.Second, true},
		{4, 2 * time.Second, 0, false},                 // the attempts are used up
		{4, 0, 0, false},                               // ... however early
		{1, 1800 * time.Millisecond, 0, false},         // the pause would end past the window
		{0, 2 * time.Second, 0, false},                 // the window is over
		{3, 999 * time.Millisecond, time.Second, true}, // ends just inside it
		{3, time.Second, 0, false},                     // ends right on it
		{-1, 0, 0, false},
	} {
		t.Run(fmt.Sprintf("%d@%v", tc.n, tc.elapsed), func(t *testing.T) {
			pause, ok := p.Pause(tc.n, tc.elapsed)
			if pause != tc.pause || ok != tc.ok {
				t.Errorf("Pause(%d, %v) = %v, %v; want %v, %v", tc.n, tc.elapsed, pause, ok, tc.pause, tc.ok)
			}
		})
	}
}

// fakeClock is a settable clock for health.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newHealth(timeout time.Duration) (*health, *fakeClock) {
	c := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &health{now: c.now, timeout: timeout}, c
}

// The streak of a directory that died (every dial refused at once, or only a dial's TLS hangs
// until its deadline): how many dials it gets and when the writer gives up.
func TestHealth_StreakOfFailures(t *testing.T) {
	refused := errors.New("connect: connection refused")
	type step struct {
		what string        // "request" (a transport failure), "dial", "answer"
		took time.Duration // how long the step took (a dial that hangs until its deadline)
	}
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		steps    []step
		attempts int           // dials when the writer gives up
		elapsed  time.Duration // since the streak's first failure
	}{
		{"killed: the connection drops, every dial is refused", 2 * time.Second,
			[]step{{"request", 0}, {"dial", 0}, {"dial", 0}, {"dial", 0}, {"dial", 0}}, 4, 875 * time.Millisecond},
		{"dead from the start: the first dial is refused", 2 * time.Second,
			[]step{{"dial", 0}, {"dial", 0}, {"dial", 0}, {"dial", 0}}, 4, 875 * time.Millisecond},
		{"frozen: the request times out, then the dial hangs to the window's end", 2 * time.Second,
			[]step{{"request", 0}, {"dial", 2 * time.Second}}, 1, 2 * time.Second},
		{"hung after the bind: dials work, requests time out", 2 * time.Second,
			[]step{{"request", 0}, {"dialok", 0}, {"request", 2 * time.Second}}, 1, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, clk := newHealth(tc.timeout)
			var verdict error
		steps:
			for i := 0; ; i++ {
				s := step{"dial", 0}
				if i < len(tc.steps) {
					s = tc.steps[i]
				}
				switch s.what {
				case "request":
					clk.add(s.took)
					h.failed(errors.New("read response: i/o timeout"))
				case "dial", "dialok":
					d, err := h.nextDial()
					if err != nil {
						verdict = err
						break steps
					}
					clk.add(d.pause)
					if !d.deadline.After(clk.t) {
						t.Fatalf("dial %d: deadline %v not after its start %v", i, d.deadline, clk.t)
					}
					if s.took > 0 {
						if end := clk.t.Add(s.took); end.After(d.deadline) {
							clk.t = d.deadline // the dial's context ends it
						} else {
							clk.t = end
						}
					}
					if s.what == "dial" {
						h.dialFailed(d, refused)
					}
				}
				if i > 20 {
					t.Fatal("the writer never gave up")
				}
			}
			var ue *UnreachableError
			if !errors.As(verdict, &ue) || !errors.Is(verdict, directory.ErrConnection) {
				t.Fatalf("verdict %v, want an UnreachableError", verdict)
			}
			if ue.Attempts != tc.attempts || ue.Elapsed != tc.elapsed {
				t.Errorf("gave up after %d attempts in %v, want %d in %v", ue.Attempts, ue.Elapsed, tc.attempts, tc.elapsed)
			}
			if ue.Elapsed > ReconnectPolicy(tc.timeout).Window {
				t.Errorf("gave up after %v, past the window %v", ue.Elapsed, ReconnectPolicy(tc.timeout).Window)
			}
			// Down: every caller gets the verdict at once, until a window has passed.
			if _, err := h.nextDial(); err != verdict {
				t.Errorf("next dial while down: %v, want the verdict", err)
			}
			clk.add(ReconnectPolicy(tc.timeout).Window)
			if d, err := h.nextDial(); err != nil || d.pause != 0 {
				t.Errorf("a window after giving up: %+v, %v; want a fresh dial", d, err)
			}
		})
	}
}

// An answer from the directory ends the streak: a connection reset now and then costs a
// reconnect, never the run.
func TestHealth_AnswerEndsTheStreak(t *testing.T) {
	h, clk := newHealth(2 * time.Second)
	for range 10 {
		h.failed(errors.New("connection reset by peer"))
		d, err := h.nextDial()
		if err != nil {
			t.Fatalf("gave up on a directory that answers between resets: %v", err)
		}
		if d.pause != 0 {
			t.Errorf("first reconnect of a streak waits %v", d.pause)
		}
		clk.add(time.Second)
		h.answered()
	}
}

// TLS verification and credentials are refused at once: dialling again cannot fix them.
func TestHealth_PermanentDialFailureGivesUpAtOnce(t *testing.T) {
	h, _ := newHealth(2 * time.Second)
	d, err := h.nextDial()
	if err != nil {
		t.Fatal(err)
	}
	cause := fmt.Errorf("%w: ldaps://dc as svc", ldapconn.ErrCredentials)
	if !permanent(cause) || permanent(errors.New("connection refused")) {
		t.Fatal("permanent() misclassifies")
	}
	verdict := h.refused(d, cause)
	var ue *UnreachableError
	if !errors.As(verdict, &ue) || ue.Attempts != 1 || !errors.Is(verdict, ldapconn.ErrCredentials) {
		t.Errorf("verdict %v (%+v)", verdict, ue)
	}
}

func TestUnreachableError_Message(t *testing.T) {
	e := &UnreachableError{Attempts: 4, Elapsed: 1753 * time.Millisecond, Cause: errors.New("cannot connect: ldaps://[::1]:636: connection refused")}
	want := "directory unreachable after 4 connection attempts in 1.75s: cannot connect: ldaps://[::1]:636: connection refused"
	if e.Error() != want {
		t.Errorf("%q\nwant %q", e.Error(), want)
	}
}
