// Package graph is a small, typed Microsoft Graph v1.0 client for xtmsyncd,
// plus an app-only token source built on the MSAL Go confidential client.
//
// It deliberately avoids msgraph-sdk-go and kiota (see
// shared/reference/graph-offline-testing.md): requests are plain net/http GETs
// with an explicit $select, responses are decoded with encoding/json into the
// few structs xtmsyncd needs, @odata.nextLink pages are followed, and
// 429/503/504 responses (Retry-After, else backoff with jitter) and transport
// failures (connection reset or refused, timeout: backoff with jitter) are
// retried within ClientOptions.MaxRetries and MaxWait.
//
// Errors returned for a Graph response are *Error values; use errors.Is with
// ErrNotFound, ErrThrottled, ErrUnauthorized or ErrForbidden, or errors.As to
// read the status, Graph error code and request id. A request that never got
// a complete response is a *TransportError matching ErrTransport. Token
// failures wrap ErrToken.
//
// Secrets and bearer tokens are never logged or included in error messages.
//
// Package graphtest provides offline fakes (an Entra authority and a Graph
// tenant on httptest TLS servers) and a loopback-only HTTP client for tests.
package graph
