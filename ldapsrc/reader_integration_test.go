package ldapsrc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

// Demo source forest (testdata/README.md).
const (
	demoBase    = "DC=contoso,DC=test"
	demoStaff   = ",OU=Staff,OU=Contoso,DC=contoso,DC=test"
	demoWave2   = "CN=XTM-Wave2,OU=Groups,OU=Contoso,DC=contoso,DC=test"
	demoPilot   = "CN=Sales (EMEA) *Pilot*,OU=Groups,OU=Contoso,DC=contoso,DC=test"
	annaBergMbx = "2d11ddf7-cc1e-4769-8214-72e43234cd63"
	annaBergArc = "a79c40a6-9151-49ac-9c86-d77e69142a53"
)

// notDirect are the demo mailboxes that are not direct members of the scope group.
var notDirect = []string{"wwalker", "wwood", "qquinn", "uunger", "yyoung"}

func demoReader(t *testing.T, group, filter string, bulk ...bool) (*ldapsrc.Reader, *ldaptest.Dir) {
	t.Helper()
	d := ldaptest.Open(t, "source")
	if d.Base != demoBase {
		t.Fatalf("source base %s, the demo is %s", d.Base, demoBase)
	}
	opt := ldapsrc.Options{BaseDN: d.Base, Group: group, Filter: filter, PageSize: 7}
	if len(bulk) > 0 && bulk[0] {
		opt.Bulk = bulkDialer(t, d)
	}
	return ldapsrc.New(d.Conn, opt, nil), d
}

// bulkDialer opens connections of their own to d, as production reads the mailboxes; the
// dialer fails the test if a dial fails, as the reader would otherwise quietly read on its own
// connection.
func bulkDialer(t *testing.T, d *ldaptest.Dir) ldapsrc.BulkDialer {
	return func(ctx context.Context) (ldapsrc.Bulk, error) {
		c, err := ldapconn.Dial(ctx, &d.Config)
		if err != nil {
			t.Errorf("bulk dial: %v", err)
			return nil, err
		}
		return ldapsrc.BulkConn(c), nil
	}
}

// bothPaths runs f with the mailboxes read on the reader's own connection and on a bulk
// connection of their own.
func bothPaths(t *testing.T, f func(t *testing.T, bulk bool)) {
	for _, bulk := range []bool{false, true} {
		t.Run(map[bool]string{false: "reader connection", true: "bulk connection"}[bulk], func(t *testing.T) { f(t, bulk) })
	}
}

func bySAM(s *directory.Scope) map[string]directory.Mailbox {
	m := map[string]directory.Mailbox{}
	for _, x := range s.Mailboxes {
		m[strings.ToLower(x.SAMAccountName)] = x
	}
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestScope_DemoGroup(t *testing.T) {
	bothPaths(t, func(t *testing.T, bulk bool) {
		r, _ := demoReader(t, ldaptest.DemoScopeGroup, "", bulk)
		s, err := r.Scope(ctx(t))
		if err != nil {
			t.Fatalf("Scope: %v", err)
		}
		got := bySAM(s)
		if len(s.Mailboxes) != 31 || len(got) != 31 {
			names := make([]string, 0, len(got))
			for k := range got {
				names = append(names, k)
			}
			slices.Sort(names)
			t.Errorf("%d mailboxes in scope, want the 31 direct members: %v", len(s.Mailboxes), names)
		}
		for _, sam := range []string{"aberg", "mlopez", "jsmith", "salesdesk", "boardroom", "cmontgomerywells", "tblank", "mkowalska"} {
			m, ok := got[sam]
			if !ok {
				t.Errorf("%s is not in scope", sam)
				continue
			}
			if m.Scope != "group" {
				t.Errorf("%s: scope %q, want group", sam, m.Scope)
			}
		}
		for _, sam := range notDirect {
			if _, ok := got[sam]; ok {
				t.Errorf("%s is in scope; it is not a direct member of the scope group", sam)
			}
		}
		if len(s.NestedGroups) != 1 {
			t.Fatalf("nested groups %+v, want XTM-Wave2 only", s.NestedGroups)
		}
		g := s.NestedGroups[0]
		if !strings.EqualFold(g.DN, demoWave2) {
			t.Errorf("nested group %s, want %s", g.DN, demoWave2)
		}
		wantMembers := []string{"CN=Walter Wood" + demoStaff, "CN=Wendy Walker" + demoStaff}
		if len(g.Members) != 2 || !strings.EqualFold(g.Members[0], wantMembers[0]) || !strings.EqualFold(g.Members[1], wantMembers[1]) {
			t.Errorf("XTM-Wave2 members %q, want %q", g.Members, wantMembers)
		}
		for _, m := range s.Mailboxes {
			for _, w := range wantMembers {
				if strings.EqualFold(m.DN, w) {
					t.Errorf("nested-only member %s is among the mailboxes", m.DN)
				}
			}
		}
		for _, sk := range s.Skipped {
			if strings.EqualFold(sk.DN, demoWave2) {
				t.Errorf("the nested group is also reported as skipped: %+v", sk)
			}
		}
		// Samba answers a subtree search from the domain root with continuation references to
		// the forest's own partitions (Configuration, ...): never followed, never an error, and
		// not reported, as they hold no mailboxes.
		if len(s.Referrals) != 0 {
			t.Errorf("references to the forest's own partitions reported: %v", s.Referrals)
		}
	})
}

func TestScope_DemoGUIDDecoding(t *testing.T) {
	bothPaths(t, func(t *testing.T, bulk bool) {
		r, d := demoReader(t, ldaptest.DemoScopeGroup, "", bulk)
		s, err := r.Scope(ctx(t))
		if err != nil {
			t.Fatalf("Scope: %v", err)
		}
		anna, ok := bySAM(s)["aberg"]
		if !ok {
			t.Fatal("aberg not in scope")
		}
		for _, tc := range []struct {
			name string
			raw  []byte
			want string
		}{{"msExchMailboxGuid", anna.MailboxGUID, annaBergMbx}, {"msExchArchiveGUID", anna.ArchiveGUID, annaBergArc}} {
			g, err := directory.GUIDFromAD(tc.raw)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if g.String() != tc.want {
				t.Errorf("%s decodes to %s, testdata/README.md says %s", tc.name, g, tc.want)
			}
			want, _ := directory.ParseGUID(tc.want)
			if !bytes.Equal(tc.raw, want.AD()) {
				t.Errorf("%s raw bytes % x, want GUID.AD() % x", tc.name, tc.raw, want.AD())
			}
		}
		// objectGUID is decoded the same way: compare with the server's raw value
		res, err := d.Conn.Search(ldap.NewSearchRequest(anna.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"objectGUID"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if raw := res.Entries[0].GetRawAttributeValue("objectGUID"); anna.ObjectGUID.IsZero() || !bytes.Equal(anna.ObjectGUID.AD(), raw) {
			t.Errorf("objectGUID %s, raw % x", anna.ObjectGUID, raw)
		}
		if anna.CN != "Anna Berg" || anna.Alias != "aberg" || len(anna.Proxies) == 0 || anna.TargetAddress == "" {
			t.Errorf("aberg decoded as %+v", anna)
		}
	})
}

func TestScope_GroupDNWithFilterSpecialCharacters(t *testing.T) {
	r, _ := demoReader(t, demoPilot, "")
	s, err := r.Scope(ctx(t))
	if err != nil {
		t.Fatalf("Scope(%s): %v", demoPilot, err)
	}
	var got []string
	for _, m := range s.Mailboxes {
		got = append(got, strings.ToLower(m.SAMAccountName))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"fgarcia", "mkowalska"}) {
		t.Errorf("mailboxes %v, want exactly fgarcia and mkowalska", got)
	}
	if len(s.NestedGroups) != 0 || len(s.Skipped) != 0 {
		t.Errorf("nested %+v, skipped %+v", s.NestedGroups, s.Skipped)
	}
}

func TestScope_MissingGroup(t *testing.T) {
	for _, g := range []string{
		"CN=No Such Group,OU=Groups,OU=Contoso,DC=contoso,DC=test",
		"CN=Anna Berg" + demoStaff, // exists, but is not a group
	} {
		r, _ := demoReader(t, g, "")
		s, err := r.Scope(ctx(t))
		if !errors.Is(err, ldapsrc.ErrScopeGroup) {
			t.Errorf("Scope(%s) = %v, %v; want ErrScopeGroup", g, s, err)
		}
	}
}

func TestScope_FilterOnly(t *testing.T) {
	bothPaths(t, func(t *testing.T, bulk bool) {
		r, _ := demoReader(t, "", "(extensionAttribute1=Cross-Tenant-Project)", bulk)
		s, err := r.Scope(ctx(t))
		if err != nil {
			t.Fatalf("Scope: %v", err)
		}
		got := bySAM(s)
		// other tests may add synthetic users with the attribute concurrently: look for the demo ones
		for _, sam := range []string{"yyoung", "wwalker", "wwood", "aberg", "salesdesk"} {
			m, ok := got[sam]
			if !ok {
				t.Errorf("%s (extensionAttribute1 set) is not in the filter scope", sam)
				continue
			}
			if m.Scope != "filter" {
				t.Errorf("%s: scope %q, want filter", sam, m.Scope)
			}
		}
		for _, sam := range []string{"qquinn", "uunger"} {
			if _, ok := got[sam]; ok {
				t.Errorf("%s has no extensionAttribute1 but is in the filter scope", sam)
			}
		}
		if len(s.NestedGroups) != 0 || len(s.Skipped) != 0 {
			t.Errorf("filter-only scope reports nested %+v, skipped %+v", s.NestedGroups, s.Skipped)
		}
	})
}

func TestScope_GroupAndFilter(t *testing.T) {
	bothPaths(t, func(t *testing.T, bulk bool) {
		r, _ := demoReader(t, ldaptest.DemoScopeGroup, "(extensionAttribute1=Cross-Tenant-Project)", bulk)
		s, err := r.Scope(ctx(t))
		if err != nil {
			t.Fatalf("Scope: %v", err)
		}
		got := bySAM(s)
		if _, ok := got["yyoung"]; ok {
			t.Error("yyoung is not in the scope group but is in scope")
		}
		if m, ok := got["aberg"]; !ok || m.Scope != "group+filter" {
			t.Errorf("aberg: %+v", m.Scope)
		}
	})
}

type countingConn struct {
	ldapsrc.Conn
	n int
}

func (c *countingConn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	c.n++
	return c.Conn.Search(req)
}

func TestRangedValues_LargeGroup(t *testing.T) {
	d := ldaptest.Open(t, "source")
	ou := d.TempOU(t, "xtm-range")
	const n = 1100
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf("CN=c%04d,%s", i, ou)
	}
	// add the contacts over a few connections in parallel
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		conn := d.Conn
		if w > 0 {
			c, err := ldapconn.Dial(ctx(t), &d.Config)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			conn = c
		}
		wg.Go(func() {
			for i := w; i < n; i += workers {
				req := ldap.NewAddRequest(members[i], nil)
				req.Attribute("objectClass", []string{"contact"})
				req.Attribute("cn", []string{fmt.Sprintf("c%04d", i)})
				if err := conn.Add(req); err != nil {
					errs <- fmt.Errorf("add %s: %w", members[i], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	group := "CN=Big Group," + ou
	req := ldap.NewAddRequest(group, nil)
	req.Attribute("objectClass", []string{"group"})
	req.Attribute("sAMAccountName", []string{"big-" + strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=xtm-range-")})
	req.Attribute("member", members)
	if err := d.Conn.Add(req); err != nil {
		t.Fatalf("add %s with %d members: %v", group, n, err)
	}

	counted := &countingConn{Conn: d.Conn}
	got, err := ldapsrc.RangedValues(ctx(t), counted, group, "member")
	if err != nil {
		t.Fatalf("RangedValues: %v", err)
	}
	t.Logf("%d values in %d ranged searches", len(got), counted.n)
	if len(got) != n {
		t.Fatalf("%d values, want %d", len(got), n)
	}
	want := make(map[string]bool, n)
	for _, m := range members {
		want[strings.ToLower(m)] = true
	}
	for _, v := range got {
		if !want[strings.ToLower(v)] {
			t.Errorf("unexpected or repeated value %s", v)
		}
		delete(want, strings.ToLower(v))
	}

	// the scope reader reads the same group: 1,100 members, none of them a user
	r := ldapsrc.New(d.Conn, ldapsrc.Options{BaseDN: ou, Group: group}, nil)
	s, err := r.Scope(ctx(t))
	if err != nil {
		t.Fatalf("Scope: %v", err)
	}
	if len(s.Mailboxes) != 0 || len(s.Skipped) != n {
		t.Errorf("scope of %d contacts: %d mailboxes, %d skipped", n, len(s.Mailboxes), len(s.Skipped))
	}
}

// Members of the scope group that are not mailbox users (a contact, a computer) are reported as
// skipped, never read as mailboxes; a nested group is reported with its members.
func TestScope_SkippedMembersAndNestedGroup(t *testing.T) {
	bothPaths(t, func(t *testing.T, bulk bool) {
		d := ldaptest.Open(t, "source")
		ou := d.TempOU(t, "xtm-skip")
		add := func(dn string, attrs map[string][]string) {
			t.Helper()
			r := ldap.NewAddRequest(dn, nil)
			for k, v := range attrs {
				r.Attribute(k, v)
			}
			if err := d.Conn.Add(r); err != nil {
				t.Fatalf("add %s: %v", dn, err)
			}
		}
		user, contact, computer := "CN=Skip User,"+ou, "CN=Skip Contact,"+ou, "CN=SKIPPC,"+ou
		inner, group := "CN=Skip Inner,"+ou, "CN=Skip Scope,"+ou
		add(user, map[string][]string{"objectClass": {"user"}, "sAMAccountName": {"skipuser" + ou[14:18]}, "mailNickname": {"skipuser"}})
		add(contact, map[string][]string{"objectClass": {"contact"}, "mail": {"someone@example.com"}})
		add(computer, map[string][]string{"objectClass": {"computer"}, "sAMAccountName": {"SKIPPC" + ou[14:18] + "$"}})
		add(inner, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"skipinner" + ou[14:18]}, "member": {user}})
		add(group, map[string][]string{"objectClass": {"group"}, "sAMAccountName": {"skipscope" + ou[14:18]},
			"member": {user, contact, computer, inner}})
		opt := ldapsrc.Options{BaseDN: d.Base, Group: group}
		if bulk {
			opt.Bulk = bulkDialer(t, d)
		}
		s, err := ldapsrc.New(d.Conn, opt, nil).Scope(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Mailboxes) != 1 || !strings.EqualFold(s.Mailboxes[0].DN, user) {
			t.Errorf("mailboxes %+v, want only %s", s.Mailboxes, user)
		}
		var skipped []string
		for _, k := range s.Skipped {
			skipped = append(skipped, strings.ToLower(k.DN))
		}
		slices.Sort(skipped)
		want := []string{strings.ToLower(computer), strings.ToLower(contact)}
		slices.Sort(want)
		if !slices.Equal(skipped, want) {
			t.Errorf("skipped %v, want %v", skipped, want)
		}
		if len(s.NestedGroups) != 1 || !strings.EqualFold(s.NestedGroups[0].DN, inner) || len(s.NestedGroups[0].Members) != 1 {
			t.Errorf("nested groups %+v", s.NestedGroups)
		}
	})
}

// Referrals on the real forest: a subtree search from the domain root gets continuation
// references, every one to the forest's own partitions, so Elsewhere keeps none of them.
func TestPaged_SambaReferralsAreTheForestsOwnPartitions(t *testing.T) {
	d := ldaptest.Open(t, "source")
	refs, err := ldapsrc.Paged(context.Background(), d.Conn, ldap.NewSearchRequest(d.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=organizationalUnit)", []string{"1.1"}, nil), 100, func(*ldap.Entry) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) == 0 {
		t.Fatal("no continuation reference for a subtree search from the domain root")
	}
	if other := ldapsrc.Elsewhere(refs); len(other) != 0 {
		t.Errorf("references %v kept from %v; want none (they are the forest's own partitions)", other, refs)
	}
	t.Logf("references: %v", refs)
}
