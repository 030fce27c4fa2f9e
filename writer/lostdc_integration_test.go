package writer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

// slack is what a bound check allows on top of the bound computed from the timeout: the
// scheduling of a loaded two-core machine, never a measure of speed.
const slack = 2 * time.Second

// proxiedClient returns a writer on the target test directory through a proxy that the test
// can kill or freeze, with the given per-request timeout, and the number of dials it made.
func proxiedClient(t *testing.T, timeout time.Duration, conns int) (*writer.Client, *ldaptest.Proxy, *ldaptest.Dir, string, *atomic.Int64) {
	t.Helper()
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-lost")
	px := ldaptest.NewProxy(t, d)
	cfg := px.Config(d)
	cfg.Timeout = timeout
	var dials atomic.Int64
	dial := func(ctx context.Context) (writer.Conn, error) {
		dials.Add(1)
		c, err := ldapconn.Dial(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	bulk := func(ctx context.Context) (ldapsrc.Bulk, error) {
		c, err := ldapconn.Dial(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		return ldapsrc.BulkConn(c), nil
	}
	c, err := writer.New(dial, writer.Options{BaseDN: d.Base, OU: ou, OwnerAttr: ownerAttr, OwnerValue: ownerValue,
		Anchor: directory.AttrMailNickname, PageSize: 20, Connections: conns, Bulk: bulk, Timeout: timeout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, px, d, ou, &dials
}

// unreachable checks err is the writer's one verdict, for a change that was not sent.
func unreachable(t *testing.T, err error, attempts int) *writer.UnreachableError {
	t.Helper()
	var ue *writer.UnreachableError
	if !errors.Is(err, directory.ErrConnection) || !errors.As(err, &ue) {
		t.Fatalf("error %v: want the directory unreachable", err)
	}
	if attempts > 0 && ue.Attempts != attempts {
		t.Errorf("gave up after %d attempts, want %d: %v", ue.Attempts, attempts, err)
	}
	return ue
}

// A DC that died (connections reset, new ones refused): a write gets no connection after the
// policy's 4 dials, well within one timeout, and is not sent; the next write is refused at
// once, without dialling again.
func TestApply_KilledDirectoryIsUnreachableWithinTheWindow(t *testing.T) {
	const timeout = 5 * time.Second
	c, px, d, ou, dials := proxiedClient(t, timeout, 1)
	ctx := ctxT(t)
	if _, err := c.Apply(ctx, newUserChange(ou, "lk"+tag(t), randomGUID(t))); err != nil {
		t.Fatalf("create before the kill: %v", err)
	}
	px.Kill()
	before := dials.Load()
	start := time.Now()
	ch := newUserChange(ou, "lk"+tag(t), randomGUID(t))
	_, err := c.Apply(ctx, ch)
	el := time.Since(start)
	if !errors.Is(err, directory.ErrNotSent) {
		t.Errorf("error %v: want not sent", err)
	}
	ue := unreachable(t, err, 4)
	if el > writer.ReconnectPolicy(timeout).Window || ue.Elapsed > writer.ReconnectPolicy(timeout).Window {
		t.Errorf("gave up after %v (verdict %v), past the reconnect window %v", el, ue.Elapsed, writer.ReconnectPolicy(timeout).Window)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %v does not give the cause", err)
	}
	if n := dials.Load() - before; n != 4 {
		t.Errorf("%d dials, want 4", n)
	}
	t0 := time.Now()
	_, err = c.Apply(ctx, newUserChange(ou, "lk"+tag(t), randomGUID(t)))
	unreachable(t, err, 4)
	if n := dials.Load() - before; n != 4 || time.Since(t0) > time.Second {
		t.Errorf("the next write dialled again (%d dials) or waited %v", n, time.Since(t0))
	}
	if _, ok := get(t, d, ch.DN, "cn"); ok {
		t.Errorf("%s exists: a change reported not sent was written", ch.DN)
	}
}

// A DC that stopped answering: the write in flight fails at its timeout with its outcome
// unknown, and the next one finds the directory unreachable; both within FailWithin(timeout).
func TestApply_FrozenDirectoryIsUnreachableWithinTheBound(t *testing.T) {
	const timeout = 2 * time.Second
	c, px, _, ou, _ := proxiedClient(t, timeout, 1)
	ctx := ctxT(t)
	if _, err := c.Apply(ctx, newUserChange(ou, "fz"+tag(t), randomGUID(t))); err != nil {
		t.Fatalf("create before the freeze: %v", err)
	}
	px.Freeze()
	defer px.Thaw()
	start := time.Now()
	_, err1 := c.Apply(ctx, newUserChange(ou, "fz"+tag(t), randomGUID(t)))
	_, err2 := c.Apply(ctx, newUserChange(ou, "fz"+tag(t), randomGUID(t)))
	el := time.Since(start)
	// The first write's compare-and-set read times out, is tried again on a new connection, whose
	// dial hangs to the window's end: not sent, unreachable. (Had the read gone through, its
	// write would time out with its outcome unknown; the read comes first.)
	if !errors.Is(err1, directory.ErrConnection) && !errors.Is(err1, directory.ErrOutcomeUnknown) {
		t.Errorf("first write: %v", err1)
	}
	unreachable(t, err2, 0)
	if !errors.Is(err2, directory.ErrNotSent) {
		t.Errorf("second write: %v, want not sent", err2)
	}
	if bound := writer.FailWithin(timeout) + slack; el > bound {
		t.Errorf("two writes on a frozen DC took %v, past FailWithin(%v) + %v = %v", el, timeout, slack, bound)
	}
	t.Logf("frozen DC: unreachable after %v (FailWithin %v): %v", el.Round(time.Millisecond), writer.FailWithin(timeout), err2)
}

// A connection reset now and then (the DC restarted its LDAP service, a load balancer dropped an
// idle connection) costs a reconnect, not the run: the next write goes through.
func TestApply_ResetConnectionReconnects(t *testing.T) {
	const timeout = 5 * time.Second
	c, px, d, ou, dials := proxiedClient(t, timeout, 1)
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := c.Apply(ctx, newUserChange(ou, "rs"+tag(t), randomGUID(t))); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		px.Kill() // every connection reset ...
		px.Revive()
	}
	ch := newUserChange(ou, "rs"+tag(t), randomGUID(t))
	if _, err := c.Apply(ctx, ch); err != nil {
		t.Fatalf("create after the resets: %v", err)
	}
	if _, ok := get(t, d, ch.DN, "cn"); !ok {
		t.Errorf("%s missing", ch.DN)
	}
	if n := dials.Load(); n != 4 {
		t.Errorf("%d dials for 4 writes with 3 resets between them, want 4", n)
	}
}

// The whole-forest read: a directory frozen mid-read fails the read within the timeout, as
// directory.ErrConnection; one killed before it fails it within the reconnect window.
func TestEachEntry_LostDirectoryFailsTheReadOnce(t *testing.T) {
	const timeout = 2 * time.Second
	t.Run("frozen mid-read", func(t *testing.T) {
		c, px, _, _, _ := proxiedClient(t, timeout, 1)
		defer px.Thaw()
		var n int
		var frozenAt time.Time
		err := c.EachEntry(ctxT(t), func(*directory.Entry) error {
			if n++; n == 30 {
				frozenAt = time.Now()
				px.Freeze()
			}
			return nil
		})
		if frozenAt.IsZero() {
			t.Fatalf("the forest has %d objects, too few to freeze mid-read", n)
		}
		el := time.Since(frozenAt)
		if !errors.Is(err, directory.ErrConnection) {
			t.Fatalf("read error %v, want directory.ErrConnection", err)
		}
		if bound := timeout + slack; el > bound {
			t.Errorf("the read failed %v after the freeze, past the timeout %v + %v", el, timeout, slack)
		}
	})
	for _, fault := range []string{"killed", "frozen"} {
		t.Run(fault+" before the read", func(t *testing.T) {
			c, px, _, _, _ := proxiedClient(t, timeout, 1)
			defer px.Thaw()
			if fault == "killed" {
				px.Kill()
			} else {
				px.Freeze()
			}
			start := time.Now()
			err := c.EachEntry(ctxT(t), func(*directory.Entry) error { return nil })
			el := time.Since(start)
			unreachable(t, err, 0)
			bound := writer.FailWithin(timeout) + slack
			if fault == "killed" {
				bound = writer.ReconnectPolicy(timeout).Window + slack
			}
			if el > bound {
				t.Errorf("the read failed after %v, past %v", el, bound)
			}
			t.Logf("%s: %v after %v", fault, err, el.Round(time.Millisecond))
		})
	}
}

// A chunk's writes on a connection that was reset after the chunk's read: a write that fails as
// it is sent reached nothing, so it goes again on a new connection, and every write lands
// (no outcome unknown, no failure).
func TestPrepare_WritesAfterAResetGoOnANewConnection(t *testing.T) {
	const timeout = 5 * time.Second
	c, px, d, ou, dials := proxiedClient(t, timeout, 1)
	ctx := ctxT(t)
	var cs []plan.Change
	for range 3 {
		cs = append(cs, newUserChange(ou, "pr"+tag(t), randomGUID(t)))
	}
	p, err := c.Prepare(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	px.Kill() // the pooled connection is reset ...
	px.Revive()
	time.Sleep(50 * time.Millisecond) // ... and the client has seen the reset
	for i, ch := range cs {
		if _, err := p.Apply(ctx, i); err != nil {
			t.Errorf("write %d after the reset: %v", i, err)
		}
		if _, ok := get(t, d, ch.DN, "cn"); !ok {
			t.Errorf("%s missing", ch.DN)
		}
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2 (one before the reset, one after)", n)
	}
}
