package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
)

// inJitter reports whether every wait is the backoff (1s, 2s, 4s, ...) of its retry with equal
// jitter, i.e. in [base/2, base].
func inJitter(t *testing.T, waits []time.Duration) {
	t.Helper()
	for i, w := range waits {
		base := min(time.Second<<i, 30*time.Second)
		if w < base/2 || w > base {
			t.Errorf("wait %d = %v, want in [%v, %v]", i+1, w, base/2, base)
		}
	}
}

// Rule 5: a connection reset is retried with backoff and jitter, like a 429 without
// Retry-After, and the answer that follows is returned.
func TestTransportErrorsAreRetried_ResetThenAnswer(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Reset("/v1.0/users/u1", 2)
	c, fs := newClient(t, ten, nil)
	u, err := c.User(context.Background(), "u1")
	if err != nil || u.ID != "u1" {
		t.Fatalf("User = %+v, %v", u, err)
	}
	if n := ten.Requests.Load(); n != 3 {
		t.Errorf("requests = %d, want 3 (two reset, one answered)", n)
	}
	if w := fs.waits(); len(w) != 2 {
		t.Errorf("waits = %v, want 2", w)
	} else {
		inJitter(t, w)
	}
}

// Rule 5: a storm of resets ends within MaxRetries with a *TransportError that says what
// failed, matches ErrTransport and never ErrNotFound (a reset is not "no such user").
func TestTransportErrorsAreRetried_ResetStormGivesUp(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Reset("/v1.0/users", 100)
	c, fs := newClient(t, ten, nil)
	ok, err := c.HasMailbox(context.Background(), "u1")
	var te *graph.TransportError
	if ok || !errors.As(err, &te) || !errors.Is(err, graph.ErrTransport) || errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("HasMailbox = %v, %v (%T)", ok, err, err)
	}
	if te.Attempts != graph.DefaultMaxRetries+1 || !strings.Contains(err.Error(), "connection reset") ||
		!strings.Contains(err.Error(), "after 5 attempts") || strings.Count(err.Error(), "/users/u1/mailboxSettings") != 1 {
		t.Errorf("error = %q (attempts %d)", err, te.Attempts)
	}
	inJitter(t, fs.waits())
}

// Rule 5: the resets are retried within MaxWait: the next backoff that would pass it is not
// waited.
func TestTransportErrorsAreRetried_WithinMaxWait(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Reset("/v1.0/users", 100)
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) { o.MaxRetries = 10; o.MaxWait = 3 * time.Second })
	_, err := c.User(context.Background(), "u1")
	if !errors.Is(err, graph.ErrTransport) {
		t.Fatalf("err = %v", err)
	}
	var sum time.Duration
	for _, w := range fs.waits() {
		sum += w
	}
	if sum > 3*time.Second || len(fs.waits()) < 1 || len(fs.waits()) > 3 {
		t.Errorf("waits %v (sum %v), want within MaxWait 3s", fs.waits(), sum)
	}
}

// Rule 5: a request the server never answers times out on the HTTP client and is retried the
// same way; the time the timed-out attempts took counts against MaxWait.
func TestTransportErrorsAreRetried_TimeoutCountsAgainstMaxWait(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Inject(graphtest.Fault{PathPrefix: "/v1.0/users", Times: 100, Stall: true})
	hc := ten.Srv.Client()
	hc.Timeout = 300 * time.Millisecond
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) {
		o.HTTP = graphtest.LoopbackOnly(hc)
		o.MaxRetries = 10
		o.MaxWait = 2 * time.Second
	})
	t0 := time.Now()
	_, err := c.User(context.Background(), "u1")
	elapsed := time.Since(t0)
	var te *graph.TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("err = %v", err)
	}
	var waited time.Duration
	for _, w := range fs.waits() {
		waited += w
	}
	// Real attempts plus (fake) waits stay within MaxWait plus the one attempt that gave up.
	if elapsed+waited > 2*time.Second+400*time.Millisecond {
		t.Errorf("spent %v in attempts + %v waiting (%d attempts), want within max_wait 2s", elapsed, waited, te.Attempts)
	}
	if te.Attempts < 2 {
		t.Errorf("a timeout was not retried: %d attempts", te.Attempts)
	}
}

// Rule 5: a certificate that does not verify is not a transient failure: one attempt, no wait.
func TestTransportErrorsAreRetried_ButNotABadCertificate(t *testing.T) {
	ten := tenantWithUser(t)
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) { o.HTTP = graphtest.LoopbackOnly(&http.Client{}) })
	_, err := c.User(context.Background(), "u1")
	if err == nil || errors.Is(err, graph.ErrTransport) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v", err)
	}
	if len(fs.waits()) != 0 {
		t.Errorf("waits = %v: a certificate error was retried", fs.waits())
	}
}

// Rule 5: a cancelled context stops the retries at once, with the context's error.
func TestTransportErrorsAreRetried_UntilTheContextEnds(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Reset("/v1.0/users", 100)
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) {
		o.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, err := c.User(ctx, "u1")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, graph.ErrTransport) {
		t.Fatalf("err = %v", err)
	}
	if n := ten.Requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}
