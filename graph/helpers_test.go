package graph_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
)

// testToken is the bearer token the fake tenants accept.
const testToken = "test-token-not-a-secret"

// fakeSleep records requested waits without waiting.
type fakeSleep struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d, or fails if ctx is done.
func (f *fakeSleep) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.d = append(f.d, d)
	return nil
}

// waits returns the recorded waits.
func (f *fakeSleep) waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.d...)
}

// newClient returns a client for ten with a fake sleep; edit adjusts the
// options before New.
func newClient(t *testing.T, ten *graphtest.Tenant, edit func(*graph.ClientOptions)) (*graph.Client, *fakeSleep) {
	t.Helper()
	fs := &fakeSleep{}
	o := graph.ClientOptions{
		BaseURL: ten.BaseURL(),
		HTTP:    graphtest.LoopbackOnly(ten.Srv.Client()),
		Tokens:  graphtest.StaticToken(testToken),
		Sleep:   fs.Sleep,
	}
	if edit != nil {
		edit(&o)
	}
	c, err := graph.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, fs
}

// ptr returns &v.
func ptr[T any](v T) *T { return &v }
