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
	jitter     func(d time.Duration) time.Duration
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
	// MaxRetries is how many times a 429/503/504 or a transport failure
	// (connection reset or refused, timeout) is retried, default 4; a
	// negative value disables retries.
	MaxRetries int
	// MaxWait bounds what one request may spend on retries, default 60 s:
	// the Retry-After/backoff waits plus the time the failed attempts
	// took. When the next wait would exceed it, the error is returned at
	// once instead of waiting.
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
		jitter:     equalJitter,
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

// maxBody bounds a 2xx body read into memory (a page of 999 users is a few MB).
const maxBody = 64 << 20

// get sends GET rawURL and returns the status and body of the 2xx response. It retries
// 429/503/504 (Retry-After, else backoff with jitter) and transport failures (connection reset
// or refused, timeout, a body cut short: backoff with jitter), within MaxRetries and MaxWait.
// MaxWait bounds the waits plus the time the failed attempts took, so attempts that time out
// use it up too. Any other status yields an *Error; a transport failure given up on yields a
// *TransportError.
func (c *Client) get(ctx context.Context, rawURL string) (int, []byte, error) {
	const method = http.MethodGet
	var spent time.Duration // waits plus failed attempts
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("graph: %s %s: get token: %w", method, rawURL, err)
		}
		t0 := c.now()
		status, h, body, crid, err := c.send(ctx, method, rawURL, tok)
		var (
			failure error
			wait    time.Duration
			given   bool // Retry-After was sent
			attrs   []slog.Attr
			what    = "throttled"
		)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return 0, nil, fmt.Errorf("graph: %s %s: %w", method, rawURL, err)
			}
			if !transient(err) {
				return 0, nil, fmt.Errorf("graph: %s %s: %w", method, rawURL, err)
			}
			failure = &TransportError{Method: method, URL: rawURL, Attempts: attempt, ClientRequestID: crid, Err: err}
			attrs = []slog.Attr{slog.String("error", err.Error()), slog.String("client_request_id", crid)}
			what = "no response"
		case status >= 200 && status < 300:
			return status, body, nil
		default:
			gerr := newError(method, rawURL, status, h, body, crid)
			gerr.Attempts = attempt
			if !retryable(status) {
				return 0, nil, gerr
			}
			failure = gerr
			wait, given = retryAfter(h.Get("Retry-After"), c.now())
			attrs = []slog.Attr{slog.Int("status", status), slog.String("request_id", gerr.RequestID)}
		}
		if !given {
			wait = c.jitter(backoff(attempt))
		}
		spent += max(c.now().Sub(t0), 0)
		common := []slog.Attr{slog.String("method", method), slog.String("url", rawURL), slog.Int("attempts", attempt)}
		if attempt > c.maxRetries || spent+wait > c.maxWait {
			c.log.LogAttrs(ctx, slog.LevelWarn, "graph: "+what+", giving up",
				append(append(common, attrs...), slog.Duration("spent", spent), slog.Duration("next_wait", wait))...)
			return 0, nil, failure
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "graph: "+what+", retrying",
			append(append(common, attrs...), slog.Duration("wait", wait))...)
		if err := c.sleep(ctx, wait); err != nil {
			return 0, nil, fmt.Errorf("graph: %s %s: waiting to retry: %w (last failure: %w)", method, rawURL, err, failure)
		}
		spent += wait
	}
}

// send makes one attempt and reads the body (a 2xx body up to maxBody, an error body up to
// maxErrorBody). An error means no complete response came back: the request failed, or the
// connection broke while the body was read. It returns the client-request-id it sent.
func (c *Client) send(ctx context.Context, method, rawURL, tok string) (status int, h http.Header, body []byte, crid string, err error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return 0, nil, nil, "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	crid = newUUID()
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", crid)
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error carries the URL but never headers, so the token
		// cannot leak through it.
		return 0, nil, nil, crid, err
	}
	defer drain(resp.Body)
	limit := int64(maxErrorBody)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		limit = maxBody + 1
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit))
	switch {
	case err != nil:
		return 0, nil, nil, crid, fmt.Errorf("read %d response: %w", resp.StatusCode, err)
	case int64(len(body)) > maxBody:
		return 0, nil, nil, crid, fmt.Errorf("%d response larger than %d MB: %w", resp.StatusCode, maxBody>>20, ErrInvalidArgument)
	}
	return resp.StatusCode, resp.Header, body, crid, nil
}
