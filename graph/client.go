package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client is a small typed Microsoft Graph v1.0 client. It is safe for
// concurrent use.
type Client struct {
	base       *url.URL
	baseURL    string
	http       Doer
	tokens     TokenSource
	maxRetries int
	maxWait    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
	log        *slog.Logger
	userAgent  string
}

// ClientOptions configure New.
type ClientOptions struct {
	// BaseURL is the Graph v1.0 root, default
	// "https://graph.microsoft.com/v1.0" (national clouds: e.g.
	// "https://graph.microsoft.us/v1.0").
	BaseURL string
	// HTTP sends the requests; nil means an *http.Client with a 100 s
	// timeout.
	HTTP Doer
	// Tokens supplies the bearer token; it is called before every
	// attempt (NewApp's source answers from MSAL's cache). Required.
	Tokens TokenSource
	// MaxRetries is how many times a 429/503/504 is retried, default 4;
	// a negative value disables retries.
	MaxRetries int
	// MaxWait bounds the total Retry-After/backoff wait one request may
	// accumulate, default 60 s. When the next wait would exceed it, the
	// error is returned at once instead of waiting.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends; default a timer. Tests inject a
	// fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives retry and paging diagnostics at Debug/Info level; nil
	// discards them. Tokens are never logged.
	Log *slog.Logger
	// UserAgent is sent as User-Agent, default "xtmsyncd-graph".
	UserAgent string
}

// Defaults of ClientOptions.
const (
	DefaultMaxRetries = 4
	DefaultMaxWait    = 60 * time.Second
)

// New returns a Client. It makes no network call.
func New(o ClientOptions) (*Client, error) {
	if o.Tokens == nil {
		return nil, fmt.Errorf("graph: ClientOptions.Tokens is nil: %w", ErrInvalidArgument)
	}
	raw := strings.TrimRight(o.BaseURL, "/")
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("graph: base URL %q must be an absolute http(s) URL without query: %w", o.BaseURL, ErrInvalidArgument)
	}
	c := &Client{
		base:       base,
		baseURL:    raw,
		http:       o.HTTP,
		tokens:     o.Tokens,
		maxRetries: o.MaxRetries,
		maxWait:    o.MaxWait,
		sleep:      o.Sleep,
		now:        time.Now,
		log:        o.Log,
		userAgent:  o.UserAgent,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: defaultHTTPTimeout}
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxWait
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = "xtmsyncd-graph"
	}
	return c, nil
}

// BaseURL returns the Graph root the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL }

// sleepCtx waits d on a timer, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newUUID returns a random RFC 4122 version 4 UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// drain reads what is left of a response body (bounded) and closes it, so
// the connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	_ = body.Close()
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

// get sends GET rawURL, retrying 429/503/504, and returns the 2xx response
// with its body unread; the caller must drain it. Any other status yields
// an *Error (the body is read and closed here).
func (c *Client) get(ctx context.Context, rawURL string) (*http.Response, error) {
	const method = http.MethodGet
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		resp, crid, err := c.send(ctx, method, rawURL)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		drain(resp.Body)
		gerr := newError(method, rawURL, resp.StatusCode, resp.Header, body, crid)
		gerr.Attempts = attempt
		if !retryable(resp.StatusCode) {
			return nil, gerr
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), c.now())
		if !ok {
			wait = backoff(attempt)
		}
		if attempt > c.maxRetries || waited+wait > c.maxWait {
			c.log.LogAttrs(ctx, slog.LevelWarn, "graph: giving up on throttled request",
				slog.String("method", method), slog.String("url", rawURL),
				slog.Int("status", resp.StatusCode), slog.Int("attempts", attempt),
				slog.Duration("waited", waited), slog.Duration("next_wait", wait),
				slog.String("request_id", gerr.RequestID))
			return nil, gerr
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "graph: throttled, retrying",
			slog.String("method", method), slog.String("url", rawURL),
			slog.Int("status", resp.StatusCode), slog.Int("attempt", attempt),
			slog.Duration("wait", wait), slog.String("request_id", gerr.RequestID))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("graph: %s %s: waiting to retry: %w (last response: %w)", method, rawURL, err, gerr)
		}
		waited += wait
	}
}

// send makes one attempt. It returns the response and the
// client-request-id it sent.
func (c *Client) send(ctx context.Context, method, rawURL string) (*http.Response, string, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("graph: %s %s: get token: %w", method, rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, "", fmt.Errorf("graph: %s %s: %w: %w", method, rawURL, ErrInvalidArgument, err)
	}
	crid := newUUID()
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", crid)
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error carries the URL but never headers, so the token
		// cannot leak through it.
		return nil, crid, fmt.Errorf("graph: %s %s: %w", method, rawURL, err)
	}
	return resp, crid, nil
}
