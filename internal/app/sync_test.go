package app_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

// An x500 that Azure AD Connect writes back (the target cloud's LegacyExchangeDN) is not owned
// by xtmsyncd: the next plan leaves it alone and the next sync writes nothing.
func TestSync_WriteBackX500SurvivesNextSync(t *testing.T) {
	w, _ := synthetic(t, 3)
	p, _ := w.sync(t)
	dn := p.Writable()[0].DN
	writeBack := "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=0123456789abcdef0123456789abcdef-aadc"
	modify(t, w.tgt, dn, func(r *ldap.ModifyRequest) { r.Add("proxyAddresses", []string{writeBack}) })

	_, again := w.plan(t)
	if again.Summary.Writes() != 0 {
		t.Fatalf("plan after the write-back has %d writes: %+v", again.Summary.Writes(), again.Writable())
	}
	_, res := w.sync(t)
	if res.Applied != 0 {
		t.Errorf("sync after the write-back applied %d changes", res.Applied)
	}
	if !hasProxy(proxies(read(t, w.tgt, dn)), writeBack) {
		t.Error("the write-back x500 was removed")
	}
}

// An object changed between plan and apply is refused as stale, journaled as failed, and the
// outside change is kept.
func TestSync_StalePlanRefused(t *testing.T) {
	w, o := synthetic(t, 2)
	p, _ := w.sync(t)
	dn := p.Writable()[0].DN
	// the source changes, so the next plan updates displayName ...
	modify(t, w.src, o.UserDN(0), func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Renamed In Source"}) })
	r, p2 := w.plan(t)
	if p2.Summary.Update != 1 {
		t.Fatalf("want one update, got %+v", p2.Summary)
	}
	// ... but someone changes the target object before the plan is applied.
	modify(t, w.tgt, dn, func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Changed By Hand"}) })

	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync"}, p2, engine.Options{})
	if !errors.Is(err, directory.ErrStalePlan) || !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("apply error %v: want a stale-plan failure", err)
	}
	if res.Failed != 1 || res.Applied != 0 {
		t.Errorf("applied %d, failed %d", res.Applied, res.Failed)
	}
	if got := read(t, w.tgt, dn).GetAttributeValue("displayName"); got != "Changed By Hand" {
		t.Errorf("displayName %q: the outside change was overwritten", got)
	}
	changes, _ := w.j.Changes(context.Background(), res.RunID)
	if len(changes) != 1 || changes[0].Status != journal.StatusFailed || !strings.Contains(changes[0].Error, "stale plan") {
		t.Errorf("journal: %+v", changes)
	}
}

// The writer refuses DNs outside the target OU and objects without the ownership marker.
func TestApply_RefusesOutsideOUAndNotOwned(t *testing.T) {
	w, _ := synthetic(t, 1)
	p, _ := w.sync(t)
	r := w.rig(t)
	c := p.Writable()[0]

	outside := c
	outside.Action = plan.Update
	outside.DN = strings.Replace(c.DN, w.cfg.Target.OU, "OU=Staff,OU=Northwind,DC=northwind,DC=test", 1)
	outside.Attrs = []plan.AttrChange{{Name: "displayName", After: []string{"x"}}}
	if _, err := r.Target.Apply(context.Background(), outside); !errors.Is(err, directory.ErrOutOfScope) {
		t.Errorf("outside the OU: %v, want ErrOutOfScope", err)
	}

	modify(t, w.tgt, c.DN, func(m *ldap.ModifyRequest) { m.Delete(w.cfg.Mapping.Owner.Attribute, nil) })
	before := read(t, w.tgt, c.DN).GetAttributeValue("displayName")
	upd := plan.Change{Action: plan.Update, DN: c.DN, Key: c.Key,
		Attrs: []plan.AttrChange{{Name: "displayName", Before: []string{before}, After: []string{"Taken Over"}}}}
	if _, err := r.Target.Apply(context.Background(), upd); !errors.Is(err, directory.ErrNotOwned) {
		t.Errorf("not owned: %v, want ErrNotOwned", err)
	}
	if got := read(t, w.tgt, c.DN).GetAttributeValue("displayName"); got != before {
		t.Errorf("displayName changed to %q", got)
	}
	// and the next plan reports it as a conflict instead of updating it
	_, p2 := w.plan(t)
	if p2.Summary.Conflict != 1 || p2.Changes[0].Reason != "not_owned" {
		t.Errorf("plan after removing the marker: %+v %+v", p2.Summary, p2.Changes[0])
	}
}

// limits.max_changes refuses the plan before anything is written; the refusal is journaled.
func TestSync_SafetyRailMaxChanges(t *testing.T) {
	w, _ := synthetic(t, 3)
	w.cfg.Limits.MaxChanges = 2
	r, p := w.plan(t)
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync"}, p, engine.Options{})
	if !errors.Is(err, directory.ErrUnsafePlan) {
		t.Fatalf("apply: %v, want ErrUnsafePlan", err)
	}
	run, _ := w.j.Run(context.Background(), res.RunID)
	if run.Outcome != journal.OutcomeRefused {
		t.Errorf("journal outcome %q", run.Outcome)
	}
	res2, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync"}, p, engine.Options{AllowLarge: true})
	if err != nil || res2.Applied != 3 {
		t.Errorf("with AllowLarge: applied %d, %v", res2.Applied, err)
	}
}

// A scope that returns no mailbox is refused: an empty source is a broken filter, not intent.
func TestPlan_EmptySourceRefused(t *testing.T) {
	w, _ := synthetic(t, 0)
	r := w.rig(t)
	if _, err := r.Engine.Plan(context.Background()); !errors.Is(err, directory.ErrUnsafePlan) {
		t.Fatalf("plan of an empty scope: %v, want ErrUnsafePlan", err)
	}
}

// The LDIF export is exactly what apply sends: replayed with ldapmodify it leaves nothing to do,
// for creates and for updates (including a primary SMTP change done as delete+add).
func TestPlanLDIF_ReplaysWithLdapmodify(t *testing.T) {
	if _, err := exec.LookPath("ldapmodify"); err != nil {
		t.Fatal("ldapmodify not installed (scripts/testdirs.sh install brings ldap-utils)")
	}
	w, o := synthetic(t, 3)
	replay := func(p *plan.Plan) {
		t.Helper()
		var b bytes.Buffer
		if err := writer.WriteLDIF(&b, p); err != nil {
			t.Fatal(err)
		}
		d := w.tgt.Config
		cmd := exec.Command("ldapmodify", "-x", "-H", d.URL, "-D", d.BindDN, "-w", d.Password().Reveal())
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+d.CAFile)
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ldapmodify: %v\n%s\nLDIF:\n%s", err, out, b.String())
		}
	}
	_, p := w.plan(t)
	replay(p)
	_, p2 := w.plan(t)
	if p2.Summary.Writes() != 0 || p2.Summary.Unchanged != 3 {
		t.Fatalf("after replaying the create LDIF: %+v", p2.Summary)
	}
	// the source's primary address changes: the update LDIF swaps the primary SMTP
	modify(t, w.src, o.UserDN(1), func(r *ldap.ModifyRequest) {
		r.Delete("proxyAddresses", []string{"SMTP:" + o.Alias(1) + "@contoso.com"})
		r.Add("proxyAddresses", []string{"SMTP:renamed." + o.Alias(1) + "@contoso.com", "smtp:" + o.Alias(1) + "@contoso.com"})
	})
	_, p3 := w.plan(t)
	if p3.Summary.Update != 1 {
		t.Fatalf("want 1 update, got %+v", p3.Summary)
	}
	replay(p3)
	_, p4 := w.plan(t)
	if p4.Summary.Writes() != 0 {
		t.Fatalf("after replaying the update LDIF: %+v", p4.Summary)
	}
}
