package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Sentinel errors matched by *Error.Is.
var (
	// ErrNotFound matches a 404 response.
	ErrNotFound = errors.New("graph: not found")
	// ErrThrottled matches a 429, 503 or 504 response that was still
	// failing when the client gave up retrying (MaxRetries or MaxWait).
	ErrThrottled = errors.New("graph: throttled")
	// ErrUnauthorized matches a 401 response (missing, expired or wrong
	// token).
	ErrUnauthorized = errors.New("graph: unauthorized")
	// ErrForbidden matches a 403 response (the app lacks a permission).
	ErrForbidden = errors.New("graph: forbidden")
	// ErrTransport matches a request that got no complete response (a
	// connection reset or refused, a timeout) and was still failing when
	// the client gave up retrying (MaxRetries or MaxWait).
	ErrTransport = errors.New("graph: no response")
	// ErrAmbiguous is returned when a lookup that must find one object
	// finds several.
	ErrAmbiguous = errors.New("graph: ambiguous")
)

// Error is a Graph error response: HTTP status, Graph error code and
// message, request id, the request's method and URL, and how many attempts
// were made (more than 1 when 429/503/504 were retried).
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	Method    string
	URL       string
	Attempts  int
	// ClientRequestID is the client-request-id sent with the last
	// attempt (echoed by Graph in the error body).
	ClientRequestID string
}

// Error formats the error without any credential.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %s %s: %d", e.Method, e.URL, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request-id " + e.RequestID + ")")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is reports whether e matches one of the sentinel errors: ErrNotFound for
// 404, ErrUnauthorized for 401, ErrForbidden for 403 and ErrThrottled for
// 429/503/504 (an *Error with those statuses is only returned once retrying
// has been given up).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrThrottled:
		return retryable(e.Status)
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	}
	return false
}

// retryable reports whether status is retried: 429, 503 and 504 only.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests ||
		status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// errorEnvelope is Graph's error body.
type errorEnvelope struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// maxMessageBytes bounds the message taken from a non-JSON error body.
const maxMessageBytes = 200

// newError builds an *Error from a non-2xx response status, headers and
// (already read, possibly truncated) body.
func newError(method, rawURL string, status int, h http.Header, body []byte, clientRequestID string) *Error {
	e := &Error{Status: status, Method: method, URL: rawURL, ClientRequestID: clientRequestID}
	var env errorEnvelope
	if json.Unmarshal(body, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code = env.Error.Code
		e.Message = env.Error.Message
		e.RequestID = env.Error.InnerError.RequestID
		if env.Error.InnerError.ClientRequestID != "" {
			e.ClientRequestID = env.Error.InnerError.ClientRequestID
		}
	} else {
		e.Message = snippet(body)
	}
	if e.RequestID == "" {
		e.RequestID = h.Get("request-id")
	}
	if e.RequestID == "" {
		e.RequestID = e.ClientRequestID
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// snippet returns the first maxMessageBytes of body as trimmed valid UTF-8.
func snippet(body []byte) string {
	if len(body) > maxMessageBytes {
		body = body[:maxMessageBytes]
	}
	// Cutting may have split a rune; ToValidUTF8 drops the remainder.
	return strings.TrimSpace(strings.ToValidUTF8(string(body), ""))
}

// TransportError is a request that got no complete HTTP response, after
// Attempts tries: Err is the last attempt's failure (e.g. a connection reset
// by peer, or a timeout).
type TransportError struct {
	Method, URL     string
	Attempts        int
	ClientRequestID string
	Err             error
}

// Error formats the error without any credential.
func (e *TransportError) Error() string {
	cause := e.Err
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err // it repeats the method and URL
	}
	s := fmt.Sprintf("graph: %s %s: no response: %v", e.Method, e.URL, cause)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	return s
}

// Unwrap returns the last attempt's failure.
func (e *TransportError) Unwrap() error { return e.Err }

// Is matches ErrTransport.
func (e *TransportError) Is(target error) bool { return target == ErrTransport }
