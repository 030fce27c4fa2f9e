package rollback_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/rollback"
)

// Rollback inverts a journaled run: each applied change undone only if the object still holds
// what the run wrote; anything changed since is refused (conflict "changed_since") and reported.

const (
	ownerAttr = "extensionAttribute15"
	ownerVal  = "xtmsyncd"
	tdn       = "CN=Lara Newton,OU=Migrated,OU=Users,DC=northwind,DC=test"
	sdn       = "CN=Lara Newton,OU=Staff,DC=contoso,DC=test"
	key       = "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d8"
	eguid     = "0a0b0c0d-0e0f-4011-8213-141516171819" // every entry's objectGUID, as the journal recorded it
)

func opts() rollback.Options { return rollback.Options{OwnerAttr: ownerAttr, OwnerValue: ownerVal} }

// forests holds the objects as they are now, by forest and lower-case DN.
type forests map[string]*directory.Entry

func (f forests) put(forest string, e *directory.Entry) { f[forest+"|"+strings.ToLower(e.DN)] = e }

func (f forests) now(forest, dn string) *directory.Entry { return f[forest+"|"+strings.ToLower(dn)] }

func entry(dn string, kv ...string) *directory.Entry {
	e := directory.NewEntry(dn)
	e.ObjectGUID, _ = directory.ParseGUID(eguid)
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs[kv[i]] = append(e.Attrs[kv[i]], kv[i+1])
	}
	return e
}

func one(t *testing.T, p *plan.Plan) plan.Change {
	t.Helper()
	if len(p.Changes) != 1 {
		t.Fatalf("changes %+v, want one", p.Changes)
	}
	return p.Changes[0]
}

func attrOf(c plan.Change, name string) *plan.AttrChange {
	for i := range c.Attrs {
		if strings.EqualFold(c.Attrs[i].Name, name) {
			return &c.Attrs[i]
		}
	}
	return nil
}

func refused(t *testing.T, c plan.Change, attr string) {
	t.Helper()
	if c.Action != plan.Conflict || c.Reason != "changed_since" {
		t.Fatalf("change %s %s, want conflict changed_since", c.Action, c.Reason)
	}
	if len(c.Attrs) != 0 {
		t.Errorf("a refused change carries attrs %+v", c.Attrs)
	}
	if len(c.Problems) != 1 || c.Problems[0].Code != "changed_since" || c.Problems[0].Attribute != attr ||
		c.Problems[0].Object == "" || c.Problems[0].Fix == "" || c.Problems[0].Found == "" {
		t.Errorf("problems %+v, want one changed_since on %q with object, found and fix", c.Problems, attr)
	}
}

// A replaced value is put back: the inverse's After is the run's Before, and its Before is the
// value the object holds now (which is what the run wrote), so apply refuses it if it moves again.
func TestRollback_ReplaceInverted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change plan.AttrChange
		now    []string
	}{
		{"value replaced", plan.AttrChange{Name: "targetAddress", Before: []string{"SMTP:LaraN@contoso.mail.onmicrosoft.com"}, After: []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}},
			[]string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}},
		{"value compared case-insensitively", plan.AttrChange{Name: "targetAddress", Before: []string{"SMTP:a@contoso.com"}, After: []string{"SMTP:b@northwind.com"}},
			[]string{"smtp:B@Northwind.com"}},
		{"attribute added: the inverse removes it", plan.AttrChange{Name: "msExchRemoteRecipientType", After: []string{"4"}},
			[]string{"4"}},
		{"attribute removed: the inverse restores it", plan.AttrChange{Name: "msExchRemoteRecipientType", Before: []string{"8"}},
			nil},
		{"GUID in another case", plan.AttrChange{Name: "msExchMailboxGuid", After: []string{key}},
			[]string{strings.ToUpper(key)}},
		{"multi-valued replace, order ignored", plan.AttrChange{Name: "publicDelegates", Before: []string{"CN=A"}, After: []string{"CN=A", "CN=B"}},
			[]string{"cn=b", "CN=A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := entry(tdn, ownerAttr, ownerVal)
			e.Set(tc.change.Name, tc.now...)
			f := forests{}
			f.put(plan.ForestTarget, e)
			p := rollback.Plan(9, []rollback.Change{{ObjectGUID: eguid, ID: 41, Key: key, DN: tdn, Forest: plan.ForestTarget, Action: "update", Status: "applied",
				Attrs: []plan.AttrChange{tc.change}}}, f.now, opts())
			c := one(t, p)
			if c.Action != plan.Update || c.DN != tdn || c.Key != key || c.Forest != plan.ForestTarget || c.ObjectGUID != e.ObjectGUID.String() {
				t.Fatalf("change %+v", c)
			}
			want := []plan.AttrChange{{Name: tc.change.Name, Before: tc.now, After: tc.change.Before}}
			if !reflect.DeepEqual(normalize(c.Attrs), normalize(want)) {
				t.Errorf("inverse %+v, want %+v", c.Attrs, want)
			}
			if p.Kind != "rollback" || !strings.Contains(p.Source, "9") || p.Summary.Update != 1 {
				t.Errorf("plan %s %q %+v", p.Kind, p.Source, p.Summary)
			}
			if !strings.Contains(c.Source, "41") {
				t.Errorf("source %q does not name the journal change", c.Source)
			}
		})
	}
}

// normalize makes nil and empty slices equal for comparisons.
func normalize(as []plan.AttrChange) []plan.AttrChange {
	out := slices.Clone(as)
	for i := range out {
		for _, s := range []*[]string{&out[i].Before, &out[i].After, &out[i].Add, &out[i].Delete} {
			if len(*s) == 0 {
				*s = nil
			}
		}
	}
	return out
}

// Incremental proxyAddresses changes are inverted value by value (Add <-> Delete), so values
// written by others since (Azure AD Connect's write-back x500) are left alone.
func TestRollback_IncrementalInverted(t *testing.T) {
	writeBack := "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=abc-LaraN"
	run := plan.AttrChange{Name: "proxyAddresses",
		Before: []string{"SMTP:lara.newton@northwind.com", "smtp:lara@contoso.com"},
		Add:    []string{"smtp:LaraN@northwind.mail.onmicrosoft.com", "x500:/o=Contoso/cn=LaraN"},
		Delete: []string{"smtp:lara@contoso.com"}}
	now := []string{"SMTP:lara.newton@northwind.com", "smtp:laran@northwind.mail.onmicrosoft.com", "x500:/o=Contoso/cn=LaraN", writeBack}
	f := forests{}
	f.put(plan.ForestTarget, entry(tdn, ownerAttr, ownerVal))
	f.now(plan.ForestTarget, tdn).Set("proxyAddresses", now...)
	c := one(t, rollback.Plan(1, []rollback.Change{{ObjectGUID: eguid, ID: 1, DN: tdn, Action: "update", Status: "applied", Attrs: []plan.AttrChange{run}}}, f.now, opts()))
	if c.Action != plan.Update {
		t.Fatalf("change %+v", c)
	}
	a := attrOf(c, "proxyAddresses")
	if a == nil || !slices.Equal(a.Add, run.Delete) || !slices.Equal(a.Delete, run.Add) || len(a.After) != 0 || !slices.Equal(a.Before, now) {
		t.Errorf("inverse %+v, want add %q delete %q before %q", a, run.Delete, run.Add, now)
	}
	if c.Forest != plan.ForestTarget {
		t.Errorf("a journal change without a forest is a target change, got %q", c.Forest)
	}
}

// A sync that flipped a proxy's primary-ness journals Delete "smtp:x" + Add "SMTP:x" (plan's
// diffProxies). Its inverse must be allowed while the object still holds exactly "SMTP:x".
func TestRollback_PrimaryFlipInverted(t *testing.T) {
	run := plan.AttrChange{Name: "proxyAddresses",
		Before: []string{"smtp:dave@northwind.com", "smtp:dave@northwind.mail.onmicrosoft.com"},
		Add:    []string{"SMTP:dave@northwind.com"},
		Delete: []string{"smtp:dave@northwind.com"}}
	f := forests{}
	f.put(plan.ForestTarget, entry(tdn, ownerAttr, ownerVal))
	f.now(plan.ForestTarget, tdn).Set("proxyAddresses", "SMTP:dave@northwind.com", "smtp:dave@northwind.mail.onmicrosoft.com")
	c := one(t, rollback.Plan(1, []rollback.Change{{ObjectGUID: eguid, ID: 1, DN: tdn, Action: "update", Status: "applied", Attrs: []plan.AttrChange{run}}}, f.now, opts()))
	if c.Action != plan.Update {
		t.Fatalf("primary flip not rolled back: %s %+v", c.Action, c.Problems)
	}
	if a := attrOf(c, "proxyAddresses"); a == nil || !slices.Equal(a.Add, run.Delete) || !slices.Equal(a.Delete, run.Add) {
		t.Errorf("inverse %+v", a)
	}
}

// Refused, never written: the object changed after the run.
func TestRollback_RefusedWhenChangedSince(t *testing.T) {
	replace := plan.AttrChange{Name: "targetAddress", Before: []string{"SMTP:old@contoso.com"}, After: []string{"SMTP:new@northwind.com"}}
	incr := plan.AttrChange{Name: "proxyAddresses", Add: []string{"smtp:added@northwind.com"}, Delete: []string{"smtp:deleted@contoso.com"}}
	for _, tc := range []struct {
		name   string
		attrs  []plan.AttrChange
		now    *directory.Entry // nil: the object is gone
		action string
		attr   string
	}{
		{"a replaced value differs", []plan.AttrChange{replace},
			entry(tdn, "targetAddress", "SMTP:by-hand@northwind.com"), "update", "targetAddress"},
		{"a replaced value was removed", []plan.AttrChange{replace}, entry(tdn), "update", "targetAddress"},
		{"a removed attribute is back", []plan.AttrChange{{Name: "msExchRemoteRecipientType", Before: []string{"8"}}},
			entry(tdn, "msExchRemoteRecipientType", "8"), "update", "msExchRemoteRecipientType"},
		{"a multi-valued replace gained a value", []plan.AttrChange{{Name: "publicDelegates", After: []string{"CN=A"}}},
			entry(tdn, "publicDelegates", "CN=A", "publicDelegates", "CN=B"), "update", "publicDelegates"},
		{"an added value is gone", []plan.AttrChange{incr},
			entry(tdn, "proxyAddresses", "SMTP:lara@northwind.com"), "update", "proxyAddresses"},
		{"a deleted value is back", []plan.AttrChange{incr},
			entry(tdn, "proxyAddresses", "smtp:added@northwind.com", "proxyAddresses", "smtp:DELETED@contoso.com"), "update", "proxyAddresses"},
		{"the second attribute changed: nothing is undone", []plan.AttrChange{
			{Name: "msExchRecipientTypeDetails", Before: []string{"128"}, After: []string{"2147483648"}}, replace},
			entry(tdn, "msExchRecipientTypeDetails", "2147483648", "targetAddress", "SMTP:elsewhere@northwind.com"), "update", "targetAddress"},
		{"binary values compare exactly", []plan.AttrChange{{Name: "msExchSafeSendersHash", After: []string{"AAECAw=="}}},
			entry(tdn, "msExchSafeSendersHash", "aaecaw=="), "update", "msExchSafeSendersHash"},
		{"the object is gone", []plan.AttrChange{replace}, nil, "update", ""},
		{"a created object is gone", []plan.AttrChange{{Name: "cn", After: []string{"Lara Newton"}}}, nil, "create", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := forests{}
			if tc.now != nil {
				tc.now.Set(ownerAttr, ownerVal)
				f.put(plan.ForestTarget, tc.now)
			}
			p := rollback.Plan(3, []rollback.Change{{ObjectGUID: eguid, ID: 7, Key: key, DN: tdn, Forest: plan.ForestTarget, Action: tc.action, Status: "applied", Attrs: tc.attrs}}, f.now, opts())
			refused(t, one(t, p), tc.attr)
			if p.Summary.Conflict != 1 || p.Summary.Writes() != 0 {
				t.Errorf("summary %+v", p.Summary)
			}
		})
	}
}

// An object the run created is deleted only while it is still xtmsyncd's (owner marker) and every
// attribute it was created with is unchanged; objectClass is ignored, since AD adds the
// superclasses.
func TestRollback_CreateDeletedOnlyWhenOwnedAndUnchanged(t *testing.T) {
	created := []plan.AttrChange{
		{Name: "objectClass", After: []string{"user"}},
		{Name: "cn", After: []string{"Lara Newton"}},
		{Name: "msExchMailboxGuid", After: []string{key}},
		{Name: "proxyAddresses", After: []string{"SMTP:lara.newton@northwind.com", "smtp:LaraN@northwind.mail.onmicrosoft.com"}},
		{Name: ownerAttr, After: []string{ownerVal}},
	}
	asCreated := func() *directory.Entry {
		e := entry(tdn, "objectClass", "top", "objectClass", "person", "objectClass", "organizationalPerson", "objectClass", "user",
			"cn", "Lara Newton", "msExchMailboxGuid", key, ownerAttr, ownerVal,
			"proxyAddresses", "smtp:LaraN@northwind.mail.onmicrosoft.com", "proxyAddresses", "SMTP:lara.newton@northwind.com",
			"whenCreated", "20240101000000.0Z") // attributes AD adds are not compared
		return e
	}
	for _, tc := range []struct {
		name   string
		mutate func(e *directory.Entry)
		attr   string // "" = deleted
	}{
		{"unchanged: deleted", func(*directory.Entry) {}, ""},
		{"values in another case: deleted", func(e *directory.Entry) { e.Set("cn", "LARA NEWTON") }, ""},
		{"owner marker in another case: deleted", func(e *directory.Entry) { e.Set(ownerAttr, "XTMSYNCD") }, ""},
		{"owner marker removed", func(e *directory.Entry) { e.Set(ownerAttr) }, ownerAttr},
		{"owner marker changed", func(e *directory.Entry) { e.Set(ownerAttr, "taken-over") }, ownerAttr},
		{"a created attribute changed", func(e *directory.Entry) { e.Set("msExchMailboxGuid", "0f0e0d0c-0b0a-4908-8706-050403020100") }, "msExchMailboxGuid"},
		{"a value was added to a created attribute (write-back x500)", func(e *directory.Entry) {
			e.Set("proxyAddresses", append(slices.Clone(e.Get("proxyAddresses")), "X500:/o=ExchangeLabs/cn=cloud")...)
		}, "proxyAddresses"},
		{"a created attribute was removed", func(e *directory.Entry) { e.Set("cn") }, "cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := asCreated()
			tc.mutate(e)
			f := forests{}
			f.put(plan.ForestTarget, e)
			p := rollback.Plan(2, []rollback.Change{{ObjectGUID: eguid, ID: 5, Key: key, DN: tdn, Forest: plan.ForestTarget, Action: "create", Status: "applied", Attrs: created}}, f.now, opts())
			c := one(t, p)
			if tc.attr != "" {
				refused(t, c, tc.attr)
				return
			}
			if c.Action != plan.Delete || c.DN != tdn || c.Forest != plan.ForestTarget || p.Summary.Delete != 1 || p.Summary.Writes() != 1 {
				t.Fatalf("change %+v, summary %+v; want a delete", c, p.Summary)
			}
			if attrOf(c, "objectClass") != nil {
				t.Errorf("objectClass is listed: %+v", c.Attrs)
			}
			for _, a := range created[1:] {
				got := attrOf(c, a.Name)
				if got == nil || !slices.Equal(got.Before, e.Get(a.Name)) || len(got.After) != 0 {
					t.Errorf("%s: %+v, want before = the current values %q", a.Name, got, e.Get(a.Name))
				}
			}
		})
	}
}

// Only applied changes are undone; failed and pending ones never reached the directory.
func TestRollback_OnlyAppliedChanges(t *testing.T) {
	f := forests{}
	f.put(plan.ForestTarget, entry(tdn, "targetAddress", "SMTP:new@northwind.com"))
	ch := func(id int64, status string) rollback.Change {
		return rollback.Change{ObjectGUID: eguid, ID: id, DN: tdn, Forest: plan.ForestTarget, Action: "update", Status: status,
			Attrs: []plan.AttrChange{{Name: "targetAddress", Before: []string{"SMTP:old@contoso.com"}, After: []string{"SMTP:new@northwind.com"}}}}
	}
	p := rollback.Plan(1, []rollback.Change{ch(1, "failed"), ch(2, "applied"), ch(4, "planned"), ch(5, "")}, f.now, opts())
	c := one(t, p)
	if !strings.Contains(c.Source, "2") || c.Action != plan.Update {
		t.Errorf("change %+v, want only journal change 2", c)
	}
	if p := rollback.Plan(1, []rollback.Change{ch(1, "failed")}, f.now, opts()); len(p.Changes) != 0 || p.Summary != (plan.Summary{}) {
		t.Errorf("nothing applied, yet %+v", p)
	}
}

// A change whose outcome was never proven (pending: the run crashed between its write and its
// outcome; unknown: the connection dropped after the write was sent) is never undone, whatever
// the object holds now: recovery settles it against the directory first (Settle), and what it
// could not prove is listed as a conflict for a person to check.
func TestRollback_UnprovenOutcomeNeverUndone(t *testing.T) {
	written := forests{}
	written.put(plan.ForestTarget, entry(tdn, "targetAddress", "SMTP:new@northwind.com", ownerAttr, ownerVal))
	for _, status := range []string{"pending", "unknown"} {
		for _, action := range []string{"update", "create"} {
			c := rollback.Change{ID: 3, DN: tdn, Forest: plan.ForestTarget, Action: action, Status: status, ObjectGUID: eguid,
				Attrs: []plan.AttrChange{{Name: "targetAddress", Before: []string{"SMTP:old@contoso.com"}, After: []string{"SMTP:new@northwind.com"}}}}
			got := one(t, rollback.Plan(1, []rollback.Change{c}, written.now, opts()))
			if got.Action != plan.Conflict || got.Reason != "outcome_not_known" || len(got.Problems) != 1 || got.Problems[0].Fix == "" {
				t.Errorf("%s %s: %+v, want a conflict outcome_not_known", status, action, got)
			}
		}
	}
	// not applied (settled: it did not happen) and failed wrote nothing: nothing to show
	for _, status := range []string{"not_applied", "failed"} {
		c := rollback.Change{ID: 3, DN: tdn, Action: "update", Status: status, ObjectGUID: eguid}
		if p := rollback.Plan(1, []rollback.Change{c}, written.now, opts()); len(p.Changes) != 0 {
			t.Errorf("%s: %+v", status, p.Changes)
		}
	}
}

// Rollback by identity: the object at the DN must be the one the run wrote. One re-created
// since (another objectGUID: a re-run, another journal's sync, an admin) is never touched, and
// a change whose objectGUID the journal lacks is not undone on the strength of its values.
func TestRollback_OnlyTheObjectTheRunWrote(t *testing.T) {
	other := forests{}
	e := entry(tdn, ownerAttr, ownerVal, "mail", "lara@northwind.com")
	e.ObjectGUID, _ = directory.ParseGUID("99999999-0e0f-4011-8213-141516171819")
	other.put(plan.ForestTarget, e)
	same := forests{}
	same.put(plan.ForestTarget, entry(tdn, ownerAttr, ownerVal, "mail", "lara@northwind.com"))
	created := []plan.AttrChange{{Name: ownerAttr, After: []string{ownerVal}}, {Name: "mail", After: []string{"lara@northwind.com"}}}
	for _, tc := range []struct {
		name   string
		guid   string
		now    forests
		action plan.Action
		reason string
	}{
		{"the run's object: deleted", eguid, same, plan.Delete, ""},
		{"the run's object, GUID in another case: deleted", strings.ToUpper(eguid), same, plan.Delete, ""},
		{"re-created since with the same values: refused", eguid, other, plan.Conflict, "not_the_same_object"},
		{"no objectGUID journaled: refused", "", same, plan.Conflict, "identity_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := one(t, rollback.Plan(1, []rollback.Change{{ID: 1, Key: key, DN: tdn, Forest: plan.ForestTarget, Action: "create",
				Status: "applied", ObjectGUID: tc.guid, Attrs: created}}, tc.now.now, opts()))
			if c.Action != tc.action || c.Reason != tc.reason {
				t.Fatalf("%s %s, want %s %s", c.Action, c.Reason, tc.action, tc.reason)
			}
			if c.Action == plan.Conflict && (len(c.Problems) != 1 || c.Problems[0].Attribute != directory.AttrObjectGUID || c.Problems[0].Fix == "") {
				t.Errorf("problems %+v", c.Problems)
			}
		})
	}
}

// Newest first: a run that changed the same attribute twice is unwound in reverse.
func TestRollback_NewestFirst(t *testing.T) {
	f := forests{}
	f.put(plan.ForestTarget, entry(tdn, "targetAddress", "SMTP:c@northwind.com", "displayName", "Lara", ownerAttr, ownerVal))
	f.put(plan.ForestSource, entry(sdn, "targetAddress", "SMTP:c@northwind.com"))
	changes := []rollback.Change{
		{ObjectGUID: eguid, ID: 10, DN: tdn, Forest: plan.ForestTarget, Action: "update", Status: "applied",
			Attrs: []plan.AttrChange{{Name: "displayName", Before: []string{"L"}, After: []string{"Lara"}}}},
		{ObjectGUID: eguid, ID: 11, DN: sdn, Forest: plan.ForestSource, Action: "update", Status: "applied",
			Attrs: []plan.AttrChange{{Name: "targetAddress", Before: []string{"SMTP:a@contoso.com"}, After: []string{"SMTP:c@northwind.com"}}}},
		{ObjectGUID: eguid, ID: 12, DN: tdn, Forest: plan.ForestTarget, Action: "update", Status: "applied",
			Attrs: []plan.AttrChange{{Name: "targetAddress", Before: []string{"SMTP:a@contoso.com"}, After: []string{"SMTP:c@northwind.com"}}}},
	}
	p := rollback.Plan(4, changes, f.now, opts())
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Source)
	}
	want := []string{"journal change 12", "journal change 11", "journal change 10"}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	if p.Summary.Update != 3 {
		t.Errorf("summary %+v", p.Summary)
	}
}

// A delete cannot be undone from the journal: it is reported, never replayed.
func TestRollback_DeleteCannotBeUndone(t *testing.T) {
	for _, present := range []bool{false, true} {
		f := forests{}
		if present {
			f.put(plan.ForestTarget, entry(tdn, ownerAttr, ownerVal))
		}
		p := rollback.Plan(8, []rollback.Change{{ObjectGUID: eguid, ID: 3, DN: tdn, Forest: plan.ForestTarget, Action: "delete", Status: "applied",
			Attrs: []plan.AttrChange{{Name: "cn", Before: []string{"Lara Newton"}}}}}, f.now, opts())
		c := one(t, p)
		if c.Action != plan.Conflict || len(c.Attrs) != 0 || len(c.Problems) != 1 || c.Problems[0].Fix == "" {
			t.Errorf("object present %v: %+v, want a conflict with a fix", present, c)
		}
		if p.Summary.Writes() != 0 {
			t.Errorf("summary %+v", p.Summary)
		}
	}
}

// Source-forest changes (cutover's targetAddress rewrite, convert_source) are read back and
// written in the source forest, and need no owner marker: xtmsyncd never owns source objects.
func TestRollback_SourceForest(t *testing.T) {
	var asked []string
	src := entry(sdn, "targetAddress", "SMTP:LaraN@northwind.mail.onmicrosoft.com", "msExchRecipientTypeDetails", "128")
	now := func(forest, dn string) *directory.Entry {
		asked = append(asked, forest+"|"+dn)
		if forest == plan.ForestSource && strings.EqualFold(dn, sdn) {
			return src
		}
		return nil
	}
	changes := []rollback.Change{
		{ObjectGUID: eguid, ID: 1, DN: sdn, Forest: plan.ForestSource, Action: "update", Status: "applied", Attrs: []plan.AttrChange{
			{Name: "targetAddress", Before: []string{"SMTP:LaraN@contoso.mail.onmicrosoft.com"}, After: []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}},
			{Name: "msExchRemoteRecipientType", Before: []string{"8"}},
			{Name: "msExchRecipientTypeDetails", Before: []string{"2147483648"}, After: []string{"128"}},
		}},
	}
	c := one(t, rollback.Plan(5, changes, now, opts()))
	if !slices.Equal(asked, []string{plan.ForestSource + "|" + sdn}) {
		t.Errorf("read %q, want the source object from the source forest", asked)
	}
	if c.Forest != plan.ForestSource || c.Action != plan.Update || c.DN != sdn {
		t.Fatalf("change %+v", c)
	}
	want := []plan.AttrChange{
		{Name: "msExchRecipientTypeDetails", Before: []string{"128"}, After: []string{"2147483648"}},
		{Name: "msExchRemoteRecipientType", After: []string{"8"}},
		{Name: "targetAddress", Before: []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}, After: []string{"SMTP:LaraN@contoso.mail.onmicrosoft.com"}},
	}
	if !reflect.DeepEqual(normalize(c.Attrs), normalize(want)) {
		t.Errorf("inverse\n%+v\nwant (sorted by name)\n%+v", c.Attrs, want)
	}

	// A source-forest create (not something cutover does today) is deleted without the marker.
	src2 := entry(sdn, "cn", "Lara Newton")
	p := rollback.Plan(5, []rollback.Change{{ObjectGUID: eguid, ID: 2, DN: sdn, Forest: plan.ForestSource, Action: "create", Status: "applied",
		Attrs: []plan.AttrChange{{Name: "cn", After: []string{"Lara Newton"}}}}},
		func(forest, dn string) *directory.Entry {
			if forest == plan.ForestSource {
				return src2
			}
			return nil
		}, opts())
	if c := one(t, p); c.Action != plan.Delete || c.Forest != plan.ForestSource {
		t.Errorf("source create: %+v", c)
	}
}

// An update that wrote nothing is unchanged; the whole plan is deterministic.
func TestRollback_EmptyUpdateUnchanged(t *testing.T) {
	f := forests{}
	f.put(plan.ForestTarget, entry(tdn))
	c := one(t, rollback.Plan(1, []rollback.Change{{ObjectGUID: eguid, ID: 1, DN: tdn, Action: "update", Status: "applied"}}, f.now, opts()))
	if c.Action != plan.Unchanged || len(c.Attrs) != 0 {
		t.Errorf("change %+v", c)
	}
}
