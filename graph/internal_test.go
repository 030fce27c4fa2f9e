package graph

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 2 ", 2 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"0", 0, true},
		{"-3", 0, true},
		{"NaN", 0, false},
		{"1e30", maxRetryAfter, true},
		{"soon", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-10 * time.Second).Format(http.TimeFormat), 0, true},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if backoff(0) != time.Second || backoff(1000) != maxBackoff {
		t.Error("backoff bounds")
	}
}

func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u := newUUID()
		if !re.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated UUID %q", u)
		}
		seen[u] = true
	}
}

func TestNewErrorShapes(t *testing.T) {
	h := http.Header{}
	h.Set("request-id", "hdr-id")
	e := newError("GET", "u", 404, h, []byte(`{"error":{"code":"X","message":"m","innerError":{"request-id":"body-id","client-request-id":"c"}}}`), "sent")
	if e.Code != "X" || e.Message != "m" || e.RequestID != "body-id" || e.ClientRequestID != "c" {
		t.Errorf("%+v", e)
	}
	e = newError("GET", "u", 404, h, []byte(`{"error":{"code":"X"}}`), "sent")
	if e.RequestID != "hdr-id" || e.Message != "Not Found" || e.ClientRequestID != "sent" {
		t.Errorf("code only: %+v", e)
	}
	e = newError("GET", "u", 502, http.Header{}, []byte(strings.Repeat("é", 150)), "sent")
	if len(e.Message) > maxMessageBytes || e.RequestID != "sent" || !strings.HasPrefix(e.Message, "éé") {
		t.Errorf("long body: %d bytes, %+v", len(e.Message), e)
	}
	if e.Is(ErrNotFound) || e.Is(ErrThrottled) {
		t.Error("502 must match no sentinel")
	}
}

func TestEndpointEscaping(t *testing.T) {
	c, err := New(ClientOptions{BaseURL: "https://graph.microsoft.us/v1.0/", Tokens: TokenFunc(nil)})
	if err != nil {
		t.Fatal(err)
	}
	got := c.endpoint([]string{"users", "a/b#c?d'e f@x.com"}, param{"$filter", "mail eq 'a b+c'"}, param{"$top", "999"})
	want := "https://graph.microsoft.us/v1.0/users/a%2Fb%23c%3Fd%27e%20f@x.com?$filter=mail%20eq%20%27a%20b%2Bc%27&$top=999"
	if got != want {
		t.Errorf("endpoint =\n%s\nwant\n%s", got, want)
	}
}

func TestQuoteOData(t *testing.T) {
	if got := QuoteOData("o'brien''x"); got != "'o''brien''''x'" {
		t.Errorf("QuoteOData = %s", got)
	}
}

func TestMemberType(t *testing.T) {
	for in, want := range map[string]string{
		"#microsoft.graph.user": "user", "#microsoft.graph.group": "group", "#microsoft.graph.orgContact": "orgcontact",
		"microsoft.graph.servicePrincipal": "serviceprincipal", "graph.group": "group", "": "",
	} {
		if got := MemberType(in); got != want {
			t.Errorf("MemberType(%q) = %q, want %q", in, got, want)
		}
	}
}
