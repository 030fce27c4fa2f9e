package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

const staff = ",OU=Staff,OU=Contoso,DC=contoso,DC=test"

// TestValidate_EveryCheckHasAFixture syncs the demo forest, breaks one target MailUser per check
// the way the field breaks them, and validates: each fixture yields exactly its finding, and a
// clean mailbox yields none.
func TestValidate_EveryCheckHasAFixture(t *testing.T) {
	w := newWorld(t, ldaptest.DemoScopeGroup, ldaptest.DemoTargetOU)
	w.tgt.ResetDemoTarget(t)
	w.sync(t)

	tdn := func(cn string) string { return "CN=" + cn + "," + ldaptest.DemoTargetOU }
	srcOf := func(cn string) *ldap.Entry { return read(t, w.src, "CN="+cn+staff) }
	mod := func(cn string, fn func(*ldap.ModifyRequest)) { modify(t, w.tgt, tdn(cn), fn) }
	x500Legacy := func(cn string) string { return "x500:" + srcOf(cn).GetAttributeValue("legacyExchangeDN") }

	// One defect per target MailUser.
	mod("Anna Berg", func(r *ldap.ModifyRequest) { r.Delete("proxyAddresses", []string{x500Legacy("Anna Berg")}) })
	mod("Ben Chen", func(r *ldap.ModifyRequest) {
		r.Replace("msExchMailboxGuid", []string{string(mustGUID(t, "0f0e0d0c-0b0a-4908-8706-050403020100").AD())})
	})
	mod("Carla Diaz", func(r *ldap.ModifyRequest) {
		r.Replace("msExchArchiveGUID", []string{string(mustGUID(t, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").AD())})
	})
	mod("David Okafor", func(r *ldap.ModifyRequest) {
		r.Delete("proxyAddresses", []string{"SMTP:david.okafor@northwind.com"})
		r.Add("proxyAddresses", []string{"smtp:david.okafor@northwind.com"})
	})
	mod("Emma Fischer", func(r *ldap.ModifyRequest) { r.Add("proxyAddresses", []string{"smtp:efischer@contoso.com"}) })
	fgarciaCloud := ""
	for _, p := range proxies(srcOf("Felipe Garcia")) {
		if p.Type() == "x500" && strings.Contains(p.Address(), "ExchangeLabs") {
			fgarciaCloud = "x500:" + p.Address()
		}
	}
	mod("Felipe Garcia", func(r *ldap.ModifyRequest) { r.Delete("proxyAddresses", []string{fgarciaCloud}) })
	mod("Greta Holm", func(r *ldap.ModifyRequest) {
		r.Replace("targetAddress", []string{"SMTP:gholm@northwindtraders.mail.onmicrosoft.com"})
	})
	mod("Hana Kim", func(r *ldap.ModifyRequest) {
		r.Delete("proxyAddresses", []string{"smtp:hkim@northwindtraders.mail.onmicrosoft.com"})
	})
	mod("Julia Wu", func(r *ldap.ModifyRequest) { r.Replace("msExchRemoteRecipientType", []string{"8"}) })
	mod("Marta Kowalska (EMEA)", func(r *ldap.ModifyRequest) {
		r.Replace("msExchPreviousMailboxGuid", []string{string(mustGUID(t, "12345678-1234-4234-8234-123456789abc").AD())})
	})
	mod("Brian Brooks", func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Brian B. (renamed by hand)"}) })
	mod("Chloe Cooper", func(r *ldap.ModifyRequest) { r.Replace("msExchRecipientTypeDetails", []string{"2147483648"}) })

	want := map[string][]string{ // source alias -> the checks it must fail, exactly
		"aberg":     {readiness.TargetLegacyX500},
		"bchen":     {readiness.TargetExchangeGUID},
		"cdiaz":     {readiness.TargetArchiveGUID},
		"dokafor":   {readiness.TargetPrimarySMTP},
		"efischer":  {readiness.TargetSMTPAccepted},
		"fgarcia":   {readiness.TargetAllX500},
		"gholm":     {readiness.TargetExternalAddr, readiness.SourceCloudLegacy}, // and no cloud x500 on the source
		"hkim":      {readiness.TargetDelivery},
		"jwu":       {readiness.TargetRemoteType8},
		"mkowalska": {readiness.TargetPrevGUID},
		"bbrooks":   {readiness.TargetOutOfDate},
		"ccooper":   nil, // its MailUser became a remote mailbox: moved, so migrated (issue 16 rule 6)
		"apatel":    {readiness.TargetIsMailbox},
		"praman":    {readiness.TargetConflict},
		"jsmith":    {readiness.TargetConflict},
		"kholden":   {readiness.SourceLitHold},
		"rkeeper":   {readiness.SourceHoldPolicies},
		"tblank":    {readiness.SourceNoGUID},
		"ltwin":     {readiness.SourceDuplicate},
		"mtwin":     {readiness.SourceDuplicate},
		"nroute":    {readiness.SourceInvalid},
		"wwalker":   {readiness.ScopeNestedOnly, readiness.TargetNotCreated},
		"salesdesk": nil, // clean
		"aalvarez":  nil,
	}
	rep := validate(t, w)
	byAlias := map[string]readiness.Result{}
	for _, m := range rep.Mailboxes {
		byAlias[m.Alias] = m
	}
	for alias, checks := range want {
		m, ok := byAlias[alias]
		if !ok {
			t.Errorf("%s: not validated", alias)
			continue
		}
		var got []string
		for _, f := range m.Findings {
			got = append(got, f.Check)
			if f.Fix == "" || f.Object == "" {
				t.Errorf("%s %s: finding without object or fix: %+v", alias, f.Check, f)
			}
		}
		slices.Sort(got)
		slices.Sort(checks)
		if !slices.Equal(got, checks) {
			t.Errorf("%s: findings %v, want exactly %v", alias, got, checks)
		}
		wantVerdict := readiness.Ready
		for _, c := range checks {
			if readiness.Lookup(c).Severity == readiness.Error {
				wantVerdict = readiness.Blocked
			} else if wantVerdict == readiness.Ready {
				wantVerdict = readiness.Warn
			}
		}
		if alias == "ccooper" {
			wantVerdict = readiness.Migrated
		}
		if m.Verdict != wantVerdict {
			t.Errorf("%s: verdict %s, want %s", alias, m.Verdict, wantVerdict)
		}
	}
	if len(rep.Scope) != 1 || rep.Scope[0].Check != readiness.ScopeNestedGroup || !strings.Contains(rep.Scope[0].Object, "XTM-Wave2") {
		t.Errorf("scope findings %+v, want the nested group XTM-Wave2", rep.Scope)
	}
	for _, c := range rep.Checks {
		if !c.OnPrem && c.Status != "not checked from on-premises" {
			t.Errorf("cloud check %s is %q: it must say not checked, never pass", c.ID, c.Status)
		}
	}
}

// With a filter scope, a mailbox the filter selects but that is not in the scope group is blocked.
func TestValidate_NotAMemberOfTheScopeGroup(t *testing.T) {
	w := newWorld(t, ldaptest.DemoScopeGroup, ldaptest.DemoTargetOU)
	w.cfg.Scope.Filter = "(extensionAttribute1=Cross-Tenant-Project)"
	rep := validate(t, w)
	for _, m := range rep.Mailboxes {
		has := slices.ContainsFunc(m.Findings, func(f readiness.Finding) bool { return f.Check == readiness.ScopeNotMember })
		if (m.Alias == "yyoung") != has {
			t.Errorf("%s: SCOPE-NOT-MEMBER %v", m.Alias, has)
		}
	}
}

func validate(t *testing.T, w *world) *readiness.Report {
	t.Helper()
	rep, err := w.rig(t).Validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustGUID(t *testing.T, s string) directory.GUID {
	t.Helper()
	g, err := directory.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Issue 16 rule 6 on the Samba forests: two mailboxes whose moves completed and were cut over
// (their MailUsers are now remote mailboxes) are reported as migrated, not blocked by
// TARGET-IS-MAILBOX, and not counted as blocked; the batches put them in no file and list them
// as migrated, not left out; a mailbox delegating to one of them is batched, its reason naming
// the delegate as already moved.
func TestValidate_MigratedIsNotBlocked(t *testing.T) {
	w, o := synthetic(t, 4)
	modify(t, w.src, o.UserDN(2), func(r *ldap.ModifyRequest) { r.Add("publicDelegates", []string{o.UserDN(0)}) })
	w.sync(t)
	before := validate(t, w)
	if before.Summary.Migrated != 0 {
		t.Fatalf("before the cutover: %+v", before.Summary)
	}

	csvPath := filepath.Join(t.TempDir(), "moves.csv")
	csv := "\"Identity\",\"Alias\",\"ExchangeGuid\",\"EmailAddress\",\"Status\"\r\n" +
		fmt.Sprintf("\"%s\",\"%s\",\"%s\",\"\",\"Completed\"\r\n", o.Alias(0), o.Alias(0), o.GUID("mbx", 0)) +
		fmt.Sprintf("\"%s\",\"%s\",\"%s\",\"\",\"Completed\"\r\n", o.Alias(1), o.Alias(1), o.GUID("mbx", 1))
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := w.rig(t).PlanCutover(context.Background(), cutover.CSVFile(csvPath))
	if err != nil {
		t.Fatal(err)
	}
	if res := w.apply(t, "cutover", 0, cp); res.Applied != 4 || res.Failed != 0 {
		t.Fatalf("cutover applied %d, failed %d; want 4 writes", res.Applied, res.Failed)
	}

	rep := validate(t, w)
	t.Logf("before the cutover %+v, after %+v", before.Summary, rep.Summary)
	moved := map[string]bool{strings.ToLower(o.UserDN(0)): true, strings.ToLower(o.UserDN(1)): true}
	blocked := 0
	for _, m := range rep.Mailboxes {
		if m.Verdict == readiness.Blocked {
			blocked++
		}
		if !moved[strings.ToLower(m.Source)] {
			if m.Verdict == readiness.Migrated {
				t.Errorf("%s: migrated, but its move was not cut over", m.Alias)
			}
			continue
		}
		if m.Verdict != readiness.Migrated || len(m.Findings) != 0 {
			t.Errorf("%s: %s %+v, want migrated without findings", m.Alias, m.Verdict, m.Findings)
		}
		if m.TargetDN == "" {
			t.Errorf("%s: migrated without its target", m.Alias)
		}
	}
	if rep.Summary.Migrated != 2 || rep.Summary.Blocked != blocked || rep.Summary.Blocked != before.Summary.Blocked ||
		rep.Summary.Total != 4 || rep.Summary.Ready+rep.Summary.Warning+rep.Summary.Blocked+rep.Summary.Migrated != 4 {
		t.Errorf("summary %+v (before the cutover %+v): want 2 migrated, the blocked count unchanged", rep.Summary, before.Summary)
	}
	for _, c := range rep.Checks {
		if c.ID == readiness.TargetIsMailbox && c.Failed != 0 {
			t.Errorf("%s failed %d, want 0", c.ID, c.Failed)
		}
	}

	res, err := app.Batches(rep, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.Batches {
		for _, m := range b.Members {
			if moved[strings.ToLower(m.ID)] {
				t.Errorf("migrated %s is in %s", m.ID, b.Name)
			}
			if strings.EqualFold(m.ID, o.UserDN(2)) && !slices.ContainsFunc(m.Reasons, func(r string) bool { return strings.Contains(r, "has already moved") }) {
				t.Errorf("the delegate of a migrated mailbox: reasons %q, want the delegate named as already moved", m.Reasons)
			}
		}
	}
	for _, x := range res.Excluded {
		if moved[strings.ToLower(x.ID)] {
			t.Errorf("migrated %s is left out as %q", x.ID, x.Reason)
		}
	}
	if len(res.Migrated) != 2 {
		t.Errorf("batches list %d migrated, want 2: %+v", len(res.Migrated), res.Migrated)
	}
	dir := t.TempDir()
	if _, err := batch.WriteFiles(dir, res); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, batch.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var man batch.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	if man.Totals.Migrated != 2 || len(man.Migrated) != 2 || man.Totals.Mailboxes != 4 {
		t.Errorf("manifest totals %+v, %d migrated listed; want 2 of 4", man.Totals, len(man.Migrated))
	}
}
