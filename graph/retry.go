package graph

import (
	"math"
	"net/http"
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

// backoff is the wait before retry number attempt (1-based) when the
// response had no Retry-After: 1s, 2s, 4s, ... capped at 30s.
func backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 { // 1s<<5 = 32s already exceeds the cap
		return maxBackoff
	}
	return min(time.Second<<(attempt-1), maxBackoff)
}
