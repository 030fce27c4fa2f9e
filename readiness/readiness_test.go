package readiness_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Fixtures: source remote mailboxes in the contoso forest; the target MailUsers are what
// plan.Build would create for them (so a fixture starts clean), then broken the way the field
// breaks them. Check numbers refer to Microsoft's CrossTenantMailboxMigrationValidation.ps1
// (facts §A).

const (
	ou        = "OU=Migrated,OU=Users,DC=northwind,DC=test"
	otherOU   = "OU=Staff,OU=Users,DC=northwind,DC=test"
	group     = "CN=XTM-Wave1,OU=Groups,DC=contoso,DC=test"
	ownerAttr = "extensionAttribute15"
	ownerVal  = "xtmsyncd"
)

var now = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func rules() mapper.Rules {
	return mapper.Rules{
		SourceRoutingDomain:  "contoso.mail.onmicrosoft.com",
		SourceDomains:        []string{"contoso.com", "contoso.onmicrosoft.com", "contoso.mail.onmicrosoft.com"},
		TargetPrimaryDomain:  "northwind.com",
		TargetDeliveryDomain: "northwind.mail.onmicrosoft.com",
		TargetUPNSuffix:      "northwind.onmicrosoft.com",
		AcceptedDomains:      []string{"northwind.com", "northwind.onmicrosoft.com", "northwind.mail.onmicrosoft.com"},
		DisplayType:          directory.DisplaySyncedMailboxUser,
		ExchangeVersion:      88218628259840,
		OwnerAttr:            ownerAttr,
		OwnerValue:           ownerVal,
	}
}

func planOpts() plan.Options {
	return plan.Options{OU: ou, Anchor: directory.AttrMailNickname, OwnerAttr: ownerAttr, OwnerValue: ownerVal}
}

func guidOf(name string) directory.GUID {
	var g directory.GUID
	for i := range g {
		g[i] = byte(i*29 + 5)
	}
	for i, c := range []byte(name) {
		g[i%16] ^= c
		g[(i+3)%16] += c
	}
	return g
}

func cloudX500(alias string) string {
	return "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=cloud-" + alias
}

// src is a source remote mailbox, a direct member of the scope group.
func src(cn, alias, primary string) directory.Mailbox {
	return directory.Mailbox{
		DN:               "CN=" + ldap.EscapeDN(cn) + ",OU=Staff,DC=contoso,DC=test",
		Alias:            alias,
		CN:               cn,
		DisplayName:      cn,
		LegacyExchangeDN: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + alias,
		MailboxGUID:      guidOf(alias).AD(),
		Proxies: []directory.Proxy{
			directory.SMTP(primary+"@contoso.com", true),
			directory.SMTP(alias+"@contoso.onmicrosoft.com", false),
			directory.SMTP(alias+"@contoso.mail.onmicrosoft.com", false),
			directory.Proxy(cloudX500(alias)),
		},
		TypeDetails:    directory.TypeRemoteUserMailbox,
		HasTypeDetails: true,
		Scope:          ldapsrc.ScopeDirect,
	}
}

func lara() directory.Mailbox { return src("Lara Newton", "LaraN", "Lara.Newton") }

// prepared is the MailUser xtmsyncd creates for m, as it reads back after the sync.
func prepared(t *testing.T, m directory.Mailbox) *directory.Entry {
	t.Helper()
	p := plan.Build([]directory.Mailbox{m}, rules(), nil, planOpts())
	if len(p.Changes) != 1 || p.Changes[0].Action != plan.Create {
		t.Fatalf("fixture: %+v", p.Changes)
	}
	c := p.Changes[0]
	e := directory.NewEntry(c.DN)
	e.ObjectGUID = guidOf("object:" + c.DN)
	for _, a := range c.Attrs {
		e.Set(a.Name, slices.Clone(a.After)...)
	}
	return e
}

func evaluate(scope *directory.Scope, targets ...*directory.Entry) *readiness.Report {
	p := plan.Build(scope.Mailboxes, rules(), targets, planOpts())
	tm := map[string]*directory.Entry{}
	for _, e := range targets {
		tm[strings.ToLower(e.DN)] = e
	}
	return readiness.Evaluate(readiness.Input{Scope: scope, Group: group, Rules: rules(), Plan: p, Target: tm, Now: now})
}

func proxiesWithout(e *directory.Entry, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(e.Get(directory.AttrProxyAddresses)), func(v string) bool {
		return slices.ContainsFunc(drop, func(d string) bool { return strings.EqualFold(d, v) })
	})
}

type finding struct {
	name   string
	source func(m *directory.Mailbox)             // breaks the source before the target is prepared
	target func(t *testing.T, e *directory.Entry) // breaks the prepared target
	noTgt  bool                                   // no target object at all
	extra  func(m directory.Mailbox) []directory.Mailbox
	want   []string // exactly these checks on the mailbox; nil = clean
}

// cases has at least one case per on-premises check (TestEvaluate_EveryOnPremCheckCovered).
var cases = []finding{
	{name: "clean", want: nil},
	{name: "clean: no scope group (filter scope)", source: func(m *directory.Mailbox) { m.Scope = ldapsrc.ScopeFilter }},
	{name: "clean: with an archive", source: func(m *directory.Mailbox) { m.ArchiveGUID = guidOf("archive").AD() }},
	{name: "clean: single item recovery is not a hold", source: func(m *directory.Mailbox) { m.ELCMailboxFlags = "16" }},
	{name: "clean: previous mailbox GUID equal to the source's", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrPreviousMailboxGUID, guidOf("LaraN").String())
	}},
	{name: "clean: AADC write-back x500 on the target", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, append(e.Get(directory.AttrProxyAddresses), "X500:/o=ExchangeLabs/cn=target-cloud-LaraN")...)
	}},

	{name: "SCOPE-NOT-MEMBER (check 6): selected by the filter, not in the scope group",
		source: func(m *directory.Mailbox) { m.Scope = ldapsrc.ScopeNone }, want: []string{readiness.ScopeNotMember}},
	{name: "SCOPE-NESTED-ONLY (check 6): member through a nested group only",
		source: func(m *directory.Mailbox) { m.Scope = ldapsrc.ScopeNested }, want: []string{readiness.ScopeNestedOnly}},

	{name: "SOURCE-NO-EXCHANGEGUID: absent", source: func(m *directory.Mailbox) { m.MailboxGUID = nil },
		noTgt: true, want: []string{readiness.SourceNoGUID}},
	{name: "SOURCE-NO-EXCHANGEGUID: all zeros", source: func(m *directory.Mailbox) { m.MailboxGUID = make([]byte, 16) },
		noTgt: true, want: []string{readiness.SourceNoGUID}},
	{name: "SOURCE-NO-EXCHANGEGUID: not 16 bytes", source: func(m *directory.Mailbox) { m.MailboxGUID = m.MailboxGUID[:15] },
		noTgt: true, want: []string{readiness.SourceNoGUID}},
	{name: "SOURCE-DUPLICATE-EXCHANGEGUID: a stale copy carries the same GUID", noTgt: true,
		extra: func(m directory.Mailbox) []directory.Mailbox {
			twin := src("Lara Newton (old)", "LaraOld", "lara.old")
			twin.MailboxGUID = m.MailboxGUID
			return []directory.Mailbox{twin}
		}, want: []string{readiness.SourceDuplicate}},
	{name: "SOURCE-INVALID: no legacyExchangeDN (check 10 cannot be met)", source: func(m *directory.Mailbox) { m.LegacyExchangeDN = "" },
		noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-INVALID: no routing address (check 14 cannot be met)", source: func(m *directory.Mailbox) {
		m.Proxies = slices.DeleteFunc(slices.Clone(m.Proxies), func(p directory.Proxy) bool { return p.Domain() == "contoso.mail.onmicrosoft.com" })
	}, noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-INVALID: no alias", source: func(m *directory.Mailbox) { m.Alias = "" },
		noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-INVALID: archive GUID not 16 bytes", source: func(m *directory.Mailbox) { m.ArchiveGUID = []byte{1, 2, 3} },
		noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-INVALID: primary SMTP address with no local part", source: func(m *directory.Mailbox) { m.Proxies[0] = "SMTP:@contoso.com" },
		noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-INVALID: alias with a space and an @", source: func(m *directory.Mailbox) { m.Alias = "bad alias@x" },
		noTgt: true, want: []string{readiness.SourceInvalid}},
	{name: "SOURCE-ONPREM-MAILBOX: an on-premises user mailbox (it must move to Exchange Online first)",
		source: func(m *directory.Mailbox) { m.TypeDetails = directory.TypeUserMailbox }, noTgt: true, want: []string{readiness.SourceOnPremMbx}},
	{name: "SOURCE-ONPREM-MAILBOX: an on-premises shared mailbox",
		source: func(m *directory.Mailbox) { m.TypeDetails = directory.TypeSharedMailbox }, noTgt: true, want: []string{readiness.SourceOnPremMbx}},
	{name: "SOURCE-NOT-MAILBOX: a MailUser (no mailbox to move, and no finished move of it)",
		source: func(m *directory.Mailbox) { m.TypeDetails = directory.TypeMailUser }, noTgt: true, want: []string{readiness.SourceNotMailbox}},
	{name: "SOURCE-NOT-MAILBOX: a mail contact stored as a user",
		source: func(m *directory.Mailbox) { m.TypeDetails = directory.TypeMailContact }, noTgt: true, want: []string{readiness.SourceNotMailbox}},
	{name: "SOURCE-TYPE-UNKNOWN: no msExchRecipientTypeDetails (never guessed)",
		source: func(m *directory.Mailbox) { m.TypeDetails, m.HasTypeDetails = 0, false }, noTgt: true, want: []string{readiness.SourceTypeUnknown}},
	{name: "SOURCE-TYPE-UNKNOWN: a value that is no recipient type",
		source: func(m *directory.Mailbox) { m.TypeDetails = 3 }, noTgt: true, want: []string{readiness.SourceTypeUnknown}},
	{name: "SOURCE-CLOUD-LEGACYDN: a remote mailbox without its /o=ExchangeLabs x500 (no write-back)",
		source: func(m *directory.Mailbox) {
			m.Proxies = slices.DeleteFunc(slices.Clone(m.Proxies), func(p directory.Proxy) bool { return string(p) == cloudX500(m.Alias) })
		}, want: []string{readiness.SourceCloudLegacy}},
	{name: "SOURCE-CLOUD-LEGACYDN is not raised when the legacyExchangeDN itself is the cloud one",
		source: func(m *directory.Mailbox) {
			m.LegacyExchangeDN = strings.TrimPrefix(cloudX500(m.Alias), "X500:")
			m.Proxies = slices.DeleteFunc(slices.Clone(m.Proxies), func(p directory.Proxy) bool { return string(p) == cloudX500(m.Alias) })
		}, want: nil},
	{name: "SOURCE-PROXY-LEFT-OUT: malformed x500 and x400 on the source (not TARGET-X500-ALL: they are never written)",
		source: func(m *directory.Mailbox) {
			m.Proxies = append(m.Proxies, "x500:garbage with spaces", "x400:c=;a=;")
		}, want: []string{readiness.SourceProxyLeftOut, readiness.SourceProxyLeftOut}},
	{name: "SOURCE-LITIGATION-HOLD (check 4): msExchELCMailboxFlags bit 8", source: func(m *directory.Mailbox) {
		m.ELCMailboxFlags, m.LitigationHoldDate = "8", "20240101000000.0Z"
	}, want: []string{readiness.SourceLitHold}},
	{name: "SOURCE-LITIGATION-HOLD (check 4): hold and single item recovery (24)", source: func(m *directory.Mailbox) { m.ELCMailboxFlags = "24" },
		want: []string{readiness.SourceLitHold}},
	{name: "SOURCE-HOLD-POLICIES (check 4): msExchUserHoldPolicies written back", source: func(m *directory.Mailbox) {
		m.UserHoldPolicies = []string{"mbx0a1b2c3d4e5f60718293a4b5c6d7e8f9:1"}
	}, want: []string{readiness.SourceHoldPolicies}},

	{name: "TARGET-NOT-CREATED (check 1): no target MailUser yet", noTgt: true, want: []string{readiness.TargetNotCreated}},
	{name: "TARGET-CONFLICT: the matching object is not owned", target: func(t *testing.T, e *directory.Entry) { e.Set(ownerAttr, "hr-import") },
		want: []string{readiness.TargetConflict}},
	{name: "TARGET-CONFLICT: the matching object is outside the OU", target: func(t *testing.T, e *directory.Entry) {
		e.DN = "CN=Lara Newton," + otherOU
	}, want: []string{readiness.TargetConflict}},
	{name: "TARGET-IS-MAILBOX: an on-premises mailbox in the target forest", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrRecipientTypeDetails, "1")
	}, want: []string{readiness.TargetIsMailbox}},
	// Already a remote mailbox (moved and cut over) is migrated, not blocked: TestEvaluate_Migrated.
	{name: "TARGET-PREVIOUS-MAILBOX-GUID: another mailbox's GUID left over", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrPreviousMailboxGUID, "12345678-1234-4234-8234-123456789abc")
	}, want: []string{readiness.TargetPrevGUID}},
	{name: "TARGET-EXCHANGEGUID (check 8): target holds another GUID", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrMailboxGUID, "0f0e0d0c-0b0a-4908-8706-050403020100")
	}, want: []string{readiness.TargetExchangeGUID}},
	{name: "TARGET-EXCHANGEGUID (check 8): target has none (matched by alias)", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrMailboxGUID)
	}, want: []string{readiness.TargetExchangeGUID}},
	{name: "TARGET-ARCHIVEGUID (check 9): source archive missing on the target",
		source: func(m *directory.Mailbox) { m.ArchiveGUID = guidOf("archive").AD() },
		target: func(t *testing.T, e *directory.Entry) { e.Set(directory.AttrArchiveGUID) },
		want:   []string{readiness.TargetArchiveGUID}},
	{name: "TARGET-ARCHIVEGUID (check 9): different archive",
		source: func(m *directory.Mailbox) { m.ArchiveGUID = guidOf("archive").AD() },
		target: func(t *testing.T, e *directory.Entry) { e.Set(directory.AttrArchiveGUID, guidOf("other").String()) },
		want:   []string{readiness.TargetArchiveGUID}},
	{name: "TARGET-ARCHIVEGUID (check 9): target has an archive, the source none",
		target: func(t *testing.T, e *directory.Entry) { e.Set(directory.AttrArchiveGUID, guidOf("archive").String()) },
		want:   []string{readiness.TargetArchiveGUID}},
	{name: "TARGET-X500-LEGACYDN (check 10): x500:<source LegacyExchangeDN> missing", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, proxiesWithout(e, "x500:"+lara().LegacyExchangeDN)...)
	}, want: []string{readiness.TargetLegacyX500}},
	{name: "TARGET-PRIMARY-SMTP-ACCEPTED (check 11): no primary SMTP", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, append(proxiesWithout(e, "SMTP:Lara.Newton@northwind.com"), "smtp:Lara.Newton@northwind.com")...)
	}, want: []string{readiness.TargetPrimarySMTP}},
	{name: "TARGET-SMTP-ACCEPTED (check 12): a source-domain proxy on the target", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, append(e.Get(directory.AttrProxyAddresses), "smtp:lara.newton@contoso.com")...)
	}, want: []string{readiness.TargetSMTPAccepted}},
	{name: "TARGET-X500-ALL (check 13, an error per the article): a source x500 missing", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, proxiesWithout(e, cloudX500("LaraN"))...)
	}, want: []string{readiness.TargetAllX500}},
	{name: "TARGET-EXTERNAL-ADDRESS (check 14): pointing at the target itself", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrTargetAddress, "SMTP:LaraN@northwind.mail.onmicrosoft.com")
	}, want: []string{readiness.TargetExternalAddr}},
	{name: "TARGET-EXTERNAL-ADDRESS (check 14): absent", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrTargetAddress)
	}, want: []string{readiness.TargetExternalAddr}},
	{name: "TARGET-EXTERNAL-ADDRESS (check 14) and TARGET-SMTP-ACCEPTED (check 12): the routing address is also a target proxy",
		target: func(t *testing.T, e *directory.Entry) {
			e.Set(directory.AttrProxyAddresses, append(e.Get(directory.AttrProxyAddresses), "smtp:LaraN@contoso.mail.onmicrosoft.com")...)
		}, want: []string{readiness.TargetExternalAddr, readiness.TargetSMTPAccepted}},
	{name: "TARGET-DELIVERY-PROXY: no proxy in the -TargetDeliveryDomain", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrProxyAddresses, proxiesWithout(e, "smtp:LaraN@northwind.mail.onmicrosoft.com")...)
	}, want: []string{readiness.TargetDelivery}},
	{name: "TARGET-REMOTE-TYPE-8: msExchRemoteRecipientType 8 (proxy scrubbing)", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrRemoteRecipientType, "8")
	}, want: []string{readiness.TargetRemoteType8}},
	{name: "TARGET-REMOTE-TYPE-8: the 8 bit among others (9)", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrRemoteRecipientType, "9")
	}, want: []string{readiness.TargetRemoteType8}},
	{name: "TARGET-OUT-OF-DATE: a drift no other check names (displayName)", target: func(t *testing.T, e *directory.Entry) {
		e.Set(directory.AttrDisplayName, "Lara N. (renamed by hand)")
	}, want: []string{readiness.TargetOutOfDate}},
}

// run evaluates one case and returns the report and the case mailbox's result.
func (f finding) run(t *testing.T) (*readiness.Report, readiness.Result, directory.Mailbox) {
	t.Helper()
	m := lara()
	if f.source != nil {
		f.source(&m)
	}
	scope := &directory.Scope{Mailboxes: []directory.Mailbox{m}}
	if f.extra != nil {
		scope.Mailboxes = append(scope.Mailboxes, f.extra(m)...)
	}
	var targets []*directory.Entry
	if !f.noTgt {
		e := prepared(t, m)
		if f.target != nil {
			f.target(t, e)
		}
		targets = append(targets, e)
	}
	rep := evaluate(scope, targets...)
	for _, r := range rep.Mailboxes {
		if r.Source == m.DN {
			return rep, r, m
		}
	}
	t.Fatalf("%s not in the report", m.DN)
	return nil, readiness.Result{}, m
}

func checksOf(r readiness.Result) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Check)
	}
	slices.Sort(out)
	return out
}

func verdictFor(checks []string) readiness.Verdict {
	v := readiness.Ready
	for _, c := range checks {
		if readiness.Lookup(c).Severity == readiness.Error {
			return readiness.Blocked
		}
		v = readiness.Warn
	}
	return v
}

func TestEvaluate_Findings(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, res, m := tc.run(t)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if got := checksOf(res); !slices.Equal(got, want) {
				t.Fatalf("findings %v, want exactly %v\n%+v", got, want, res.Findings)
			}
			if res.Verdict != verdictFor(want) {
				t.Errorf("verdict %s, want %s", res.Verdict, verdictFor(want))
			}
			for _, f := range res.Findings {
				if f.Severity != readiness.Lookup(f.Check).Severity {
					t.Errorf("%s: severity %s, catalogue says %s", f.Check, f.Severity, readiness.Lookup(f.Check).Severity)
				}
				if f.Object != m.DN || f.Fix == "" {
					t.Errorf("%s: object %q fix %q; want the source DN and a fix", f.Check, f.Object, f.Fix)
				}
			}
			if len(rep.Scope) != 0 {
				t.Errorf("scope findings %+v", rep.Scope)
			}
			if tc.extra != nil {
				for _, r := range rep.Mailboxes {
					if r.Source != m.DN && !slices.Equal(checksOf(r), want) {
						t.Errorf("the other mailbox %s: %v, want %v", r.Alias, checksOf(r), want)
					}
				}
			}
		})
	}
}

// A nested group in the scope group is a scope-level warning, not a mailbox finding.
func TestEvaluate_ScopeNestedGroup(t *testing.T) {
	m := lara()
	nested := directory.Group{DN: "CN=XTM-Wave2,OU=Groups,DC=contoso,DC=test", Members: []string{"CN=a", "CN=b"}}
	rep := evaluate(&directory.Scope{Mailboxes: []directory.Mailbox{m}, NestedGroups: []directory.Group{nested}}, prepared(t, m))
	if len(rep.Scope) != 1 {
		t.Fatalf("scope findings %+v", rep.Scope)
	}
	f := rep.Scope[0]
	if f.Check != readiness.ScopeNestedGroup || f.Severity != readiness.Warning || f.Object != nested.DN || f.Fix == "" ||
		!strings.Contains(f.Actual, group) || !strings.Contains(f.Actual, "2 members") {
		t.Errorf("finding %+v", f)
	}
	if rep.Mailboxes[0].Verdict != readiness.Ready || len(rep.Mailboxes[0].Findings) != 0 {
		t.Errorf("the mailbox itself is clean: %+v", rep.Mailboxes[0])
	}
	if c := checkSummary(t, rep, readiness.ScopeNestedGroup); c.Failed != 1 {
		t.Errorf("%s failed %d, want 1", c.ID, c.Failed)
	}
}

// A continuation reference to another domain is a scope-level warning naming it: mailboxes
// there are not read, and the admin is told so rather than the reference being dropped.
func TestEvaluate_ScopeReferral(t *testing.T) {
	m := lara()
	ref := "ldaps://emea.contoso.test/DC=emea,DC=contoso,DC=test"
	rep := evaluate(&directory.Scope{Mailboxes: []directory.Mailbox{m}, Referrals: []string{ref}}, prepared(t, m))
	if len(rep.Scope) != 1 || rep.Scope[0].Check != readiness.ScopeReferral || rep.Scope[0].Object != ref ||
		rep.Scope[0].Severity != readiness.Warning || !strings.Contains(rep.Scope[0].Fix, "base_dn") {
		t.Errorf("scope findings %+v", rep.Scope)
	}
	if rep.Mailboxes[0].Verdict != readiness.Ready {
		t.Errorf("the mailbox itself is clean: %+v", rep.Mailboxes[0])
	}
}

// Every on-premises check in the Catalogue has a case above producing it (plus the scope test).
func TestEvaluate_EveryOnPremCheckCovered(t *testing.T) {
	covered := map[string]bool{readiness.ScopeNestedGroup: true, readiness.ScopeReferral: true} // TestEvaluate_ScopeNestedGroup, TestEvaluate_ScopeReferral
	for _, tc := range cases {
		for _, c := range tc.want {
			covered[c] = true
		}
		if len(tc.want) == 1 && !strings.HasPrefix(tc.name, tc.want[0]) {
			t.Errorf("case %q is not named after its check %s", tc.name, tc.want[0])
		}
	}
	for _, c := range readiness.Catalogue {
		if c.OnPrem && !covered[c.ID] {
			t.Errorf("on-premises check %s has no test case", c.ID)
		}
		if !c.OnPrem && covered[c.ID] {
			t.Errorf("cloud check %s produced on-premises", c.ID)
		}
	}
}

func TestEvaluate_TargetNotInTheTargetMap(t *testing.T) {
	m := lara()
	e := prepared(t, m)
	p := plan.Build([]directory.Mailbox{m}, rules(), []*directory.Entry{e}, planOpts())
	rep := readiness.Evaluate(readiness.Input{Scope: &directory.Scope{Mailboxes: []directory.Mailbox{m}}, Group: group, Rules: rules(),
		Plan: p, Target: map[string]*directory.Entry{}, Now: now})
	if got := checksOf(rep.Mailboxes[0]); !slices.Equal(got, []string{readiness.TargetNotCreated}) {
		t.Errorf("findings %v", got)
	}
}

func TestEvaluate_ResultFields(t *testing.T) {
	m := lara()
	m.PublicDelegates = []string{"CN=Maria Lopez,OU=Staff,DC=contoso,DC=test"}
	m.DelegateListLink = []string{"CN=Anton Berg,OU=Staff,DC=contoso,DC=test"}
	e := prepared(t, m)
	rep := evaluate(&directory.Scope{Mailboxes: []directory.Mailbox{m}}, e)
	r := rep.Mailboxes[0]
	want := readiness.Result{Source: m.DN, Alias: "LaraN", ExchangeGUID: guidOf("LaraN").String(), Kind: "user",
		TargetDN: e.DN, TargetAddress: e.First(directory.AttrMail), Verdict: readiness.Ready,
		Links: []readiness.Link{{DN: m.PublicDelegates[0], Kind: directory.AttrPublicDelegates}, {DN: m.DelegateListLink[0], Kind: directory.AttrDelegateListLink}}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("result\n%+v\nwant\n%+v", r, want)
	}
	if rep.FormatVersion != readiness.FormatVersion || !rep.GeneratedAt.Equal(now) {
		t.Errorf("report header %q %v", rep.FormatVersion, rep.GeneratedAt)
	}
}

func checkSummary(t *testing.T, rep *readiness.Report, id string) readiness.CheckSummary {
	t.Helper()
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check summary for %s", id)
	return readiness.CheckSummary{}
}

// mixed is a report with a clean, a warning-only and two blocked mailboxes, and a nested group.
func mixed(t *testing.T) *readiness.Report {
	t.Helper()
	clean, warn, blocked, twice := lara(), src("Maria Lopez", "MariaL", "maria.lopez"), src("anton Berg", "AntonB", "anton.berg"), src("Zoe Adams", "ZoeA", "zoe.adams")
	blocked.Scope = ldapsrc.ScopeNested
	warn.Proxies = slices.DeleteFunc(warn.Proxies, func(p directory.Proxy) bool { return string(p) == cloudX500("MariaL") })
	tw, tb, tz := prepared(t, warn), prepared(t, blocked), prepared(t, twice)
	tb.Set(directory.AttrRemoteRecipientType, "8")
	tz.Set(directory.AttrProxyAddresses, append(tz.Get(directory.AttrProxyAddresses), "smtp:zoe@contoso.com", "smtp:zoe@fabrikam.com")...)
	scope := &directory.Scope{Mailboxes: []directory.Mailbox{twice, warn, clean, blocked},
		NestedGroups: []directory.Group{{DN: "CN=XTM-Wave2,OU=Groups,DC=contoso,DC=test"}, {DN: "CN=XTM-Wave3,OU=Groups,DC=contoso,DC=test"}}}
	return evaluate(scope, prepared(t, clean), tw, tb, tz)
}

func TestEvaluate_SummaryAndVerdicts(t *testing.T) {
	rep := mixed(t)
	if rep.Summary != (readiness.Summary{Total: 4, Ready: 1, Warning: 1, Blocked: 2}) {
		t.Errorf("summary %+v", rep.Summary)
	}
	var order []string
	verdicts := map[string]readiness.Verdict{}
	for _, m := range rep.Mailboxes {
		order = append(order, m.Alias)
		verdicts[m.Alias] = m.Verdict
	}
	if !slices.Equal(order, []string{"AntonB", "LaraN", "MariaL", "ZoeA"}) {
		t.Errorf("mailboxes in order %v, want by source DN, case-insensitively", order)
	}
	want := map[string]readiness.Verdict{"LaraN": readiness.Ready, "MariaL": readiness.Warn, "AntonB": readiness.Blocked, "ZoeA": readiness.Blocked}
	if !reflect.DeepEqual(verdicts, want) {
		t.Errorf("verdicts %v, want %v", verdicts, want)
	}
	// ZoeA has two findings of one check: the summary counts mailboxes, not findings.
	failed := map[string]int{}
	for _, c := range rep.Checks {
		failed[c.ID] = c.Failed
	}
	wantFailed := map[string]int{readiness.SourceCloudLegacy: 1, readiness.TargetRemoteType8: 1, readiness.ScopeNestedOnly: 1,
		readiness.TargetSMTPAccepted: 1, readiness.ScopeNestedGroup: 2}
	for _, c := range readiness.Catalogue {
		if failed[c.ID] != wantFailed[c.ID] {
			t.Errorf("%s failed %d, want %d", c.ID, failed[c.ID], wantFailed[c.ID])
		}
	}
	var zoe readiness.Result
	for _, m := range rep.Mailboxes {
		if m.Alias == "ZoeA" {
			zoe = m
		}
	}
	if len(zoe.Findings) != 2 {
		t.Errorf("ZoeA findings %+v, want one per offending proxy", zoe.Findings)
	}
}

// The summary lists every catalogue check in order; cloud checks always say "not checked from
// on-premises" and never count a failure (they are listed, never silently passed).
func TestEvaluate_CheckSummary(t *testing.T) {
	rep := mixed(t)
	if len(rep.Checks) != len(readiness.Catalogue) {
		t.Fatalf("%d check summaries, catalogue has %d", len(rep.Checks), len(readiness.Catalogue))
	}
	cloud := 0
	for i, c := range rep.Checks {
		if c.Check != readiness.Catalogue[i] {
			t.Errorf("summary %d is %s, catalogue order says %s", i, c.ID, readiness.Catalogue[i].ID)
		}
		switch {
		case !c.OnPrem:
			cloud++
			if c.Status != "not checked from on-premises" || c.Failed != 0 {
				t.Errorf("cloud check %s: %q failed %d", c.ID, c.Status, c.Failed)
			}
		case c.Status != "checked":
			t.Errorf("on-premises check %s: status %q", c.ID, c.Status)
		}
	}
	if cloud == 0 {
		t.Error("the catalogue lists no cloud checks")
	}
	// On-premises checks first.
	if i := slices.IndexFunc(readiness.Catalogue, func(c readiness.Check) bool { return !c.OnPrem }); i < 0 ||
		slices.ContainsFunc(readiness.Catalogue[i:], func(c readiness.Check) bool { return c.OnPrem }) {
		t.Error("on-premises checks are not listed first")
	}
}

func TestCatalogue_Lookup(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range readiness.Catalogue {
		if seen[c.ID] {
			t.Errorf("duplicate check %s", c.ID)
		}
		seen[c.ID] = true
		if readiness.Lookup(c.ID) != c || c.Title == "" || c.Source == "" || (c.Severity != readiness.Error && c.Severity != readiness.Warning) {
			t.Errorf("catalogue entry %+v", c)
		}
	}
	if u := readiness.Lookup("NO-SUCH-CHECK"); u.ID != "NO-SUCH-CHECK" || u.Severity != readiness.Error {
		t.Errorf("unknown check %+v, want an error", u)
	}
}

func TestWriteCSV(t *testing.T) {
	rep := mixed(t)
	var buf bytes.Buffer
	if err := readiness.WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], readiness.CSVHeader) {
		t.Fatalf("header %q, want %q", recs[0], readiness.CSVHeader)
	}
	want := len(rep.Scope)
	for _, m := range rep.Mailboxes {
		want += max(1, len(m.Findings))
	}
	if len(recs)-1 != want || want != 2+1+1+2+2 {
		t.Fatalf("%d rows, want %d (one per finding, one per clean mailbox)", len(recs)-1, want)
	}
	col := func(name string) int { return slices.Index(readiness.CSVHeader, name) }
	rows := map[string][][]string{}
	for _, r := range recs[1:] {
		if len(r) != len(readiness.CSVHeader) {
			t.Fatalf("row %q has %d fields", r, len(r))
		}
		rows[r[col("alias")]] = append(rows[r[col("alias")]], r)
	}
	if ready := rows["LaraN"]; len(ready) != 1 || ready[0][col("verdict")] != "ready" || ready[0][col("check")] != "" ||
		ready[0][col("exchange_guid")] != guidOf("LaraN").String() {
		t.Errorf("clean mailbox rows %q", ready)
	}
	if w := rows["MariaL"]; len(w) != 1 || w[0][col("check")] != readiness.SourceCloudLegacy || w[0][col("severity")] != "warning" || w[0][col("verdict")] != "warning" {
		t.Errorf("warning rows %q", w)
	}
	if s := rows[""]; len(s) != 2 || s[0][col("check")] != readiness.ScopeNestedGroup || s[0][col("object")] == "" {
		t.Errorf("scope rows %q", s)
	}
	for _, r := range rows["AntonB"] {
		if r[col("source_dn")] != "CN=anton Berg,OU=Staff,DC=contoso,DC=test" || r[col("verdict")] != "blocked" || r[col("fix")] == "" {
			t.Errorf("blocked row %q", r)
		}
	}
}

func TestWriteText(t *testing.T) {
	rep := mixed(t)
	var buf bytes.Buffer
	if err := readiness.WriteText(&buf, rep, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	first := strings.Index(out, readiness.Catalogue[0].ID)
	detail := strings.Index(out, "CN=anton Berg")
	if first < 0 || detail < 0 || first > detail {
		t.Fatalf("the summary table (%s at %d) must come before the details (at %d):\n%s", readiness.Catalogue[0].ID, first, detail, out)
	}
	if !strings.HasPrefix(out, "xtmsyncd validate: 4 mailboxes: 1 ready, 1 with warnings, 2 blocked") {
		t.Errorf("first line: %q", strings.SplitN(out, "\n", 2)[0])
	}
	for _, c := range readiness.Catalogue {
		line := lineWith(out, c.ID+" ")
		if line == "" {
			t.Errorf("check %s not in the summary table", c.ID)
			continue
		}
		if !c.OnPrem && !strings.Contains(line, "not checked") {
			t.Errorf("cloud check line %q does not say not checked", line)
		}
		if c.OnPrem && strings.Contains(line, "not checked") {
			t.Errorf("on-premises check line %q says not checked", line)
		}
	}
	// Blocked before warnings; ready mailboxes only with all.
	if b, w := strings.Index(out, "\nblocked "), strings.Index(out, "\nwarning "); b < 0 || w < 0 || b > w {
		t.Errorf("blocked details at %d, warnings at %d", b, w)
	}
	if strings.Contains(out, "CN=Lara Newton") {
		t.Error("a ready mailbox is listed without all")
	}
	buf.Reset()
	if err := readiness.WriteText(&buf, rep, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "CN=Lara Newton") {
		t.Error("all does not list the ready mailbox")
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, sub) {
			return l
		}
	}
	return ""
}

func TestWriteJSON(t *testing.T) {
	rep := mixed(t)
	var buf bytes.Buffer
	if err := readiness.WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var back readiness.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("round trip differs:\n%+v\n%+v", back, *rep)
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "generated_at", "summary", "checks", "scope_findings", "mailboxes"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	if c := raw["checks"].([]any)[0].(map[string]any); c["id"] != readiness.Catalogue[0].ID || c["on_premises"] != true || c["status"] != "checked" {
		t.Errorf("first check %v", c)
	}
}
