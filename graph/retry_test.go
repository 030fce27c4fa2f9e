package graph_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
)

// tenantWithUser returns a fake tenant with user "u1".
func tenantWithUser(t *testing.T) *graphtest.Tenant {
	ten := graphtest.NewTenant(t, testToken, 10)
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "u1", UserPrincipalName: "u1@contoso.com"}, Mailbox: true})
	return ten
}

func TestThrottleRetryAfterThenSuccess(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 2, http.StatusTooManyRequests, "1")
	c, fs := newClient(t, ten, nil)
	start := time.Now()
	u, err := c.User(context.Background(), "u1")
	if err != nil || u.ID != "u1" {
		t.Fatalf("User = %+v, %v", u, err)
	}
	if w := fs.waits(); !slices.Equal(w, []time.Duration{time.Second, time.Second}) {
		t.Errorf("waits = %v, want [1s 1s]", w)
	}
	if n := ten.Requests.Load(); n != 3 {
		t.Errorf("requests = %d, want 3", n)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Error("the client slept for real")
	}
	seen := ten.Seen()
	if seen[0].Header.Get("client-request-id") == seen[1].Header.Get("client-request-id") {
		t.Error("a retry reused the client-request-id")
	}
}

func TestThrottleGiveUpAfterMaxRetries(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 100, http.StatusTooManyRequests, "1")
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) { o.MaxRetries = 3 })
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) {
		t.Fatalf("err = %T %v, want *graph.Error", err, err)
	}
	if ge.Status != 429 || ge.Attempts != 4 || ge.Code != "TooManyRequests" || ge.RequestID == "" || ge.Method != "GET" || !strings.Contains(ge.URL, "/users/u1") {
		t.Errorf("error = %+v", ge)
	}
	if !errors.Is(err, graph.ErrThrottled) || errors.Is(err, graph.ErrNotFound) {
		t.Errorf("Is: %v", err)
	}
	if n := ten.Requests.Load(); n != 4 {
		t.Errorf("requests = %d, want 4", n)
	}
	if len(fs.waits()) != 3 {
		t.Errorf("waits = %v, want 3", fs.waits())
	}
	if !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("message = %q", err.Error())
	}
}

func TestThrottleDefaultMaxRetries(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 100, http.StatusTooManyRequests, "0.5")
	c, fs := newClient(t, ten, nil)
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Attempts != graph.DefaultMaxRetries+1 {
		t.Fatalf("err = %v", err)
	}
	if w := fs.waits(); len(w) != 4 || w[0] != 500*time.Millisecond {
		t.Errorf("waits = %v, want 4 × 500ms", w)
	}
}

func TestThrottleNoRetries(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 1, http.StatusTooManyRequests, "1")
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) { o.MaxRetries = -1 })
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Attempts != 1 || !errors.Is(err, graph.ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
}

func TestThrottleMaxWait(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 1, http.StatusTooManyRequests, "120")
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) { o.MaxWait = 60 * time.Second })
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 429 || ge.Attempts != 1 || !errors.Is(err, graph.ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
	if w := fs.waits(); len(w) != 0 {
		t.Errorf("waited %v, want no wait", w)
	}
}

func TestThrottleMaxWaitCumulative(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 10, http.StatusServiceUnavailable, "25")
	c, fs := newClient(t, ten, func(o *graph.ClientOptions) { o.MaxWait = 60 * time.Second })
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Attempts != 3 || !errors.Is(err, graph.ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
	if w := fs.waits(); !slices.Equal(w, []time.Duration{25 * time.Second, 25 * time.Second}) {
		t.Errorf("waits = %v, want [25s 25s] (a third would pass 60s)", w)
	}
}

func TestBackoffWithoutRetryAfter(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 3, http.StatusTooManyRequests, "")
	c, fs := newClient(t, ten, nil)
	if _, err := c.User(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	w := fs.waits()
	if len(w) != 3 {
		t.Fatalf("waits = %v, want 3", w)
	}
	for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if w[i] < base/2 || w[i] > base {
			t.Errorf("wait %d = %v, want backoff %v with jitter, in [%v, %v]", i+1, w[i], base, base/2, base)
		}
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 1, http.StatusTooManyRequests, time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat))
	c, fs := newClient(t, ten, nil)
	if _, err := c.User(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if w := fs.waits(); !slices.Equal(w, []time.Duration{0}) {
		t.Errorf("waits = %v, want [0] for a past date", w)
	}
}

func TestRetried503And504(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		ten := tenantWithUser(t)
		ten.Throttle("/v1.0/users", 1, status, "2")
		c, fs := newClient(t, ten, nil)
		if _, err := c.User(context.Background(), "u1"); err != nil {
			t.Errorf("%d: %v", status, err)
		}
		if n := ten.Requests.Load(); n != 2 || !slices.Equal(fs.waits(), []time.Duration{2 * time.Second}) {
			t.Errorf("%d: requests %d, waits %v", status, n, fs.waits())
		}
	}
}

func TestNotRetried500And403(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		is     error
	}{
		{http.StatusInternalServerError, "generalException", nil},
		{http.StatusForbidden, "Authorization_RequestDenied", graph.ErrForbidden},
		{http.StatusBadRequest, "Request_BadRequest", nil},
	} {
		ten := tenantWithUser(t)
		ten.Fail("/v1.0/users", 5, tc.status, tc.code, "Insufficient privileges to complete the operation.")
		c, fs := newClient(t, ten, nil)
		_, err := c.User(context.Background(), "u1")
		var ge *graph.Error
		if !errors.As(err, &ge) || ge.Status != tc.status || ge.Code != tc.code || ge.Attempts != 1 {
			t.Errorf("%d: err = %v", tc.status, err)
		}
		if errors.Is(err, graph.ErrThrottled) {
			t.Errorf("%d: must not match ErrThrottled", tc.status)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%d: want Is(%v)", tc.status, tc.is)
		}
		if n := ten.Requests.Load(); n != 1 || len(fs.waits()) != 0 {
			t.Errorf("%d: requests %d, waits %v: must not retry", tc.status, n, fs.waits())
		}
	}
}

func TestHTML502(t *testing.T) {
	ten := tenantWithUser(t)
	ten.FailHTML("/v1.0/users", 1, http.StatusBadGateway)
	c, fs := newClient(t, ten, nil)
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 502 || ge.Code != "" {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(ge.Message, "<html>") || len(ge.Message) > 200 {
		t.Errorf("message = %q (%d bytes), want the first 200 bytes of the body", ge.Message, len(ge.Message))
	}
	if ge.RequestID == "" {
		t.Error("RequestID should come from the request-id header")
	}
	if len(fs.waits()) != 0 {
		t.Error("502 must not be retried")
	}
}

func TestEmptyErrorBody(t *testing.T) {
	ten := tenantWithUser(t)
	ten.FailRaw("/v1.0/users", 1, http.StatusForbidden, "", "")
	c, _ := newClient(t, ten, nil)
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 403 || ge.Message != "Forbidden" || !errors.Is(err, graph.ErrForbidden) {
		t.Fatalf("err = %#v", err)
	}
}

func TestErrorBodyFields(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Fail("/v1.0/users", 1, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	c, _ := newClient(t, ten, nil)
	_, err := c.User(context.Background(), "u1")
	var ge *graph.Error
	if !errors.As(err, &ge) {
		t.Fatal(err)
	}
	sent := ten.Seen()[0].Header.Get("client-request-id")
	if ge.Code != "Authorization_RequestDenied" || ge.Message != "Insufficient privileges to complete the operation." ||
		ge.RequestID == "" || ge.RequestID == sent || ge.ClientRequestID != sent {
		t.Errorf("error = %+v (sent client-request-id %s)", ge, sent)
	}
	for _, part := range []string{"GET", "/users/u1", "403", "Authorization_RequestDenied", ge.RequestID} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("message %q lacks %q", err.Error(), part)
		}
	}
	if strings.Contains(err.Error(), testToken) {
		t.Error("message leaks the token")
	}
}

func TestSleepCancelled(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 5, http.StatusTooManyRequests, "1")
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) {
		o.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, err := c.User(ctx, "u1")
	var ge *graph.Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ge) || ge.Status != 429 {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaultSleepHonoursContext(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 5, http.StatusTooManyRequests, "30")
	c, err := graph.New(graph.ClientOptions{BaseURL: ten.BaseURL(), HTTP: graphtest.LoopbackOnly(ten.Srv.Client()),
		Tokens: graphtest.StaticToken(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.User(ctx, "u1")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestLoopbackOnlyRefusesGraph(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	c, err := graph.New(graph.ClientOptions{HTTP: graphtest.LoopbackOnly(ten.Srv.Client()), Tokens: graphtest.StaticToken(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.User(context.Background(), "u1")
	if !errors.Is(err, graphtest.ErrNotLoopback) || !strings.Contains(err.Error(), "https://graph.microsoft.com/v1.0/users/u1") {
		t.Fatalf("err = %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://login.microsoftonline.com/common/discovery/instance", nil)
	if _, err := graphtest.LoopbackOnly(nil).Do(req); !errors.Is(err, graphtest.ErrNotLoopback) {
		t.Errorf("direct Do: %v", err)
	}
}

func TestRetryLogsWithoutToken(t *testing.T) {
	ten := tenantWithUser(t)
	ten.Throttle("/v1.0/users", 10, http.StatusTooManyRequests, "1")
	var buf bytes.Buffer
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) {
		o.MaxRetries = 2
		o.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if _, err := c.User(context.Background(), "u1"); !errors.Is(err, graph.ErrThrottled) {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "throttled, retrying") != 2 || !strings.Contains(out, "giving up") {
		t.Errorf("log = %s", out)
	}
	if strings.Contains(out, testToken) || strings.Contains(strings.ToLower(out), "bearer") {
		t.Errorf("log leaks the token: %s", out)
	}
}
