package writer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

// The engine applies through chunks when the writer can prepare them.
var _ engine.Preparer = (*writer.Client)(nil)

// countingConn counts the operations a writer sends to the server.
type countingConn struct {
	writer.Conn
	ops *ops
}

type ops struct{ search, add, modify, del atomic.Int64 }

func (c countingConn) Search(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
	c.ops.search.Add(1)
	return c.Conn.Search(r)
}

func (c countingConn) Add(r *ldap.AddRequest) error {
	c.ops.add.Add(1)
	return c.Conn.Add(r)
}

func (c countingConn) Modify(r *ldap.ModifyRequest) error {
	c.ops.modify.Add(1)
	return c.Conn.Modify(r)
}

func (c countingConn) Del(r *ldap.DelRequest) error {
	c.ops.del.Add(1)
	return c.Conn.Del(r)
}

// newCountingClient is newClient whose connections count the operations sent.
func newCountingClient(t *testing.T, d *ldaptest.Dir, ou string) (*writer.Client, *ops) {
	t.Helper()
	n := &ops{}
	dial := func(ctx context.Context) (writer.Conn, error) {
		c, err := ldapconn.Dial(ctx, &d.Config)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, ops: n}, nil
	}
	c, err := writer.New(dial, writer.Options{BaseDN: d.Base, OU: ou, OwnerAttr: ownerAttr, OwnerValue: ownerValue,
		Anchor: directory.AttrMailNickname, PageSize: 200, Connections: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, n
}

// objectGUID reads dn's objectGUID directly.
func objectGUID(t *testing.T, d *ldaptest.Dir, dn string) string {
	t.Helper()
	raw, ok := get(t, d, dn, "objectGUID")
	if !ok || len(raw) != 1 {
		t.Fatalf("%s: no objectGUID", dn)
	}
	g, err := directory.GUIDFromAD([]byte(raw[0]))
	if err != nil {
		t.Fatal(err)
	}
	return g.String()
}

// ownedUpdate adds an owned user with displayName "Before" and returns the update the plan
// would make of it: displayName Before → After.
func ownedUpdate(t *testing.T, d *ldaptest.Dir, ou, name string) plan.Change {
	t.Helper()
	dn := addUser(t, d, ou, name, map[string][]string{"displayName": {"Before"}, ownerAttr: {ownerValue}})
	return plan.Change{Action: plan.Update, DN: dn, ObjectGUID: objectGUID(t, d, dn), Source: "CN=" + name + ",DC=contoso,DC=test",
		Attrs: []plan.AttrChange{{Name: "displayName", Before: []string{"Before"}, After: []string{"After"}}}}
}

// One chunk, read in one search before any write: each change that no longer holds is refused
// for its own reason, and the others are written.
func TestPrepare_ChunkRefusesWhatChangedAndWritesTheRest(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	c, n := newCountingClient(t, d, ou)
	ctx := ctxT(t)
	base := "wr" + tag(t)
	var (
		clean    = ownedUpdate(t, d, ou, base+"-clean")
		changed  = ownedUpdate(t, d, ou, base+"-changed")
		deleted  = ownedUpdate(t, d, ou, base+"-deleted")
		moved    = ownedUpdate(t, d, ou, base+"-moved")
		unowned  = ownedUpdate(t, d, ou, base+"-unowned")
		byDN     = ownedUpdate(t, d, ou, base+"-bydn")
		create   = newUserChange(ou, base+"-new", randomGUID(t))
		occupied = newUserChange(ou, base+"-occupied", randomGUID(t))
	)
	byDN.ObjectGUID = "" // an older plan without objectGUIDs: read by DN
	addUser(t, d, ou, base+"-occupied", nil)

	// Between plan and apply, by hand:
	set := func(dn string, fn func(*ldap.ModifyRequest)) {
		t.Helper()
		m := ldap.NewModifyRequest(dn, nil)
		fn(m)
		if err := d.Conn.Modify(m); err != nil {
			t.Fatalf("modify %s: %v", dn, err)
		}
	}
	set(changed.DN, func(m *ldap.ModifyRequest) { m.Replace("displayName", []string{"Changed By Hand"}) })
	if err := d.Conn.Del(ldap.NewDelRequest(deleted.DN, nil)); err != nil {
		t.Fatal(err)
	}
	movedTo := "CN=" + base + "-elsewhere," + ou
	if err := d.Conn.ModifyDN(ldap.NewModifyDNRequest(moved.DN, "CN="+base+"-elsewhere", true, "")); err != nil {
		t.Fatal(err)
	}
	set(unowned.DN, func(m *ldap.ModifyRequest) { m.Delete(ownerAttr, nil) })

	chunk := []plan.Change{clean, changed, deleted, moved, unowned, byDN, create, occupied}
	b, err := c.Prepare(ctx, chunk)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := n.search.Load(); got != 2 {
		t.Errorf("Prepare sent %d searches, want 2 (one for the creates, one for the updates)", got)
	}
	errs := make([]error, len(chunk))
	guids := make([]string, len(chunk))
	for i := range chunk {
		guids[i], errs[i] = b.Apply(ctx, i)
	}
	for i, want := range []struct {
		is   error
		says string
	}{
		{nil, ""},
		{directory.ErrStalePlan, "Changed By Hand"},
		{directory.ErrStalePlan, "no longer exists"},
		{directory.ErrStalePlan, "moved to"},
		{directory.ErrNotOwned, "lacks " + ownerAttr},
		{nil, ""},
		{nil, ""},
		{directory.ErrStalePlan, "exists now"},
	} {
		err := errs[i]
		switch {
		case want.is == nil && err != nil:
			t.Errorf("%s: %v, want it written", chunk[i].DN, err)
		case want.is != nil && (!errors.Is(err, want.is) || !strings.Contains(err.Error(), want.says)):
			t.Errorf("%s: %v, want %v saying %q", chunk[i].DN, err, want.is, want.says)
		}
	}
	if errs[3] != nil && !strings.Contains(strings.ToLower(errs[3].Error()), strings.ToLower(movedTo)) {
		t.Errorf("the moved object's error %q does not say where it went (%s)", errs[3], movedTo)
	}
	// Only the clean objects were written; the outside changes were kept.
	for _, x := range []struct {
		dn, want string
	}{
		{clean.DN, "After"}, {byDN.DN, "After"}, {changed.DN, "Changed By Hand"}, {movedTo, "Before"}, {unowned.DN, "Before"},
		{create.DN, "Test " + base + "-new"},
	} {
		if v, _ := get(t, d, x.dn, "displayName"); len(v) != 1 || v[0] != x.want {
			t.Errorf("%s: displayName %q, want %q", x.dn, v, x.want)
		}
	}
	if v, _ := get(t, d, occupied.DN, "displayName"); len(v) != 0 {
		t.Errorf("the object already at %s was written: displayName %q", occupied.DN, v)
	}
	// A create's objectGUID comes afterwards, with every other create of the chunk, in one search.
	if guids[0] != clean.ObjectGUID || guids[5] != objectGUID(t, d, byDN.DN) || guids[6] != "" {
		t.Errorf("objectGUIDs returned %q", guids)
	}
	created, err := b.(interface {
		CreatedGUIDs(context.Context) (map[int]string, error)
	}).CreatedGUIDs(ctx)
	if err != nil || len(created) != 1 || created[6] != objectGUID(t, d, create.DN) {
		t.Errorf("CreatedGUIDs = %v, %v; want only change 6's objectGUID %s", created, err, objectGUID(t, d, create.DN))
	}
	// Server operations: the two chunk searches, one modify per written update, the add and
	// the chunk's one objectGUID search for its creates; no per-change re-read.
	if s, m, a := n.search.Load(), n.modify.Load(), n.add.Load(); s != 3 || m != 2 || a != 1 {
		t.Errorf("%d searches, %d modifies, %d adds; want 3, 2 and 1", s, m, a)
	}
}

// A change outside the OU is refused without a read, and a chunk of nothing but refusals does
// not even connect; each change is sent at most once.
func TestPrepare_RefusalsNeedNoReadAndNothingIsSentTwice(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	other := d.TempOU(t, "xtm-out")
	c, dials := newClient(t, d, ou, 1)
	ctx := ctxT(t)
	out := newUserChange(other, "wr"+tag(t), randomGUID(t))
	b, err := c.Prepare(ctx, []plan.Change{out})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if _, err := b.Apply(ctx, 0); !errors.Is(err, directory.ErrOutOfScope) {
		t.Errorf("create outside the OU: %v, want ErrOutOfScope", err)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("a chunk of refusals dialled %d connections", n)
	}

	up := ownedUpdate(t, d, ou, "wr"+tag(t))
	b, err = c.Prepare(ctx, []plan.Change{up})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if _, err := b.Apply(ctx, 0); err != nil {
		t.Fatalf("update: %v", err)
	}
	if _, err := b.Apply(ctx, 0); err == nil {
		t.Error("the same change applied twice from one chunk")
	}
	if _, err := b.Apply(ctx, 1); err == nil {
		t.Error("Apply of an index outside the chunk succeeded")
	}
	if _, err := c.Prepare(ctx, make([]plan.Change, writer.ChunkSize+1)); err == nil {
		t.Errorf("Prepare of %d changes succeeded", writer.ChunkSize+1)
	}
}

// Creates in one chunk: a DN taken and an ExchangeGUID taken since the plan are both stale.
func TestPrepare_CreatesCheckDNAndExchangeGUIDTogether(t *testing.T) {
	d := ldaptest.Open(t, "target")
	ou := d.TempOU(t, "xtm-wr")
	c, n := newCountingClient(t, d, ou)
	ctx := ctxT(t)
	base := "wr" + tag(t)
	held := randomGUID(t)
	holder := addUser(t, d, ou, base+"-holder", map[string][]string{directory.AttrMailboxGUID: {string(held.AD())}})
	chunk := []plan.Change{newUserChange(ou, base+"-a", randomGUID(t)), newUserChange(ou, base+"-b", held), newUserChange(ou, base+"-c", randomGUID(t))}
	b, err := c.Prepare(ctx, chunk)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for i, ch := range chunk {
		_, err := b.Apply(ctx, i)
		if i == 1 {
			if !errors.Is(err, directory.ErrStalePlan) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(holder)) {
				t.Errorf("create of a held ExchangeGUID: %v, want stale naming %s", err, holder)
			}
			if _, ok := get(t, d, ch.DN, "cn"); ok {
				t.Errorf("%s was written", ch.DN)
			}
			continue
		}
		if err != nil {
			t.Errorf("create %s: %v", ch.DN, err)
		}
	}
	if s := n.search.Load(); s != 1 {
		t.Errorf("%d searches while writing: want only the chunk read (the adds do not read their objectGUID back)", s)
	}
	// The new objects' objectGUIDs: one search for the whole chunk, by change index.
	guids, err := b.(interface {
		CreatedGUIDs(context.Context) (map[int]string, error)
	}).CreatedGUIDs(ctx)
	if err != nil {
		t.Fatalf("CreatedGUIDs: %v", err)
	}
	if s := n.search.Load(); s != 2 {
		t.Errorf("%d searches in all: want the chunk read and one objectGUID read (2)", s)
	}
	if len(guids) != 2 || guids[0] != objectGUID(t, d, chunk[0].DN) || guids[2] != objectGUID(t, d, chunk[2].DN) {
		t.Errorf("CreatedGUIDs = %v, want the objectGUIDs of changes 0 and 2 only (%s, %s)", guids,
			objectGUID(t, d, chunk[0].DN), objectGUID(t, d, chunk[2].DN))
	}
}
