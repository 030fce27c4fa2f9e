package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// volatile attributes the server maintains; everything else must come back byte for byte.
var volatile = []string{"usnchanged", "whenchanged", "dscorepropagationdata", "publicdelegatesbl", "msexchdelegatelistbl"}

// snapshot reads every attribute of each DN (raw bytes), for byte-for-byte comparisons.
func snapshot(t *testing.T, d *ldaptest.Dir, dns []string) map[string]map[string][]string {
	t.Helper()
	out := map[string]map[string][]string{}
	for _, dn := range dns {
		res, err := d.Conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"*"}, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string][]string{}
		for _, a := range res.Entries[0].Attributes {
			if slices.Contains(volatile, strings.ToLower(a.Name)) {
				continue
			}
			vals := make([]string, len(a.ByteValues))
			for i, b := range a.ByteValues {
				vals[i] = string(b)
			}
			slices.Sort(vals)
			attrs[strings.ToLower(a.Name)] = vals
		}
		out[dn] = attrs
	}
	return out
}

func sameSnapshot(t *testing.T, what string, want, got map[string]map[string][]string, skip ...string) {
	t.Helper()
	for dn, wa := range want {
		if slices.Contains(skip, dn) {
			continue
		}
		ga, ok := got[dn]
		if !ok {
			t.Errorf("%s: %s is gone", what, dn)
			continue
		}
		for name, wv := range wa {
			if !slices.Equal(wv, ga[name]) {
				t.Errorf("%s: %s %s = %q, want %q", what, dn, name, ga[name], wv)
			}
		}
		for name := range ga {
			if _, ok := wa[name]; !ok {
				t.Errorf("%s: %s has %s = %q, which it did not have", what, dn, name, ga[name])
			}
		}
	}
}

func (w *world) apply(t *testing.T, kind string, parent int64, p *plan.Plan) engine.Result {
	t.Helper()
	res, err := w.rig(t).Engine.Apply(context.Background(), engine.RunInfo{Kind: kind, Actor: "test", ParentRunID: parent}, p, engine.Options{})
	if err != nil && !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("%s: %v", kind, err)
	}
	return res
}

// TestCutoverAndRollback completes the moves of three users (one with an archive, one shared
// mailbox, one with a Send on Behalf delegate), checks both forests, re-runs the cutover (no
// write), rolls it back byte for byte, refuses a rollback of an object changed since, and
// rolls back the first sync, which removes the MailUsers it created.
func TestCutoverAndRollback(t *testing.T) {
	w, o := synthetic(t, 4) // mailboxes 0 and 2 have archives
	modify(t, w.src, o.UserDN(1), func(r *ldap.ModifyRequest) {
		r.Replace("msExchRecipientTypeDetails", []string{"34359738368"})
		r.Replace("msExchRemoteRecipientType", []string{"100"})
	})
	modify(t, w.src, o.UserDN(2), func(r *ldap.ModifyRequest) {
		r.Add("publicDelegates", []string{o.UserDN(0), o.UserDN(3)})
	})
	p1, sync1 := w.sync(t)
	tdn := map[int]string{}
	for _, c := range p1.Writable() {
		for i := range 4 {
			if strings.EqualFold(c.Source, o.UserDN(i)) {
				tdn[i] = c.DN
			}
		}
	}
	srcDNs := []string{o.UserDN(0), o.UserDN(1), o.UserDN(2), o.UserDN(3)}
	tgtDNs := []string{tdn[0], tdn[1], tdn[2], tdn[3]}
	beforeSrc, beforeTgt := snapshot(t, w.src, srcDNs), snapshot(t, w.tgt, tgtDNs)

	csvPath := filepath.Join(t.TempDir(), "moves.csv")
	g0 := o.GUID("mbx", 0)
	csv := "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MoveRequest\r\n" +
		"\"Identity\",\"Alias\",\"ExchangeGuid\",\"EmailAddress\",\"Status\"\r\n" +
		fmt.Sprintf("\"%s\",\"%s\",\"%s\",\"\",\"Completed\"\r\n", o.Alias(0), o.Alias(0), g0) +
		fmt.Sprintf("\"\",\"\",\"\",\"%s@northwind.com\",\"Completed\"\r\n", o.Alias(1)) +
		fmt.Sprintf("\"\",\"%s\",\"\",\"\",\"CompletedWithWarning\"\r\n", o.Alias(2)) +
		fmt.Sprintf("\"\",\"%s\",\"\",\"\",\"InProgress\"\r\n", o.Alias(3)) +
		"\"nobody\",\"nobody\",\"\",\"\",\"Completed\"\r\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cut := func() *plan.Plan {
		t.Helper()
		p, err := w.rig(t).PlanCutover(context.Background(), cutover.CSVFile(csvPath))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p2 := cut()
	for _, code := range []string{"completion_not_completed", "completion_unmatched", "delegate_not_migrated"} {
		if !slices.ContainsFunc(p2.Warnings, func(x plan.Warning) bool { return x.Code == code }) {
			t.Errorf("warning %s missing: %+v", code, p2.Warnings)
		}
	}
	run2 := w.apply(t, "cutover", 0, p2)
	if run2.Failed != 0 || run2.Applied != 6 {
		t.Fatalf("cutover applied %d, failed %d; want 6 writes (3 target, 3 source)", run2.Applied, run2.Failed)
	}

	delivery := func(i int) string { return "SMTP:" + o.Alias(i) + "@northwindtraders.mail.onmicrosoft.com" }
	wantTgt := map[int]map[string]string{
		0: {"msExchRecipientTypeDetails": "2147483648", "msExchRecipientDisplayType": "-2147483642", "msExchRemoteRecipientType": "6", "targetAddress": delivery(0)},
		1: {"msExchRecipientTypeDetails": "34359738368", "msExchRecipientDisplayType": "-2147483642", "msExchRemoteRecipientType": "100", "targetAddress": delivery(1)},
		2: {"msExchRecipientTypeDetails": "2147483648", "msExchRecipientDisplayType": "-2147483642", "msExchRemoteRecipientType": "6", "targetAddress": delivery(2), "publicDelegates": tdn[0]},
	}
	for i, attrs := range wantTgt {
		e := read(t, w.tgt, tdn[i])
		for a, v := range attrs {
			if got := e.GetAttributeValues(a); len(got) != 1 || !strings.EqualFold(got[0], v) {
				t.Errorf("target %d %s = %q, want %q", i, a, got, v)
			}
		}
		if got := read(t, w.src, o.UserDN(i)).GetAttributeValue("targetAddress"); !strings.EqualFold(got, delivery(i)) {
			t.Errorf("source %d targetAddress = %q, want %q", i, got, delivery(i))
		}
	}
	sameSnapshot(t, "not completed", map[string]map[string][]string{tdn[3]: beforeTgt[tdn[3]]}, snapshot(t, w.tgt, []string{tdn[3]}))
	sameSnapshot(t, "source not completed", map[string]map[string][]string{o.UserDN(3): beforeSrc[o.UserDN(3)]}, snapshot(t, w.src, []string{o.UserDN(3)}))

	if p := cut(); p.Summary.Writes() != 0 {
		t.Fatalf("second cutover plans %d writes", p.Summary.Writes())
	}

	// Roll the cutover back: both forests as they were, byte for byte.
	rb, err := w.rig(t).PlanRollback(context.Background(), w.j, run2.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if res := w.apply(t, "rollback", run2.RunID, rb); res.Applied != 6 || res.Failed != 0 {
		t.Fatalf("rollback applied %d, failed %d", res.Applied, res.Failed)
	}
	sameSnapshot(t, "source after rollback", beforeSrc, snapshot(t, w.src, srcDNs))
	sameSnapshot(t, "target after rollback", beforeTgt, snapshot(t, w.tgt, tgtDNs))
	if run, _ := w.j.Run(context.Background(), run2.RunID+1); run.Kind != "rollback" || run.ParentRunID != run2.RunID {
		t.Errorf("the rollback run is not journaled as the cutover's inverse: %+v", run)
	}

	// Cut over again, change one object by hand, roll back: that object is refused.
	run4 := w.apply(t, "cutover", 0, cut())
	modify(t, w.tgt, tdn[1], func(r *ldap.ModifyRequest) { r.Replace("targetAddress", []string{"SMTP:by-hand@northwind.com"}) })
	rb2, err := w.rig(t).PlanRollback(context.Background(), w.j, run4.RunID)
	if err != nil {
		t.Fatal(err)
	}
	refused := slices.IndexFunc(rb2.Changes, func(c plan.Change) bool { return c.Action == plan.Conflict })
	if rb2.Summary.Conflict != 1 || refused < 0 || !strings.EqualFold(rb2.Changes[refused].DN, tdn[1]) {
		t.Fatalf("rollback after an outside change: %+v", rb2.Summary)
	}
	w.apply(t, "rollback", run4.RunID, rb2)
	sameSnapshot(t, "others restored", beforeTgt, snapshot(t, w.tgt, tgtDNs), tdn[1])
	sameSnapshot(t, "sources restored", beforeSrc, snapshot(t, w.src, srcDNs))
	if got := read(t, w.tgt, tdn[1]).GetAttributeValue("targetAddress"); got != "SMTP:by-hand@northwind.com" {
		t.Errorf("the refused object was written: targetAddress %q", got)
	}

	// Rolling back the first sync deletes the MailUsers it created, except the one changed since.
	rb3, err := w.rig(t).PlanRollback(context.Background(), w.j, sync1.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rb3.Summary.Delete != 3 || rb3.Summary.Conflict != 1 {
		t.Fatalf("rollback of the sync: %+v", rb3.Summary)
	}
	w.apply(t, "rollback", sync1.RunID, rb3)
	gone := snapshot(t, w.tgt, tgtDNs)
	for i, dn := range tgtDNs {
		if _, exists := gone[dn]; exists != (i == 1) {
			t.Errorf("after rolling back the sync, %s exists: %v", dn, exists)
		}
	}
}
