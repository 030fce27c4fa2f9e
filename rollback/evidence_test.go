package rollback_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/rollback"
)

// Settle resolves a write whose outcome is not known (the process died after the write, or
// the connection dropped after it was sent) from the directory alone, and proves "happened"
// only on the object the write made or changed.
func TestSettle_ProvesAWriteOnlyOnItsOwnObject(t *testing.T) {
	intent := time.Date(2026, 12, 3, 14, 0, 0, 500_000_000, time.UTC)
	win := rollback.Window{Skew: 5 * time.Minute, Longest: 10 * time.Second}
	created := func(at time.Time, kv ...string) *directory.Entry {
		e := entry(tdn, append([]string{ownerAttr, ownerVal, "mail", "lara@northwind.com", "objectClass", "top", "objectClass", "user",
			rollback.AttrWhenCreated, at.Format("20060102150405") + ".0Z"}, kv...)...)
		return e
	}
	create := rollback.Change{ID: 1, DN: tdn, Action: "create", Status: "pending", IntentAt: intent, Attrs: []plan.AttrChange{
		{Name: "objectClass", After: []string{"user"}}, {Name: ownerAttr, After: []string{ownerVal}}, {Name: "mail", After: []string{"lara@northwind.com"}}}}
	withGUID := create
	withGUID.ObjectGUID = eguid
	update := rollback.Change{ID: 2, DN: tdn, Action: "update", Status: "unknown", ObjectGUID: eguid, Attrs: []plan.AttrChange{
		{Name: "targetAddress", Before: []string{"SMTP:old@contoso.com"}, After: []string{"SMTP:new@northwind.com"}},
		{Name: "proxyAddresses", Add: []string{"x500:/o=A/cn=b"}}}}
	reborn := created(intent)
	reborn.ObjectGUID, _ = directory.ParseGUID("99999999-0e0f-4011-8213-141516171819")
	del := rollback.Change{ID: 3, DN: tdn, Action: "delete", Status: "unknown", ObjectGUID: eguid}

	for _, tc := range []struct {
		name   string
		c      rollback.Change
		cur    *directory.Entry
		others []string
		want   string
		says   string
	}{
		{"create: no object at the DN: not applied", create, nil, nil, rollback.NotHappened, "no object"},
		{"create: the run's values, dated within the window: applied", create, created(intent.Add(2 * time.Second)), nil, rollback.Happened, "created at"},
		{"create: the run's values, created a second before the intent (truncated time): applied", create, created(intent.Add(-time.Second)), nil, rollback.Happened, ""},
		{"create: the run's values, created an hour later (a re-run or another journal): unproven", create, created(intent.Add(time.Hour)), nil, rollback.Unproven, "outside the write's window"},
		{"create: the object another run of the journal created: not applied", create, created(intent), []string{eguid}, rollback.NotHappened, "another run created"},
		{"create: the object lacks the marker: unproven", create, func() *directory.Entry { e := created(intent); e.Set(ownerAttr); return e }(), nil, rollback.Unproven, "ownership marker"},
		{"create: a value differs: unproven", create, func() *directory.Entry { e := created(intent); e.Set("mail", "x@northwind.com"); return e }(), nil, rollback.Unproven, "mail"},
		{"create: no whenCreated: unproven", create, entry(tdn, ownerAttr, ownerVal, "mail", "lara@northwind.com"), nil, rollback.Unproven, "whenCreated"},
		{"create with its objectGUID: the same object: applied", withGUID, created(intent.Add(time.Hour)), nil, rollback.Happened, "recorded"},
		{"create with its objectGUID: another object: unproven", withGUID, reborn, nil, rollback.Unproven, "another one"},
		{"update: the after-values on its object: applied", update, entry(tdn, "targetAddress", "SMTP:new@northwind.com", "proxyAddresses", "x500:/o=A/cn=b"), nil, rollback.Happened, ""},
		{"update: the before-values on its object: not applied", update, entry(tdn, "targetAddress", "SMTP:old@contoso.com"), nil, rollback.NotHappened, "before"},
		{"update: neither: unproven", update, entry(tdn, "targetAddress", "SMTP:third@contoso.com"), nil, rollback.Unproven, "changed since"},
		{"update: after-values on another object: unproven", update, func() *directory.Entry {
			e := entry(tdn, "targetAddress", "SMTP:new@northwind.com", "proxyAddresses", "x500:/o=A/cn=b")
			e.ObjectGUID = reborn.ObjectGUID
			return e
		}(), nil, rollback.Unproven, "not the one"},
		{"update: the object is gone: unproven", update, nil, nil, rollback.Unproven, "no object"},
		{"delete: the object is gone: applied", del, nil, nil, rollback.Happened, ""},
		{"delete: the object is still there: not applied", del, entry(tdn), nil, rollback.NotHappened, "still there"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := rollback.Settle(tc.c, tc.cur, tc.others, opts(), win)
			if v.Status != tc.want || !strings.Contains(v.Why, tc.says) {
				t.Fatalf("%+v, want %s saying %q", v, tc.want, tc.says)
			}
			if v.Status == rollback.Happened && tc.c.Action != "delete" && v.ObjectGUID == "" {
				t.Errorf("a proven write carries no objectGUID: %+v", v)
			}
		})
	}
}

func TestGeneralizedTime(t *testing.T) {
	for in, want := range map[string]string{
		"20261203143005.0Z": "2026-12-03T14:30:05Z",
		"20261203143005Z":   "2026-12-03T14:30:05Z",
	} {
		got, err := rollback.GeneralizedTime(in)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "2026", "20261203143005.0+0100", "2026120314300x.0Z"} {
		if _, err := rollback.GeneralizedTime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
