package graphtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestParseEq(t *testing.T) {
	cases := []struct {
		in, prop, val string
		ok            bool
	}{
		{"mail eq 'a@b.c'", "mail", "a@b.c", true},
		{"mail eq 'o''brien@b.c'", "mail", "o'brien@b.c", true},
		{"userPrincipalName eq ''", "userPrincipalName", "", true},
		{"mail eq 'o'brien'", "", "", false},
		{"mail ne 'x'", "", "", false},
		{"mail eq x", "", "", false},
		{"startswith(mail,'x')", "", "", false},
	}
	for _, c := range cases {
		p, v, ok := parseEq(c.in)
		if p != c.prop || v != c.val || ok != c.ok {
			t.Errorf("parseEq(%q) = %q, %q, %v", c.in, p, v, ok)
		}
	}
}

// get sends GET path with token to ten and decodes the JSON body.
func get(t *testing.T, ten *Tenant, path, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ten.Srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := LoopbackOnly(ten.Srv.Client()).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, resp.Header, m
}

// code returns error.code of a Graph error body.
func code(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestTenantResponses(t *testing.T) {
	ten := NewTenant(t, "tok", 2)
	ten.AddUser(FakeUser{})
	ten.AddGroup("g1", "g@x.com")

	st, h, m := get(t, ten, "/v1.0/users/x", "")
	if st != 401 || code(m) != "InvalidAuthenticationToken" || h.Get("request-id") == "" {
		t.Errorf("no token: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/users/x", "other"); st != 401 {
		t.Errorf("wrong token: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/users/x", "tok"); st != 404 || code(m) != "Request_ResourceNotFound" {
		t.Errorf("unknown user: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/users?$select=bogus", "tok"); st != 400 {
		t.Errorf("bad select: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/users?$top=1000", "tok"); st != 400 {
		t.Errorf("$top 1000: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/groups?$filter="+url.QueryEscape("displayName eq 'x'"), "tok"); st != 400 || code(m) != "Request_UnsupportedQuery" {
		t.Errorf("unsupported filter: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/groups/g1/members/graph.group", "tok"); st != 200 {
		t.Errorf("cast segment: %d %v", st, m)
	}
	if st, _, m = get(t, ten, "/v1.0/nothing", "tok"); st != 400 {
		t.Errorf("unknown route: %d %v", st, m)
	}
	ten.Throttle("/v1.0/groups", 1, 429, "7")
	st, h, m = get(t, ten, "/v1.0/groups", "tok")
	inner, _ := m["error"].(map[string]any)["innerError"].(map[string]any)
	if st != 429 || h.Get("Retry-After") != "7" || code(m) != "TooManyRequests" || inner["request-id"] != h.Get("request-id") {
		t.Errorf("throttle: %d %v %v", st, h, m)
	}
	if st, _, _ = get(t, ten, "/v1.0/groups", "tok"); st != 200 {
		t.Errorf("after throttle: %d", st)
	}
	for _, r := range ten.Seen() {
		if r.Header.Get("Authorization") != "" {
			t.Error("Seen keeps the Authorization header")
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	ten := NewTenant(t, "tok", 2)
	for _, host := range []string{"https://example.com/", "https://10.0.0.1/", "https://127.0.0.1.evil.example/"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, host, nil)
		if _, err := LoopbackOnly(ten.Srv.Client()).Do(req); err == nil || !strings.Contains(err.Error(), host) {
			t.Errorf("%s: err = %v", host, err)
		}
	}
	if st, _, _ := get(t, ten, "/v1.0/groups", "tok"); st != 200 {
		t.Errorf("loopback request: %d", st)
	}
}
