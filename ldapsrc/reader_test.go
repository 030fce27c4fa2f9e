package ldapsrc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

// fakeConn answers searches with a function and records the requests it got.
type fakeConn struct {
	search func(n int, req *ldap.SearchRequest) (*ldap.SearchResult, error)
	calls  int
	// cookies holds the paging cookie each request carried ("" for none), attrs its attributes.
	cookies []string
	attrs   [][]string
}

func (f *fakeConn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	f.calls++
	cookie := ""
	if pc, ok := ldap.FindControl(req.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
		cookie = string(pc.Cookie)
	}
	f.cookies = append(f.cookies, cookie)
	f.attrs = append(f.attrs, slices.Clone(req.Attributes))
	return f.search(f.calls, req)
}

func pagingReply(cookie string) []ldap.Control {
	pc := ldap.NewControlPaging(0)
	pc.SetCookie([]byte(cookie))
	return []ldap.Control{pc}
}

func entries(prefix string, n int) []*ldap.Entry {
	out := make([]*ldap.Entry, n)
	for i := range out {
		out[i] = ldap.NewEntry(fmt.Sprintf("CN=%s%d,DC=contoso,DC=test", prefix, i), nil)
	}
	return out
}

// threePages serves page 1 (no cookie) → "c1", page 2 ("c1") → "c2", page 3 ("c2") → done; each
// page carries referrals, as AD does for subtree searches from a domain root.
func threePages(t *testing.T) *fakeConn {
	return &fakeConn{search: func(n int, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
		pc, _ := ldap.FindControl(req.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pc == nil || pc.PagingSize != 2 {
			t.Errorf("request %d: paging control %v, want page size 2", n, pc)
		}
		switch string(pc.Cookie) {
		case "":
			return &ldap.SearchResult{Entries: entries("a", 2), Referrals: []string{"ldap://contoso.test/CN=Configuration,DC=contoso,DC=test"},
				Controls: pagingReply("c1")}, nil
		case "c1":
			return &ldap.SearchResult{Entries: entries("b", 2), Referrals: []string{"ldap://x/1", "ldap://x/2"}, Controls: pagingReply("c2")}, nil
		case "c2":
			return &ldap.SearchResult{Entries: entries("c", 1), Controls: pagingReply("")}, nil
		}
		return nil, fmt.Errorf("unexpected cookie %q", pc.Cookie)
	}}
}

func userSearch() *ldap.SearchRequest {
	return ldap.NewSearchRequest("DC=contoso,DC=test", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"cn"}, nil)
}

func TestPaged_FollowsCookiesAndCountsReferrals(t *testing.T) {
	c := threePages(t)
	var got []string
	req := userSearch()
	refs, err := ldapsrc.Paged(context.Background(), c, req, 2, func(e *ldap.Entry) error {
		got = append(got, e.DN)
		return nil
	})
	if err != nil {
		t.Fatalf("Paged: %v", err)
	}
	if len(refs) != 3 {
		t.Errorf("referrals = %v, want the 3 the pages carried", refs)
	}
	// The Configuration partition's reference is the forest's own; the two others are kept.
	if got := ldapsrc.Elsewhere(refs); !slices.Equal(got, []string{"ldap://x/1", "ldap://x/2"}) {
		t.Errorf("Elsewhere = %v, want the two references to another domain", got)
	}
	want := []string{"CN=a0,DC=contoso,DC=test", "CN=a1,DC=contoso,DC=test", "CN=b0,DC=contoso,DC=test", "CN=b1,DC=contoso,DC=test", "CN=c0,DC=contoso,DC=test"}
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	if !slices.Equal(c.cookies, []string{"", "c1", "c2"}) {
		t.Errorf("cookies sent %q, want \"\", c1, c2", c.cookies)
	}
	if len(req.Controls) != 0 {
		t.Errorf("Paged changed the caller's request: controls %v", req.Controls)
	}
}

func TestPaged_ServerWithoutPagingControlIsOnePage(t *testing.T) {
	c := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) {
		return &ldap.SearchResult{Entries: entries("a", 3)}, nil
	}}
	n := 0
	refs, err := ldapsrc.Paged(context.Background(), c, userSearch(), 2, func(*ldap.Entry) error { n++; return nil })
	if err != nil || len(refs) != 0 || n != 3 || c.calls != 1 {
		t.Errorf("refs %v, entries %d, calls %d, err %v", refs, n, c.calls, err)
	}
}

func TestPaged_StopsOnCancelledContext(t *testing.T) {
	t.Run("before the first page", func(t *testing.T) {
		c := threePages(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := ldapsrc.Paged(ctx, c, userSearch(), 2, func(*ldap.Entry) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Paged error %v, want context.Canceled", err)
		}
		if c.calls != 0 {
			t.Errorf("%d searches after the cancel", c.calls)
		}
	})
	t.Run("between pages", func(t *testing.T) {
		c := threePages(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		refs, err := ldapsrc.Paged(ctx, c, userSearch(), 2, func(*ldap.Entry) error {
			n++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Paged error %v, want context.Canceled", err)
		}
		if c.calls != 1 || n != 2 || len(refs) != 1 {
			t.Errorf("searches %d, entries %d, referrals %v; want to stop after the first page", c.calls, n, refs)
		}
	})
}

func TestPaged_CallbackAndSearchErrorsStop(t *testing.T) {
	c := threePages(t)
	boom := errors.New("boom")
	if _, err := ldapsrc.Paged(context.Background(), c, userSearch(), 2, func(*ldap.Entry) error { return boom }); !errors.Is(err, boom) || c.calls != 1 {
		t.Errorf("callback error: %v after %d searches", err, c.calls)
	}
	bad := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) {
		return nil, ldap.NewError(ldap.LDAPResultBusy, errors.New("busy"))
	}}
	if _, err := ldapsrc.Paged(context.Background(), bad, userSearch(), 2, func(*ldap.Entry) error { return nil }); !ldap.IsErrorWithCode(err, ldap.LDAPResultBusy) {
		t.Errorf("search error: %v", err)
	}
}

const groupDN = "CN=Big Group,OU=Groups,DC=contoso,DC=test"

func member(i int) string { return fmt.Sprintf("CN=m%d,OU=Staff,DC=contoso,DC=test", i) }

func TestRangedValues_WalksRanges(t *testing.T) {
	c := &fakeConn{search: func(n int, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
		if req.BaseDN != groupDN || req.Scope != ldap.ScopeBaseObject {
			return nil, fmt.Errorf("search %s scope %d", req.BaseDN, req.Scope)
		}
		var name string
		var lo, hi int
		switch req.Attributes[0] {
		case "member;range=0-*":
			name, lo, hi = "member;range=0-2", 0, 2
		case "member;range=3-*":
			name, lo, hi = "member;range=3-5", 3, 5
		case "member;range=6-*":
			name, lo, hi = "member;range=6-*", 6, 8
		default:
			return nil, fmt.Errorf("unexpected attribute %q", req.Attributes)
		}
		var vals []string
		for i := lo; i <= hi; i++ {
			vals = append(vals, member(i))
		}
		return &ldap.SearchResult{Entries: []*ldap.Entry{{DN: groupDN, Attributes: []*ldap.EntryAttribute{ldap.NewEntryAttribute(name, vals)}}}}, nil
	}}
	got, err := ldapsrc.RangedValues(context.Background(), c, groupDN, "member")
	if err != nil {
		t.Fatalf("RangedValues: %v", err)
	}
	var want []string
	for i := range 9 {
		want = append(want, member(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
	if c.calls != 3 {
		t.Errorf("%d searches, want 3", c.calls)
	}
}

func TestRangedValues_AttributeWithoutRange(t *testing.T) {
	c := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) {
		// a server (or a small attribute) that answers with every value and the plain name
		return &ldap.SearchResult{Entries: []*ldap.Entry{{DN: groupDN, Attributes: []*ldap.EntryAttribute{
			ldap.NewEntryAttribute("Member", []string{member(0), member(1)})}}}}, nil
	}}
	got, err := ldapsrc.RangedValues(context.Background(), c, groupDN, "member")
	if err != nil || !slices.Equal(got, []string{member(0), member(1)}) || c.calls != 1 {
		t.Errorf("values %v, err %v, searches %d", got, err, c.calls)
	}
}

func TestRangedValues_NoValues(t *testing.T) {
	c := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) {
		return &ldap.SearchResult{Entries: []*ldap.Entry{{DN: groupDN}}}, nil
	}}
	got, err := ldapsrc.RangedValues(context.Background(), c, groupDN, "member")
	if err != nil || len(got) != 0 {
		t.Errorf("values %v, err %v", got, err)
	}
}

func TestRangedValues_MissingObjectAndBadRangeAreErrors(t *testing.T) {
	none := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) { return &ldap.SearchResult{}, nil }}
	if _, err := ldapsrc.RangedValues(context.Background(), none, groupDN, "member"); err == nil {
		t.Error("no entry returned: want an error")
	}
	bad := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) {
		return &ldap.SearchResult{Entries: []*ldap.Entry{{DN: groupDN, Attributes: []*ldap.EntryAttribute{
			ldap.NewEntryAttribute("member;range=0-x", []string{member(0)})}}}}, nil
	}}
	if _, err := ldapsrc.RangedValues(context.Background(), bad, groupDN, "member"); err == nil {
		t.Error("malformed range: want an error")
	}
}

func TestRangedValues_StopsOnCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := &fakeConn{search: func(int, *ldap.SearchRequest) (*ldap.SearchResult, error) { return nil, errors.New("must not search") }}
	if _, err := ldapsrc.RangedValues(ctx, c, groupDN, "member"); !errors.Is(err, context.Canceled) || c.calls != 0 {
		t.Errorf("err %v after %d searches", err, c.calls)
	}
}

func TestUserFilter_EscapesHostileGroupDN(t *testing.T) {
	for _, g := range []string{
		"CN=Sales (EMEA) *Pilot*,OU=Groups,OU=Contoso,DC=contoso,DC=test",
		`CN=Back\\slash\,Comma,OU=Groups,DC=contoso,DC=test`,
		"CN=Nul\x00Byte,OU=Groups,DC=contoso,DC=test",
		"CN=x)(objectClass=*,OU=Groups,DC=contoso,DC=test",
		"CN=x))(|(cn=*,DC=contoso,DC=test",
		"CN=Zoë Ünïcode,DC=contoso,DC=test",
	} {
		t.Run(strings.ReplaceAll(g, "\x00", "NUL"), func(t *testing.T) {
			f := ldapsrc.UserFilter(g, "")
			want := "(memberOf=" + ldap.EscapeFilter(g) + ")"
			if !strings.Contains(f, want) {
				t.Errorf("filter %q lacks %q", f, want)
			}
			p, err := ldap.CompileFilter(f)
			if err != nil {
				t.Fatalf("CompileFilter(%q): %v", f, err)
			}
			// the compiled filter is an AND of the 3 parts, and decompiles to the same text:
			// the group DN is one equality value, not filter syntax
			if len(p.Children) != 3 {
				t.Errorf("filter %q compiles to %d terms, want 3", f, len(p.Children))
			}
			back, err := ldap.DecompileFilter(p)
			if err != nil || back != f {
				t.Errorf("DecompileFilter = %q, %v; want %q", back, err, f)
			}
			if strings.Contains(f, "\x00") {
				t.Errorf("filter %q holds a raw NUL", f)
			}
		})
	}
}

func TestUserFilter_Shapes(t *testing.T) {
	for _, tc := range []struct{ group, extra, want string }{
		{"", "", "(&(objectClass=user)(!(objectClass=computer)))"},
		{"CN=G,DC=x", "", "(&(objectClass=user)(!(objectClass=computer))(memberOf=CN=G,DC=x))"},
		{"", "(extensionAttribute1=Cross-Tenant-Project)", "(&(objectClass=user)(!(objectClass=computer))(extensionAttribute1=Cross-Tenant-Project))"},
		{"CN=G,DC=x", "(mail=*)", "(&(objectClass=user)(!(objectClass=computer))(memberOf=CN=G,DC=x)(mail=*))"},
	} {
		if got := ldapsrc.UserFilter(tc.group, tc.extra); got != tc.want {
			t.Errorf("UserFilter(%q, %q) = %q, want %q", tc.group, tc.extra, got, tc.want)
		}
		if _, err := ldap.CompileFilter(ldapsrc.UserFilter(tc.group, tc.extra)); err != nil {
			t.Errorf("UserFilter(%q, %q) does not compile: %v", tc.group, tc.extra, err)
		}
	}
}
