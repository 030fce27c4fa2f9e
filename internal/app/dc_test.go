package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// runDC is the domain controller a journaled run recorded for a forest.
func runDC(t *testing.T, w *world, id int64, forest string) ldapconn.DC {
	t.Helper()
	r, err := w.j.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	js := r.TargetDC
	if forest == "source" {
		js = r.SourceDC
	}
	var dc ldapconn.DC
	if err := json.Unmarshal([]byte(js), &dc); err != nil {
		t.Fatalf("run %d %s_dc %q: %v", id, forest, js, err)
	}
	return dc
}

// Issue 17, domain controllers: with urls whose first entry is a closed port, the run uses the
// second and its run row names it (URL, dnsHostName, dsServiceName, invocationId); every
// connection of a run, the writers' and the compare-and-set re-reads included, goes to the DC
// chosen at its start (two proxies in front of the target stand for two DCs and count them);
// once that DC is gone, the next run chooses the other.
func TestDCs_OneDomainControllerPerRun(t *testing.T) {
	w, _ := synthetic(t, 30)
	dcA, dcB := ldaptest.NewProxy(t, w.tgt), ldaptest.NewProxy(t, w.tgt)
	closed := strings.Replace(dcA.Config(w.tgt).URL, dcA.Addr(), "[::1]:1", 1)
	w.cfg.Target.URL = ""
	w.cfg.Target.URLs = []string{closed, dcA.Config(w.tgt).URL, dcB.Config(w.tgt).URL}

	_, res := w.sync(t)
	if res.Applied != 30 || res.Failed != 0 {
		t.Fatalf("sync applied %d, failed %d; want 30 creates", res.Applied, res.Failed)
	}
	if dcA.Accepted() < 3 || dcB.Accepted() != 0 {
		t.Errorf("connections: %d to the chosen DC, %d to the other; want every one to the chosen DC (reader, bulk read, writers)", dcA.Accepted(), dcB.Accepted())
	}
	dc := runDC(t, w, res.RunID, "target")
	if dc.URL != w.cfg.Target.URLs[1] || dc.Host != "dc1.northwind.test" || !strings.HasPrefix(dc.DSServiceName, "CN=NTDS Settings,CN=DC1,") || len(dc.InvocationID) != 36 {
		t.Errorf("run row target DC %+v; want the second URL with its host, NTDS Settings and invocationId", dc)
	}
	if src := runDC(t, w, res.RunID, "source"); src.URL != w.cfg.Source.URL || src.Host != "dc1.contoso.test" {
		t.Errorf("run row source DC %+v", src)
	}

	dcA.Kill()
	before := dcB.Accepted()
	r := w.rig(t)
	if r.TargetDC.URL != w.cfg.Target.URLs[2] {
		t.Fatalf("with the first two gone, the rig chose %s, want %s", r.TargetDC.URL, w.cfg.Target.URLs[2])
	}
	p, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.Unchanged != 30 {
		t.Errorf("plan on the other DC: %+v, want 30 unchanged", p.Summary)
	}
	if dcB.Accepted() == before {
		t.Error("the plan did not read through the DC it chose")
	}
}

// A DC lost in the middle of a run is not swapped for another: the run fails, and only the
// next run chooses again.
func TestDCs_LostMidRunIsNotSwapped(t *testing.T) {
	w, _ := synthetic(t, 5)
	dcA, dcB := ldaptest.NewProxy(t, w.tgt), ldaptest.NewProxy(t, w.tgt)
	w.cfg.Target.URL = ""
	w.cfg.Target.URLs = []string{dcA.Config(w.tgt).URL, dcB.Config(w.tgt).URL}
	w.cfg.Target.Timeout = 2_000_000_000
	r := w.rig(t)
	p, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dcA.Kill()
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	if err == nil || res.Applied != 0 {
		t.Fatalf("apply with its DC gone: applied %d, err %v; want the run to fail", res.Applied, err)
	}
	if dcB.Accepted() != 0 {
		t.Errorf("%d connections went to the other DC mid-run", dcB.Accepted())
	}
}

// Issue 17, Kerberos: doctor, plan and sync signed in with the test service account's keytab
// in both forests, no password anywhere in the config.
func TestKerberos_DoctorPlanSync(t *testing.T) {
	w, _ := synthetic(t, 10)
	w.cfg.Source = ldaptest.Kerberos(t, w.src)
	w.cfg.Target.Directory = ldaptest.Kerberos(t, w.tgt)
	checks := doctor.Run(context.Background(), w.cfg, nil)
	for _, c := range checks {
		if !c.OK && !strings.Contains(c.Name, "schema") {
			t.Errorf("doctor: %s: %s (%s)", c.Name, c.Detail, c.Fix)
		}
		if strings.Contains(c.Name, "connect") && !strings.Contains(c.Name, "Kerberos") {
			t.Errorf("doctor check %q does not say it signed in with Kerberos", c.Name)
		}
	}
	if _, err := app.Build(context.Background(), w.cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	_, res := w.sync(t)
	if res.Applied != 10 || res.Failed != 0 {
		t.Fatalf("sync applied %d failed %d", res.Applied, res.Failed)
	}
	if _, p := w.plan(t); p.Summary.Unchanged != 10 {
		t.Errorf("second plan %+v, want 10 unchanged", p.Summary)
	}
}

// The shipped Kerberos example (configs/kerberos-demo.yaml) works as written against the demo
// forests: doctor passes and plan reads both forests, signed in without a password.
func TestKerberos_ExampleConfigWorks(t *testing.T) {
	ldaptest.Open(t, "source")
	c, err := config.Load("../../configs/kerberos-demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Journal.Path = filepath.Join(t.TempDir(), "journal.db")
	for _, ch := range doctor.Run(context.Background(), c, nil) {
		if !ch.OK {
			t.Errorf("doctor: %s: %s (%s)", ch.Name, ch.Detail, ch.Fix)
		}
	}
	r, err := app.Build(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.Invalid == 0 || len(p.Changes) < 30 {
		t.Errorf("plan of the demo forests %+v: want the demo's mailboxes", p.Summary)
	}
}

// Issue 17 rule 5, a scope member elsewhere: a direct member of the scope group outside
// source.base_dn (as a member in a child domain is) is never dropped silently: scope and plan
// warn member_in_other_domain, and validate reports SCOPE-REFERRAL, naming it.
func TestScope_MemberOutsideBaseIsReported(t *testing.T) {
	w, o := synthetic(t, 2)
	elsewhere := "CN=Far Away," + w.src.TempOU(t, "xtm-far")
	addReq := ldap.NewAddRequest(elsewhere, nil)
	addReq.Attribute("objectClass", []string{"user"})
	addReq.Attribute("sAMAccountName", []string{"far" + o.Tag})
	if err := w.src.Conn.Add(addReq); err != nil {
		t.Fatal(err)
	}
	modify(t, w.src, o.GroupDN(), func(r *ldap.ModifyRequest) { r.Add("member", []string{elsewhere}) })
	w.cfg.Source.BaseDN = o.OU // the other OU stands for another domain: outside base_dn

	_, p := w.plan(t)
	found := false
	for _, wn := range p.Warnings {
		if wn.Code == "member_in_other_domain" && strings.EqualFold(wn.Object, elsewhere) {
			found = true
		}
	}
	if !found || p.Summary.Create != 2 {
		t.Errorf("plan %+v warnings %+v; want the 2 creates and a member_in_other_domain warning for %s", p.Summary, p.Warnings, elsewhere)
	}
	rep := validate(t, w)
	found = false
	for _, f := range rep.Scope {
		if f.Check == "SCOPE-REFERRAL" && strings.EqualFold(f.Object, elsewhere) {
			found = true
		}
	}
	if !found {
		t.Errorf("validate scope findings %+v; want SCOPE-REFERRAL for %s", rep.Scope, elsewhere)
	}
}
