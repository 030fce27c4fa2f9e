package graphtest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/graph"
)

// reply carries the per-request ids into responses.
type reply struct {
	ctx       context.Context // the request's
	w         http.ResponseWriter
	requestID string
	clientID  string
}

// json writes a success body.
func (rp reply) json(status int, v any) { writeJSON(rp.w, status, v) }

// error writes a Graph error envelope.
func (rp reply) error(status int, code, message string) {
	writeJSON(rp.w, status, map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"innerError": map[string]any{
			"date": "2026-01-01T00:00:00", "request-id": rp.requestID, "client-request-id": rp.clientID,
		},
	}})
}

// serve is the tenant's handler.
func (t *Tenant) serve(w http.ResponseWriter, r *http.Request) {
	t.Requests.Add(1)
	rp := reply{ctx: r.Context(), w: w, requestID: newID(), clientID: r.Header.Get("client-request-id")}
	if rp.clientID == "" {
		rp.clientID = newID()
	}
	w.Header().Set("request-id", rp.requestID)
	w.Header().Set("client-request-id", rp.clientID)

	authorized := r.Header.Get("Authorization") == "Bearer "+t.Token && t.Token != ""
	h := r.Header.Clone()
	h.Del("Authorization")
	t.mu.Lock()
	t.seen = append(t.seen, SeenRequest{Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(),
		Query: r.URL.Query(), RawQuery: r.URL.RawQuery, Header: h, Authorized: authorized})
	t.mu.Unlock()

	if !authorized {
		if r.Header.Get("Authorization") == "" {
			rp.error(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		} else {
			rp.error(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		}
		return
	}
	if f := t.takeFault(r); f != nil {
		t.writeFault(rp, f)
		return
	}
	if r.Method != http.MethodGet {
		rp.error(http.StatusMethodNotAllowed, "Request_BadRequest", "Only GET is served by the fake tenant.")
		return
	}
	segs, ok := segments(r.URL.EscapedPath())
	if !ok {
		rp.error(http.StatusBadRequest, "BadRequest", "Invalid version or path.")
		return
	}
	q := r.URL.Query()
	switch {
	case len(segs) == 1 && segs[0] == "users":
		t.listUsers(rp, r, q)
	case len(segs) == 2 && segs[0] == "users":
		t.getUser(rp, segs[1], q)
	case len(segs) == 3 && segs[0] == "users" && segs[2] == "licenseDetails":
		t.licenseDetails(rp, r, segs[1], q)
	case len(segs) == 3 && segs[0] == "users" && segs[2] == "mailboxSettings":
		t.mailboxSettings(rp, segs[1])
	case len(segs) == 1 && segs[0] == "groups":
		t.listGroups(rp, r, q)
	case (len(segs) == 3 || len(segs) == 4) && segs[0] == "groups" && segs[2] == "members":
		cast := ""
		if len(segs) == 4 {
			cast = segs[3]
		}
		t.members(rp, r, segs[1], cast, q)
	default:
		rp.error(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+strings.Join(segs, "/")+"'.")
	}
}

// writeFault writes an injected failure.
func (t *Tenant) writeFault(rp reply, f *Fault) {
	switch {
	case f.Reset:
		resetConn(t.tb, rp.w)
		return
	case f.Stall:
		select {
		case <-rp.ctx.Done():
		case <-time.After(30 * time.Second):
		}
		// Answer nothing at all: returning would send an empty 200, which a client racing its
		// own timeout may still read.
		panic(http.ErrAbortHandler)
	}
	if f.RetryAfter != "" {
		rp.w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Code == "" && f.Message == "" {
		if f.ContentType != "" {
			rp.w.Header().Set("Content-Type", f.ContentType)
		}
		rp.w.WriteHeader(f.Status)
		_, _ = rp.w.Write([]byte(f.Body))
		return
	}
	rp.error(f.Status, f.Code, f.Message)
}

// resetConn takes the connection over and closes it with SO_LINGER 0: the
// kernel sends a RST, so the client reads "connection reset by peer" and no
// response.
func resetConn(tb testing.TB, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		tb.Errorf("graphtest: cannot reset the connection: %v", err)
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// segments splits an escaped /v1.0/... path into decoded segments.
func segments(escaped string) ([]string, bool) {
	rest, ok := strings.CutPrefix(escaped, "/v1.0/")
	if !ok || rest == "" {
		return nil, false
	}
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil || s == "" {
			return nil, false
		}
		parts[i] = s
	}
	return parts, true
}

// userProps are the user properties the fake knows for $select.
var userProps = map[string]bool{
	"id": true, "userPrincipalName": true, "mail": true, "mailNickname": true, "proxyAddresses": true,
	"onPremisesSyncEnabled": true, "onPremisesImmutableId": true, "onPremisesDistinguishedName": true,
	"assignedPlans": true, "provisionedPlans": true, "displayName": true, "accountEnabled": true,
	"userType": true, "assignedLicenses": true, "onPremisesSamAccountName": true,
	"onPremisesUserPrincipalName": true, "onPremisesExtensionAttributes": true,
}

// selectList parses $select; nil means "all".
func selectList(q url.Values) []string {
	s := q.Get("$select")
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkUserSelect answers 400 for an unknown property and reports false.
func checkUserSelect(rp reply, sel []string) bool {
	for _, p := range sel {
		if !userProps[p] {
			rp.error(http.StatusBadRequest, "Request_BadRequest", "Could not find a property named '"+p+"' on type 'microsoft.graph.user'.")
			return false
		}
	}
	return true
}

// project marshals v to an object and keeps only sel (all if nil) plus
// the keys in keep.
func project(v any, sel []string, keep ...string) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if sel == nil {
		return m
	}
	out := map[string]any{}
	for _, k := range append(slices.Clone(sel), keep...) {
		if val, ok := m[k]; ok {
			out[k] = val
		}
	}
	return out
}

// parseEq parses a "prop eq 'literal'" filter.
func parseEq(filter string) (prop, value string, ok bool) {
	prop, rest, found := strings.Cut(strings.TrimSpace(filter), " ")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSpace(rest)
	lit, found := strings.CutPrefix(rest, "eq ")
	if !found {
		return "", "", false
	}
	lit = strings.TrimSpace(lit)
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", "", false
	}
	inner := lit[1 : len(lit)-1]
	// A lone quote inside the literal is a syntax error in OData.
	if strings.Count(inner, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
		return "", "", false
	}
	return prop, strings.ReplaceAll(inner, "''", "'"), true
}

// pageOf writes items[offset:offset+size] with a nextLink if more remain.
func (t *Tenant) pageOf(rp reply, r *http.Request, q url.Values, items []any) {
	size := t.PageSize
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 999 {
			rp.error(http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '"+s+"'. Must be between 1 and 999 inclusive.")
			return
		}
		size = min(size, n)
	}
	offset := 0
	if s := q.Get("$skiptoken"); s != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "X'"))
		if err != nil || n < 0 || n > len(items) {
			rp.error(http.StatusBadRequest, "Directory_InvalidSkipToken", "The specified page token value has expired or is invalid.")
			return
		}
		offset = n
	}
	end := min(offset+size, len(items))
	body := map[string]any{"value": items[offset:end]}
	if end < len(items) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skiptoken", "X'"+strconv.Itoa(end))
		body["@odata.nextLink"] = "https://" + r.Host + r.URL.EscapedPath() + "?" + encodeQuery(next)
	}
	rp.json(http.StatusOK, body)
}

// encodeQuery encodes q with sorted, literal keys (so "$top" stays "$top").
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range q[k] {
			parts = append(parts, k+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	return strings.Join(parts, "&")
}

// listUsers serves GET /users.
func (t *Tenant) listUsers(rp reply, r *http.Request, q url.Values) {
	sel := selectList(q)
	if !checkUserSelect(rp, sel) {
		return
	}
	var prop, val string
	if f := q.Get("$filter"); f != "" {
		var ok bool
		prop, val, ok = parseEq(f)
		if !ok || (prop != "userPrincipalName" && prop != "mail" && prop != "onPremisesImmutableId") {
			rp.error(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'User'.")
			return
		}
	}
	t.mu.Lock()
	var items []any
	for _, u := range t.users {
		switch {
		case prop == "userPrincipalName" && !strings.EqualFold(u.UserPrincipalName, val):
			continue
		case prop == "mail" && !strings.EqualFold(u.Mail, val):
			continue
		case prop == "onPremisesImmutableId" && u.OnPremisesImmutableID != val: // base64: case matters
			continue
		}
		items = append(items, project(u.User, sel))
	}
	t.mu.Unlock()
	t.pageOf(rp, r, q, items)
}

// getUser serves GET /users/{id}.
func (t *Tenant) getUser(rp reply, id string, q url.Values) {
	sel := selectList(q)
	if !checkUserSelect(rp, sel) {
		return
	}
	t.mu.Lock()
	u := t.findUser(id)
	var body map[string]any
	if u != nil {
		body = project(u.User, sel)
	}
	t.mu.Unlock()
	if u == nil {
		notFound(rp, id)
		return
	}
	rp.json(http.StatusOK, body)
}

// notFound answers the 404 Graph gives for an unknown object.
func notFound(rp reply, id string) {
	rp.error(http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

// licenseDetails serves GET /users/{id}/licenseDetails.
func (t *Tenant) licenseDetails(rp reply, r *http.Request, id string, q url.Values) {
	t.mu.Lock()
	u := t.findUser(id)
	var items []any
	if u != nil {
		for i, l := range u.Licenses {
			m := project(l, nil)
			m["id"] = u.ID + "-lic-" + strconv.Itoa(i)
			items = append(items, m)
		}
	}
	t.mu.Unlock()
	if u == nil {
		notFound(rp, id)
		return
	}
	t.pageOf(rp, r, q, items)
}

// mailboxSettings serves GET /users/{id}/mailboxSettings.
func (t *Tenant) mailboxSettings(rp reply, id string) {
	t.mu.Lock()
	u := t.findUser(id)
	has := u != nil && u.Mailbox
	t.mu.Unlock()
	switch {
	case u == nil:
		notFound(rp, id)
	case !has:
		rp.error(http.StatusNotFound, graph.MailboxNotEnabledCode, "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	default:
		rp.json(http.StatusOK, map[string]any{
			"timeZone": "UTC", "dateFormat": "yyyy-MM-dd", "timeFormat": "HH:mm",
			"language": map[string]any{"locale": "en-US", "displayName": "English (United States)"},
		})
	}
}

// listGroups serves GET /groups.
func (t *Tenant) listGroups(rp reply, r *http.Request, q url.Values) {
	var mail string
	filtered := false
	if f := q.Get("$filter"); f != "" {
		prop, val, ok := parseEq(f)
		if !ok || prop != "mail" {
			rp.error(http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property of resource 'Group'.")
			return
		}
		mail, filtered = val, true
	}
	sel := selectList(q)
	t.mu.Lock()
	var items []any
	for _, g := range t.groups {
		if filtered && !strings.EqualFold(g.mail, mail) {
			continue
		}
		items = append(items, project(map[string]any{"id": g.id, "mail": g.mail, "displayName": g.id}, sel))
	}
	t.mu.Unlock()
	t.pageOf(rp, r, q, items)
}

// members serves GET /groups/{id}/members[/cast].
func (t *Tenant) members(rp reply, r *http.Request, id, cast string, q url.Values) {
	want := ""
	if cast != "" {
		want = graph.MemberType(cast)
		if want != "user" && want != "group" {
			rp.error(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+cast+"'.")
			return
		}
	}
	sel := selectList(q)
	t.mu.Lock()
	g := t.findGroup(id)
	var items []any
	if g != nil {
		for _, m := range g.members {
			if want != "" && m.Type != want {
				continue
			}
			items = append(items, project(map[string]any{
				"@odata.type": "#microsoft.graph." + odataName(m.Type), "id": m.ID,
				"userPrincipalName": m.UserPrincipalName, "mail": m.Mail, "displayName": m.DisplayName,
			}, sel, "@odata.type", "id"))
		}
	}
	t.mu.Unlock()
	if g == nil {
		notFound(rp, id)
		return
	}
	t.pageOf(rp, r, q, items)
}

// odataName maps a Member.Type back to its Graph type name.
func odataName(typ string) string {
	switch typ {
	case "", "user":
		return "user"
	case "orgcontact":
		return "orgContact"
	case "serviceprincipal":
		return "servicePrincipal"
	}
	return typ
}
