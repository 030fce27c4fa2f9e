package graph

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps a parsed Retry-After so absurd values cannot overflow
// a time.Duration; anything this large exceeds every sane MaxWait anyway.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After header value: delta-seconds (Graph may
// send a fraction, e.g. "1.5") or an HTTP date, relative to now. It reports
// false when the header is absent or unparseable. Negative values and past
// dates yield 0.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		switch {
		case f <= 0:
			return 0, true
		case f >= maxRetryAfter.Seconds():
			return maxRetryAfter, true
		}
		return time.Duration(f * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

// maxBackoff caps the exponential backoff used without Retry-After.
const maxBackoff = 30 * time.Second

// backoff is the base wait before retry number attempt (1-based) when the
// response had no Retry-After, or there was no response: 1s, 2s, 4s, ...
// capped at 30s. The client waits equalJitter of it.
func backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 { // 1s<<5 = 32s already exceeds the cap
		return maxBackoff
	}
	return min(time.Second<<(attempt-1), maxBackoff)
}

// equalJitter returns a random duration in [d/2, d], so that concurrent
// requests failing together do not retry together.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d-d/2+1)
}

// transient reports whether a failed attempt that got no complete response
// is worth retrying: a connection reset, refused or cut short, a timeout,
// a temporary DNS failure. A certificate that does not verify, an unknown
// host, a refused URL or an error of the Doer itself are not.
func transient(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		host      x509.HostnameError
		invalid   x509.CertificateInvalidError
		dns       *net.DNSError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &host), errors.As(err, &invalid):
		return false
	case errors.As(err, &dns):
		return dns.IsTimeout || dns.IsTemporary
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err // *url.Error is itself a net.Error: look inside it
	}
	var ne net.Error
	return errors.As(inner, &ne)
}
