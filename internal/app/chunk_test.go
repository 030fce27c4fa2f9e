package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// Updates are re-read a chunk at a time: in one sync, the objects changed, deleted, moved or
// disowned between plan and apply are each refused for their own reason while the others are
// written, and every write has exactly one intent and one outcome in the journal.
func TestSync_ChunkRefusesWhatChangedSincePlan(t *testing.T) {
	const n = 8
	w, o := synthetic(t, n)
	p, _ := w.sync(t)
	target := map[string]string{} // source DN → target DN
	for _, c := range p.Writable() {
		target[strings.ToLower(c.Source)] = c.DN
	}
	tdn := func(i int) string {
		dn := target[strings.ToLower(o.UserDN(i))]
		if dn == "" {
			t.Fatalf("no MailUser for %s", o.UserDN(i))
		}
		return dn
	}
	// Every source is renamed, so the next plan updates every MailUser ...
	for i := range n {
		modify(t, w.src, o.UserDN(i), func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Renamed " + o.Alias(i)}) })
	}
	r, p2 := w.plan(t)
	if p2.Summary.Update != n {
		t.Fatalf("want %d updates, got %+v", n, p2.Summary)
	}
	// ... but before it is applied, by hand:
	changed, deleted, moved, disowned := tdn(1), tdn(3), tdn(5), tdn(6)
	modify(t, w.tgt, changed, func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Changed By Hand"}) })
	if err := w.tgt.Conn.Del(ldap.NewDelRequest(deleted, nil)); err != nil {
		t.Fatal(err)
	}
	movedTo := "CN=Moved " + o.Alias(5) + "," + w.cfg.Target.OU
	if err := w.tgt.Conn.ModifyDN(ldap.NewModifyDNRequest(moved, "CN=Moved "+o.Alias(5), true, "")); err != nil {
		t.Fatal(err)
	}
	modify(t, w.tgt, disowned, func(r *ldap.ModifyRequest) { r.Delete(w.cfg.Mapping.Owner.Attribute, nil) })

	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync"}, p2, engine.Options{})
	if !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("apply: %v, want some changes refused", err)
	}
	if res.Applied != n-4 || res.Failed != 4 || res.NotTried != 0 {
		t.Errorf("result %+v, want %d applied and 4 refused", res, n-4)
	}
	want := map[string]struct {
		is   error
		says string
	}{
		changed:  {directory.ErrStalePlan, "Changed By Hand"},
		deleted:  {directory.ErrStalePlan, "no longer exists"},
		moved:    {directory.ErrStalePlan, "moved to"},
		disowned: {directory.ErrNotOwned, "lacks"},
	}
	for dn, x := range want {
		var oe *directory.ObjectError
		found := false
		for _, e := range unwrapAll(err) {
			if errors.As(e, &oe) && strings.EqualFold(oe.DN, dn) {
				found = true
				if !errors.Is(oe.Err, x.is) || !strings.Contains(oe.Err.Error(), x.says) {
					t.Errorf("%s: %v, want %v saying %q", dn, oe.Err, x.is, x.says)
				}
			}
		}
		if !found {
			t.Errorf("%s: no error reported", dn)
		}
	}
	// The outside changes were kept; every other MailUser got the new name.
	if got := read(t, w.tgt, changed).GetAttributeValue("displayName"); got != "Changed By Hand" {
		t.Errorf("%s displayName %q", changed, got)
	}
	if got := read(t, w.tgt, movedTo).GetAttributeValue("displayName"); strings.HasPrefix(got, "Renamed") {
		t.Errorf("the moved object was written: displayName %q", got)
	}
	if got := read(t, w.tgt, disowned).GetAttributeValue("displayName"); strings.HasPrefix(got, "Renamed") {
		t.Errorf("the disowned object was written: displayName %q", got)
	}
	for _, i := range []int{0, 2, 4, 7} {
		if got := read(t, w.tgt, tdn(i)).GetAttributeValue("displayName"); got != "Renamed "+o.Alias(i) {
			t.Errorf("%s displayName %q, want the new name", tdn(i), got)
		}
	}
	// The journal: one row per write, none pending, each failure with its reason.
	changes, err := w.j.Changes(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != n {
		t.Fatalf("journal has %d changes for %d writes", len(changes), n)
	}
	seen := map[string]int{}
	for _, c := range changes {
		seen[strings.ToLower(c.DN)]++
		if c.IntentAt.IsZero() || c.OutcomeAt == nil || c.OutcomeAt.Before(c.IntentAt) {
			t.Errorf("change %d %s: intent %v, outcome %v", c.ID, c.DN, c.IntentAt, c.OutcomeAt)
		}
		x, refused := want[c.DN]
		switch {
		case refused && (c.Status != journal.StatusFailed || !strings.Contains(c.Error, x.says)):
			t.Errorf("change %s journaled %s %q, want failed saying %q", c.DN, c.Status, c.Error, x.says)
		case !refused && c.Status != journal.StatusApplied:
			t.Errorf("change %s journaled %s %q, want applied", c.DN, c.Status, c.Error)
		}
	}
	for dn, k := range seen {
		if k != 1 {
			t.Errorf("%s journaled %d times", dn, k)
		}
	}
}

// unwrapAll flattens a tree of joined and wrapped errors.
func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
	case interface{ Unwrap() error }:
		out = append(out, unwrapAll(u.Unwrap())...)
	}
	return out
}

// Creates do not read their objectGUID back one by one; the chunk reads them all afterwards, and
// the journal still holds each new object's objectGUID.
func TestSync_CreatesJournalTheirObjectGUIDs(t *testing.T) {
	const n = 7
	w, _ := synthetic(t, n)
	_, res := w.sync(t)
	if res.Applied != n {
		t.Fatalf("result %+v, want %d creates applied", res, n)
	}
	changes, err := w.j.Changes(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != n {
		t.Fatalf("journal has %d changes for %d creates", len(changes), n)
	}
	for _, c := range changes {
		r, err := w.tgt.Conn.Search(ldap.NewSearchRequest(c.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"objectGUID"}, nil))
		if err != nil || len(r.Entries) != 1 {
			t.Fatalf("read %s: %v", c.DN, err)
		}
		g, err := directory.GUIDFromAD(r.Entries[0].GetRawAttributeValue("objectGUID"))
		if err != nil {
			t.Fatal(err)
		}
		if c.Action != "create" || c.Status != journal.StatusApplied || c.ObjectGUID != g.String() {
			t.Errorf("change %s: %s %s objectGUID %q, want applied create with %s", c.DN, c.Action, c.Status, c.ObjectGUID, g)
		}
	}
}
