package graphtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/xtmsyncd/xtmsyncd/graph"
)

// ErrNotLoopback is wrapped by the error LoopbackOnly returns for a
// request to a non-loopback host.
var ErrNotLoopback = errors.New("graphtest: refused non-loopback request")

// loopbackOnly is the graph.Doer returned by LoopbackOnly.
type loopbackOnly struct{ c *http.Client }

// LoopbackOnly wraps c and refuses, with an error naming the URL and
// wrapping ErrNotLoopback, any request whose host is not 127.0.0.1, ::1 or
// localhost, so a forgotten production default fails loudly instead of
// reaching the Internet. It implements graph.Doer (and MSAL's HTTPClient).
func LoopbackOnly(c *http.Client) graph.Doer {
	if c == nil {
		c = &http.Client{}
	}
	return &loopbackOnly{c: c}
}

// Do sends r through the wrapped client if its host is a loopback name.
func (l *loopbackOnly) Do(r *http.Request) (*http.Response, error) {
	if r.URL == nil {
		return nil, fmt.Errorf("%w: request without URL", ErrNotLoopback)
	}
	switch r.URL.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return l.c.Do(r)
	}
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return nil, fmt.Errorf("%w to %s %s", ErrNotLoopback, r.Method, r.URL.Redacted())
}

// CloseIdleConnections closes the wrapped client's idle connections.
func (l *loopbackOnly) CloseIdleConnections() { l.c.CloseIdleConnections() }

// StaticToken is a graph.TokenSource that always returns its value.
type StaticToken string

// Token returns s.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }
