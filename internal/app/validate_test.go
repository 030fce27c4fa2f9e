package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
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
		"gholm":     {readiness.TargetExternalAddr},
		"hkim":      {readiness.TargetDelivery},
		"jwu":       {readiness.TargetRemoteType8},
		"mkowalska": {readiness.TargetPrevGUID},
		"bbrooks":   {readiness.TargetOutOfDate},
		"ccooper":   {readiness.TargetIsMailbox},
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
