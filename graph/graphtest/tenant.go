package graphtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/graph"
)

// FakeUser is a user held by a Tenant: the Graph properties, its licence
// details and whether it has an Exchange Online mailbox.
type FakeUser struct {
	graph.User
	Licenses []graph.LicenseDetail
	Mailbox  bool
}

// fakeGroup is a group held by a Tenant.
type fakeGroup struct {
	id, mail string
	members  []graph.Member
}

// Fault is an injected failure: the next Times requests it matches get it
// instead of an answer. Faults are tried in the order they were added.
type Fault struct {
	// Match selects the requests; nil selects those whose decoded path
	// starts with PathPrefix.
	Match      func(r *http.Request) bool
	PathPrefix string
	Times      int
	// Reset closes the connection without answering, with SO_LINGER 0,
	// so the client sees "connection reset by peer".
	Reset bool
	// Stall answers nothing until the client gives up on the request (at
	// most 30 s), so the client sees a timeout.
	Stall bool
	// Otherwise Status is answered: with Code and Message as a Graph JSON
	// error, or when both are empty with Body as ContentType.
	Status            int
	Code, Message     string
	RetryAfter        string
	ContentType, Body string
}

// matches reports whether f applies to r.
func (f *Fault) matches(r *http.Request) bool {
	if f.Match != nil {
		return f.Match(r)
	}
	return strings.HasPrefix(r.URL.Path, f.PathPrefix)
}

// SeenRequest records one request a Tenant received. The Authorization
// header is removed from Header; Authorized says whether it was valid.
type SeenRequest struct {
	Method      string
	Path        string // decoded, e.g. "/v1.0/users/o'neil@contoso.com"
	EscapedPath string // as sent, e.g. "/v1.0/users/o%27neil@contoso.com"
	Query       url.Values
	RawQuery    string
	Header      http.Header
	Authorized  bool
}

// Tenant is a fake Microsoft Graph v1.0 tenant on an httptest TLS server.
// It serves exactly what graph.Client uses, under /v1.0:
//
//	GET /users[?$filter=userPrincipalName eq '…' | mail eq '…' | onPremisesImmutableId eq '…']  (paged)
//	GET /users/{id|upn}
//	GET /users/{id|upn}/licenseDetails                           (paged)
//	GET /users/{id|upn}/mailboxSettings
//	GET /groups[?$filter=mail eq '…']                            (paged)
//	GET /groups/{id}/members[/graph.user|/graph.group|/microsoft.graph.…] (paged)
//
// Collections are paged with min($top, PageSize) items per page and an
// absolute @odata.nextLink built from the request's Host. $select is
// honoured (unknown user properties give 400), so a property the client
// forgot to select comes back empty. A missing or wrong bearer token gets
// 401 InvalidAuthenticationToken, an unknown user or group 404
// Request_ResourceNotFound, mailboxSettings of a user without mailbox 404
// MailboxNotEnabledForRESTAPI. Every response carries request-id and
// client-request-id headers, and error bodies carry the same ids in
// innerError.
type Tenant struct {
	Srv *httptest.Server
	// Token is the bearer token accepted.
	Token string
	// PageSize is the largest page served.
	PageSize int
	// Requests counts every request received.
	Requests atomic.Int64

	tb     testing.TB
	mu     sync.Mutex
	users  []*FakeUser
	groups []*fakeGroup
	faults []*Fault
	seen   []SeenRequest
}

// NewTenant starts a fake tenant accepting token, serving at most pageSize
// items per page (pageSize < 1 means 100). The server is closed when t ends.
func NewTenant(t testing.TB, token string, pageSize int) *Tenant {
	t.Helper()
	if pageSize < 1 {
		pageSize = 100
	}
	ten := &Tenant{Token: token, PageSize: pageSize, tb: t}
	ten.Srv = httptest.NewTLSServer(http.HandlerFunc(ten.serve))
	t.Cleanup(ten.Srv.Close)
	return ten
}

// BaseURL returns the Graph v1.0 root of the fake, for
// graph.ClientOptions.BaseURL.
func (t *Tenant) BaseURL() string { return t.Srv.URL + "/v1.0" }

// AddUser adds (or replaces, by ID) a user.
func (t *Tenant) AddUser(u FakeUser) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp := u
	for i, old := range t.users {
		if old.ID == u.ID {
			t.users[i] = &cp
			return
		}
	}
	t.users = append(t.users, &cp)
}

// SetMailbox sets whether a user (by id or UPN) has a mailbox. It fails
// the test if there is no such user.
func (t *Tenant) SetMailbox(idOrUPN string, has bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.findUser(idOrUPN)
	if u == nil {
		t.tb.Fatalf("graphtest: SetMailbox: no user %q", idOrUPN)
		return
	}
	u.Mailbox = has
}

// AddGroup adds (or replaces) a group with its direct members; a member
// with Type "group" is a nested group.
func (t *Tenant) AddGroup(id, mail string, members ...graph.Member) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := &fakeGroup{id: id, mail: mail, members: slices.Clone(members)}
	for i, old := range t.groups {
		if old.id == id {
			t.groups[i] = g
			return
		}
	}
	t.groups = append(t.groups, g)
}

// Throttle makes the next n requests whose decoded path starts with
// pathPrefix (e.g. "/v1.0/users") fail with status (429, 503 or 504) and a
// Graph JSON error; retryAfter, if not empty, is sent as Retry-After.
func (t *Tenant) Throttle(pathPrefix string, n int, status int, retryAfter string) {
	code := map[int]string{429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}[status]
	if code == "" {
		code = "UnknownError"
	}
	t.Inject(Fault{PathPrefix: pathPrefix, Times: n, Status: status, RetryAfter: retryAfter,
		Code: code, Message: http.StatusText(status)})
}

// Fail makes the next n requests under pathPrefix fail with status and a
// Graph JSON error with code and message.
func (t *Tenant) Fail(pathPrefix string, n int, status int, code, message string) {
	t.Inject(Fault{PathPrefix: pathPrefix, Times: n, Status: status, Code: code, Message: message})
}

// FailHTML makes the next n requests under pathPrefix fail with status and
// an HTML body, as a gateway in front of Graph does (e.g. 502).
func (t *Tenant) FailHTML(pathPrefix string, n int, status int) {
	t.FailRaw(pathPrefix, n, status, "text/html",
		"<html><head><title>"+strconv.Itoa(status)+" "+http.StatusText(status)+"</title></head><body><h1>"+
			http.StatusText(status)+"</h1><p>The server encountered a temporary error and could not complete your request.</p></body></html>")
}

// FailRaw makes the next n requests under pathPrefix fail with status and
// the given body and content type (the body may be empty).
func (t *Tenant) FailRaw(pathPrefix string, n int, status int, contentType, body string) {
	t.Inject(Fault{PathPrefix: pathPrefix, Times: n, Status: status, ContentType: contentType, Body: body})
}

// Reset makes the next n requests under pathPrefix end with the connection
// reset and no answer.
func (t *Tenant) Reset(pathPrefix string, n int) {
	t.Inject(Fault{PathPrefix: pathPrefix, Times: n, Reset: true})
}

// Inject adds a fault.
func (t *Tenant) Inject(f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = append(t.faults, &f)
}

// Seen returns a copy of the requests received so far.
func (t *Tenant) Seen() []SeenRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.seen)
}

// findUser finds a user by id or case-insensitive UPN; t.mu must be held.
func (t *Tenant) findUser(idOrUPN string) *FakeUser {
	for _, u := range t.users {
		if u.ID == idOrUPN || (u.UserPrincipalName != "" && strings.EqualFold(u.UserPrincipalName, idOrUPN)) {
			return u
		}
	}
	return nil
}

// findGroup finds a group by id; t.mu must be held.
func (t *Tenant) findGroup(id string) *fakeGroup {
	for _, g := range t.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

// takeFault consumes and returns the first pending fault matching r.
// Match runs with t.mu held: it must not call the Tenant.
func (t *Tenant) takeFault(r *http.Request) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.faults {
		if f.Times > 0 && f.matches(r) {
			f.Times--
			cp := *f
			return &cp
		}
	}
	return nil
}
