package writer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// DefaultTimeout is the per-request timeout assumed when neither Options.Timeout nor a
// connection says otherwise (config's default for a directory's timeout).
const DefaultTimeout = 60 * time.Second

// Reconnect is how the writer reconnects after a connection failure: a transport failure of a
// request (reset, closed, no answer within the timeout) or a failed dial. The failures since the
// last request the directory answered are a streak; a streak gets at most Attempts dials, all
// started and ended within Window of its first failure, the first at once and each next one
// after a pause that doubles from Backoff. When the streak runs out the directory counts as
// unreachable (directory.ErrConnection) and the run it serves ends.
type Reconnect struct {
	Attempts int
	Window   time.Duration
	Backoff  time.Duration
}

// reconnectAttempts is how many dials a streak of connection failures gets.
const reconnectAttempts = 4

// ReconnectPolicy derives the policy from the per-request timeout: 4 dials within one timeout,
// pausing timeout/16 (50 ms to 250 ms) before the second and doubling. A dead DC is reported
// within about 2 s (0 + 0.25 + 0.5 + 1 s of pauses, plus four refused dials); a hung one
// within FailWithin(timeout).
func ReconnectPolicy(timeout time.Duration) Reconnect {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return Reconnect{Attempts: reconnectAttempts, Window: timeout, Backoff: min(max(timeout/16, 50*time.Millisecond), 250*time.Millisecond)}
}

// Pause says how long to wait before dial n (0-based) of a streak whose first failure was
// elapsed ago, or false when the streak is over: its dials are used up, or the pause would reach
// past the window.
func (p Reconnect) Pause(n int, elapsed time.Duration) (time.Duration, bool) {
	if n >= p.Attempts || n < 0 {
		return 0, false
	}
	var d time.Duration
	if n > 0 {
		d = p.Backoff << (n - 1)
	}
	if elapsed+d >= p.Window {
		return 0, false
	}
	return d, true
}

// FailWithin bounds how long the writer takes to report a directory that stops answering
// altogether: the request in flight when it stopped runs out its timeout, and the reconnects
// then run out their window (each dial ends at the window's end). A run on a hung DC therefore
// fails within FailWithin(timeout) of the hang, plus what the engine needs to journal it.
func FailWithin(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return timeout + ReconnectPolicy(timeout).Window
}

// UnreachableError is the writer's verdict that the directory cannot be reached: a streak of
// connection failures used up its reconnect attempts or its window, or a dial was refused for a
// reason a retry cannot fix (TLS verification, credentials). It is directory.ErrConnection.
type UnreachableError struct {
	Attempts int           // dials in the streak
	Elapsed  time.Duration // since the streak's first failure
	Cause    error         // the streak's last failure
}

func (e *UnreachableError) Error() string {
	attempts := "attempts"
	if e.Attempts == 1 {
		attempts = "attempt"
	}
	return fmt.Sprintf("%v after %d connection %s in %s: %v", directory.ErrConnection, e.Attempts, attempts,
		e.Elapsed.Round(10*time.Millisecond), e.Cause)
}

// Is makes an UnreachableError directory.ErrConnection.
func (e *UnreachableError) Is(target error) bool { return target == directory.ErrConnection }

// Unwrap returns the last failure.
func (e *UnreachableError) Unwrap() error { return e.Cause }

// health follows the client's connection failures, shared by its pool's connections: two
// workers that see the DC die use one streak, not one each, and take its dials in turn.
type health struct {
	now func() time.Time
	// turn is held by the one dial of a streak under way: the streak's dials go one after
	// another, each knowing how the last one ended.
	turn chan struct{}

	mu      sync.Mutex
	timeout time.Duration // per request; 0 until known
	start   time.Time     // the streak's first failure; zero when the last request was answered
	dials   int           // dials started in the streak
	cause   error         // the streak's last failure
	down    *UnreachableError
	downAt  time.Time
}

func (h *health) policy() Reconnect { return ReconnectPolicy(h.timeout) }

// setTimeout records the per-request timeout (from the options, or learned from a connection).
func (h *health) setTimeout(d time.Duration) {
	if d <= 0 {
		return
	}
	h.mu.Lock()
	h.timeout = d
	h.mu.Unlock()
}

func (h *health) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// answered ends the streak: the directory answered a request.
func (h *health) answered() {
	h.mu.Lock()
	h.start, h.dials, h.cause, h.down = time.Time{}, 0, nil, nil
	h.mu.Unlock()
}

// failed records a request's transport failure: the streak starts (its dials still to come),
// or goes on.
func (h *health) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start.IsZero() {
		h.start, h.dials = h.clock(), 0
	}
	h.cause = err
}

// dialFailed records a failed dial; a dial made with no streak under way starts one and is its
// first attempt.
func (h *health) dialFailed(d dial, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start.IsZero() {
		h.start, h.dials = h.clock(), 0
	}
	if !d.counted {
		h.dials++
	}
	h.cause = err
}

// dial is one reserved dial: when to start it and by when it must be done.
type dial struct {
	pause    time.Duration
	deadline time.Time
	counted  bool // already counted as one of the streak's attempts
}

// nextDial reserves the streak's next dial, or returns the verdict that the directory is
// unreachable. While the client is down every caller gets that verdict at once; it is lifted
// one window after it was reached, so that a client kept after a failed run tries again.
func (h *health) nextDial() (dial, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now, p := h.clock(), h.policy()
	if h.down != nil {
		if now.Sub(h.downAt) < p.Window {
			return dial{}, h.down
		}
		h.start, h.dials, h.cause, h.down = time.Time{}, 0, nil, nil
	}
	if h.start.IsZero() {
		// No failure yet: an ordinary dial, bounded by one timeout. If it fails, the streak
		// starts with it.
		return dial{deadline: now.Add(p.Window)}, nil
	}
	pause, ok := p.Pause(h.dials, now.Sub(h.start))
	if !ok {
		return dial{}, h.giveUp(now, h.cause)
	}
	h.dials++
	return dial{pause: pause, deadline: h.start.Add(p.Window), counted: true}, nil
}

// refused ends the streak at once: dial d failed for a reason no retry fixes.
func (h *health) refused(d dial, err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock()
	if h.start.IsZero() {
		h.start, h.dials = now, 0
	}
	if !d.counted {
		h.dials++
	}
	return h.giveUp(now, err)
}

func (h *health) giveUp(now time.Time, cause error) *UnreachableError {
	if cause == nil {
		cause = errors.New("no connection")
	}
	h.down = &UnreachableError{Attempts: h.dials, Elapsed: now.Sub(h.start), Cause: cause}
	h.downAt = now
	return h.down
}

// inStreak reports whether a streak of failures is under way.
func (h *health) inStreak() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.start.IsZero()
}

// permanent reports whether a dial failure is one that dialling again cannot fix.
func permanent(err error) bool {
	return errors.Is(err, ldapconn.ErrTLS) || errors.Is(err, ldapconn.ErrCredentials)
}

// connect dials a connection for the pool: the reconnect policy's dials, each ending by the
// streak's window. It returns ctx's error when ctx ends (the caller stopped, not the
// directory) and an *UnreachableError when the directory cannot be reached.
func (c *Client) connect(ctx context.Context) (Conn, error) {
	for {
		conn, again, err := c.connectOnce(ctx)
		if !again {
			return conn, err
		}
	}
}

// connectOnce is one dial of connect; again says to dial once more.
func (c *Client) connectOnce(ctx context.Context) (_ Conn, again bool, _ error) {
	if c.h.inStreak() {
		select {
		case c.h.turn <- struct{}{}:
			defer func() { <-c.h.turn }()
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		}
	}
	d, err := c.h.nextDial()
	if err != nil {
		return nil, false, err
	}
	if d.pause > 0 {
		t := time.NewTimer(d.pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, false, context.Cause(ctx)
		}
	}
	dctx, cancel := context.WithDeadlineCause(ctx, d.deadline,
		fmt.Errorf("no answer within %s (connect, TLS and bind)", time.Until(d.deadline).Round(10*time.Millisecond)))
	conn, err := c.dial(dctx)
	cancel()
	switch {
	case err == nil:
		if t, ok := conn.(interface{ Timeout() time.Duration }); ok && c.opt.Timeout <= 0 {
			c.h.setTimeout(t.Timeout())
		}
		return &tracked{Conn: conn}, false, nil
	case ctx.Err() != nil:
		return nil, false, context.Cause(ctx)
	case permanent(err):
		return nil, false, c.h.refused(d, err)
	}
	c.h.dialFailed(d, err)
	return nil, true, nil
}

// tracked is a pooled connection that notes whether the directory answered a request on it
// since it was acquired: only an answer ends a streak of failures (a dial that binds and then
// requests that hang must still add up to "unreachable").
type tracked struct {
	Conn
	answered bool
}

func (t *tracked) note(err error) {
	if err == nil || serverAnswered(err) {
		t.answered = true
	}
}

func (t *tracked) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	res, err := t.Conn.Search(req)
	t.note(err)
	return res, err
}

func (t *tracked) Add(req *ldap.AddRequest) error {
	err := t.Conn.Add(req)
	t.note(err)
	return err
}

func (t *tracked) Modify(req *ldap.ModifyRequest) error {
	err := t.Conn.Modify(req)
	t.note(err)
	return err
}

func (t *tracked) Del(req *ldap.DelRequest) error {
	err := t.Conn.Del(req)
	t.note(err)
	return err
}
