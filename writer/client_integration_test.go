package writer_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

const (
	ownerAttr  = "extensionAttribute15"
	ownerValue = "xtmsyncd"
)

// newClient returns a writer over the target test directory, restricted to ou, and the number
// of connections it has dialled so far.
func newClient(t *testing.T, d *ldaptest.Dir, ou string, conns int) (*writer.Client, *atomic.Int64) {
	t.Helper()
	var dials atomic.Int64
	dial := func(ctx context.Context) (writer.Conn, error) {
		dials.Add(1)
		c, err := ldapconn.Dial(ctx, &d.Config) // as the writer's connections in production
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := writer.New(dial, writer.Options{BaseDN: d.Base, OU: ou, OwnerAttr: ownerAttr, OwnerValue: ownerValue,
		Anchor: directory.AttrMailNickname, PageSize: 200, Connections: conns}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &dials
}

func tag(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func randomGUID(t *testing.T) directory.GUID {
	t.Helper()
	var g directory.GUID
	if _, err := rand.Read(g[:]); err != nil {
		t.Fatal(err)
	}
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

// addUser adds a user under ou directly (not through the writer) and returns its DN.
func addUser(t *testing.T, d *ldaptest.Dir, ou, name string, attrs map[string][]string) string {
	t.Helper()
	dn := "CN=" + ldap.EscapeDN(name) + "," + ou
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"user"})
	req.Attribute("sAMAccountName", []string{name})
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	if err := d.Conn.Add(req); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
	return dn
}

// get reads dn's attribute directly; ok is false when the object does not exist.
func get(t *testing.T, d *ldaptest.Dir, dn, attr string) (vals []string, ok bool) {
	t.Helper()
	res, err := d.Conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("read %s: %v", dn, err)
	}
	if len(res.Entries) == 0 {
		return nil, false
	}
	return res.Entries[0].GetAttributeValues(attr), true
}

// newUserChange returns the create the plan would make for a new MailUser name in ou.
func newUserChange(ou, name string, key directory.GUID) plan.Change {
	return plan.Change{
		Action: plan.Create, Key: key.String(), Source: "CN=" + name + ",OU=Staff,DC=contoso,DC=test",
		DN: "CN=" + ldap.EscapeDN(name) + "," + ou,
		Attrs: []plan.AttrChange{
			{Name: "objectClass", After: []string{"user"}},
			{Name: "sAMAccountName", After: []string{name}},
			{Name: "displayName", After: []string{"Test " + name}},
			{Name: directory.AttrMailNickname, After: []string{name}},
			{Name: directory.AttrMailboxGUID, After: []string{key.String()}},
			{Name: ownerAttr, After: []string{ownerValue}},
		},
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEntries_ReadsObjectsWithGUIDsDecoded(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	name := "wr" + tag(t)
	key := randomGUID(t)
	dn := addUser(t, d, ou, name, map[string][]string{
		directory.AttrMailboxGUID:     {string(key.AD())},
		directory.AttrSafeSendersHash: {"\x00\x01\xfe\xff"},
		directory.AttrMailNickname:    {name},
		ownerAttr:                     {ownerValue},
	})
	c, _ := newClient(t, d, ou, 1)
	entries, err := c.Entries(ctxT(t))
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	var e *directory.Entry
	for _, x := range entries {
		if strings.EqualFold(x.DN, dn) {
			e = x
		}
	}
	if e == nil {
		t.Fatalf("Entries (%d objects) lacks %s", len(entries), dn)
	}
	if got := e.First(directory.AttrMailboxGUID); got != key.String() {
		t.Errorf("msExchMailboxGuid = %q, want %s", got, key)
	}
	if e.ObjectGUID.IsZero() {
		t.Error("objectGUID not decoded")
	}
	if e.Has(directory.AttrObjectGUID) {
		t.Errorf("objectGUID also kept as an attribute: %q", e.Get(directory.AttrObjectGUID))
	}
	if got := e.First(directory.AttrSafeSendersHash); got != "AAH+/w==" {
		t.Errorf("msExchSafeSendersHash = %q, want base64 AAH+/w==", got)
	}
	if got := e.First(ownerAttr); got != ownerValue {
		t.Errorf("%s = %q: the owner attribute is not read", ownerAttr, got)
	}
	// the objectGUID is the server's, in canonical form
	raw, _ := get(t, d, dn, "objectGUID")
	if g, err := directory.GUIDFromAD([]byte(raw[0])); err != nil || g != e.ObjectGUID {
		t.Errorf("objectGUID %s, the server says %s (%v)", e.ObjectGUID, g, err)
	}
	// objects outside the OU are read too: the plan needs every address in the forest
	outside := 0
	for _, x := range entries {
		if !c.InScope(x.DN) {
			outside++
		}
	}
	if outside == 0 {
		t.Error("Entries returned only objects in the OU, want the whole base")
	}
}

func TestApply_CreateThenUpdate(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	c, _ := newClient(t, d, ou, 1)
	ctx := ctxT(t)
	name := "wr" + tag(t)
	ch := newUserChange(ou, name, randomGUID(t))
	guid, err := c.Apply(ctx, ch)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if g, err := directory.ParseGUID(guid); err != nil || g.IsZero() {
		t.Errorf("create returned objectGUID %q", guid)
	}
	up := plan.Change{Action: plan.Update, Key: ch.Key, Source: ch.Source, DN: ch.DN, ObjectGUID: guid, Attrs: []plan.AttrChange{
		{Name: "displayName", Before: []string{"Test " + name}, After: []string{"Renamed"}},
		{Name: directory.AttrProxyAddresses, Add: []string{"SMTP:" + name + "@northwind.com"}},
	}}
	if got, err := c.Apply(ctx, up); err != nil || got != guid {
		t.Fatalf("update: %q, %v", got, err)
	}
	if v, _ := get(t, d, ch.DN, "displayName"); len(v) != 1 || v[0] != "Renamed" {
		t.Errorf("displayName %q after the update", v)
	}
}

func TestApply_CreateOutsideTheOUIsRefused(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	other := d.TempOU(t, "xtm-out")
	c, dials := newClient(t, d, ou, 1)
	name := "wr" + tag(t)
	for _, tc := range []struct {
		dn    string
		check bool // look for the object afterwards
	}{
		{"CN=" + name + "," + other, true}, // a sibling OU
		{ou, false},                        // the OU itself is not under it
		{"CN=" + name + "," + d.Base, true},
		{"CN=" + name + ",OU=x\\," + ou, false}, // one RDN "x,OU=xtm-wr-…": a suffix match is fooled, RDNs are not
	} {
		ch := newUserChange(ou, name, randomGUID(t))
		ch.DN = tc.dn
		if _, err := c.Apply(ctxT(t), ch); !errors.Is(err, directory.ErrOutOfScope) {
			t.Errorf("create at %s: %v, want ErrOutOfScope", tc.dn, err)
		}
		if tc.check {
			if _, ok := get(t, d, tc.dn, "cn"); ok {
				t.Errorf("%s was written", tc.dn)
			}
		}
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("refused creates dialled %d connections", n)
	}
}

func TestApply_CreateOverAnExistingDNIsStale(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	name := "wr" + tag(t)
	dn := addUser(t, d, ou, name, map[string][]string{"displayName": {"Already Here"}})
	c, _ := newClient(t, d, ou, 1)
	ch := newUserChange(ou, name, randomGUID(t))
	if ch.DN != dn {
		t.Fatalf("test setup: %s != %s", ch.DN, dn)
	}
	if _, err := c.Apply(ctxT(t), ch); !errors.Is(err, directory.ErrStalePlan) {
		t.Fatalf("create over %s: %v, want ErrStalePlan", dn, err)
	}
	if v, _ := get(t, d, dn, "displayName"); len(v) != 1 || v[0] != "Already Here" {
		t.Errorf("displayName %q: the existing object was changed", v)
	}
}

func TestApply_CreateOfAGUIDNowHeldElsewhereIsStale(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	key := randomGUID(t)
	addUser(t, d, ou, "wr"+tag(t), map[string][]string{directory.AttrMailboxGUID: {string(key.AD())}})
	c, _ := newClient(t, d, ou, 1)
	ch := newUserChange(ou, "wr"+tag(t), key)
	if _, err := c.Apply(ctxT(t), ch); !errors.Is(err, directory.ErrStalePlan) {
		t.Fatalf("create of a GUID already held: %v, want ErrStalePlan", err)
	}
	if _, ok := get(t, d, ch.DN, "cn"); ok {
		t.Errorf("%s was written", ch.DN)
	}
}

func TestApply_UpdateWhoseBeforeChangedIsStale(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	name := "wr" + tag(t)
	dn := addUser(t, d, ou, name, map[string][]string{"displayName": {"Changed By Hand"}, ownerAttr: {ownerValue}})
	c, _ := newClient(t, d, ou, 1)
	ch := plan.Change{Action: plan.Update, DN: dn, Source: "CN=x,DC=contoso,DC=test", Attrs: []plan.AttrChange{
		{Name: "displayName", Before: []string{"Planned From"}, After: []string{"From The Plan"}},
	}}
	if _, err := c.Apply(ctxT(t), ch); !errors.Is(err, directory.ErrStalePlan) {
		t.Fatalf("update: %v, want ErrStalePlan", err)
	}
	if v, _ := get(t, d, dn, "displayName"); len(v) != 1 || v[0] != "Changed By Hand" {
		t.Errorf("displayName %q, want the value untouched", v)
	}

	// the same update planned from what the object holds now goes through (case-insensitively)
	ch.Attrs[0].Before = []string{"changed by hand"}
	if _, err := c.Apply(ctxT(t), ch); err != nil {
		t.Fatalf("update from the current value: %v", err)
	}
	if v, _ := get(t, d, dn, "displayName"); len(v) != 1 || v[0] != "From The Plan" {
		t.Errorf("displayName %q after the update", v)
	}
}

func TestApply_PoolOfTwoServesEightWriters(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	c, dials := newClient(t, d, ou, 2)
	if c.Connections() != 2 {
		t.Fatalf("Connections() = %d", c.Connections())
	}
	ctx := ctxT(t)
	base := "wr" + tag(t)
	changes := make([]plan.Change, 8)
	for i := range changes {
		changes[i] = newUserChange(ou, fmt.Sprintf("%s-%d", base, i), randomGUID(t))
	}
	guids := make([]string, len(changes))
	errs := make([]error, len(changes))
	var wg sync.WaitGroup
	for i := range changes {
		wg.Go(func() { guids[i], errs[i] = c.Apply(ctx, changes[i]) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, ch := range changes {
		if errs[i] != nil {
			t.Errorf("create %s: %v", ch.DN, errs[i])
			continue
		}
		if guids[i] == "" || seen[guids[i]] {
			t.Errorf("create %s returned objectGUID %q (seen before: %v)", ch.DN, guids[i], seen[guids[i]])
		}
		seen[guids[i]] = true
		if v, ok := get(t, d, ch.DN, directory.AttrMailboxGUID); !ok || len(v) != 1 || v[0] != string(must(directory.ParseGUID(ch.Key)).AD()) {
			t.Errorf("%s: msExchMailboxGuid % x (exists %v)", ch.DN, v, ok)
		}
	}
	if n := dials.Load(); n < 1 || n > 2 {
		t.Errorf("%d connections dialled for a pool of 2", n)
	}
}

// With a bulk dialer (a connection of its own, as production reads the target forest), EachEntry reads the same
// objects, decoded the same, and opens none of the pool's connections; a bulk dialer that fails
// leaves the read to the pool.
func TestEachEntry_BulkConnectionReadsTheSame(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-bulk")
	// The read is bounded to the test's own OU: other tests write elsewhere in the forest at the
	// same time, and two reads of a changing forest need not agree.
	for i := range 12 {
		name := fmt.Sprintf("bk%d%s", i, tag(t))
		addUser(t, d, ou, name, map[string][]string{
			directory.AttrMailboxGUID:     {string(randomGUID(t).AD())},
			directory.AttrSafeSendersHash: {"\x00\x01\xfe\xff"},
			directory.AttrMailNickname:    {name},
			ownerAttr:                     {ownerValue},
		})
	}
	read := func(bulk ldapsrc.BulkDialer) (map[string]*directory.Entry, int64) {
		var dials atomic.Int64
		dial := func(ctx context.Context) (writer.Conn, error) {
			dials.Add(1)
			return ldapconn.Dial(ctx, &d.Config)
		}
		c, err := writer.New(dial, writer.Options{BaseDN: ou, OU: ou, OwnerAttr: ownerAttr, OwnerValue: ownerValue,
			Anchor: directory.AttrMailNickname, PageSize: 5, Connections: 1, Bulk: bulk}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out := map[string]*directory.Entry{}
		if err := c.EachEntry(ctxT(t), func(e *directory.Entry) error { out[strings.ToLower(e.DN)] = e; return nil }); err != nil {
			t.Fatal(err)
		}
		return out, dials.Load()
	}
	want, _ := read(nil)
	wire := func(ctx context.Context) (ldapsrc.Bulk, error) {
		c, err := ldapconn.Dial(ctx, &d.Config)
		if err != nil {
			return nil, err
		}
		return ldapsrc.BulkConn(c), nil
	}
	got, dials := read(wire)
	if dials != 0 {
		t.Errorf("the pool dialled %d connections although the bulk connection read the forest", dials)
	}
	if len(got) != len(want) || len(want) < 10 {
		t.Fatalf("%d objects with the bulk connection, %d without", len(got), len(want))
	}
	for dn, w := range want {
		if !reflect.DeepEqual(got[dn], w) {
			t.Errorf("%s differs:\n got %+v\nwant %+v", dn, got[dn], w)
		}
	}
	refused := func(context.Context) (ldapsrc.Bulk, error) { return nil, errors.New("refused") }
	fell, dials := read(refused)
	if dials != 1 || len(fell) != len(want) {
		t.Errorf("bulk dial refused: %d objects, %d pool dials; want %d objects on 1 pool connection", len(fell), dials, len(want))
	}
}
