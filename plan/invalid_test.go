package plan

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// Invalid source data in the plan: an invalid source is listed with every problem the mapper
// found, a value left out of a desired object is a plan warning, and a new object's DN is
// escaped per RFC 4514 and its cn kept within the schema's limit.

// An invalid source carries every problem, the first as its reason, whichever way it entered
// (Build maps it, Diff takes mapper.Map's output).
func TestBuilder_InvalidSourceCarriesEveryProblem(t *testing.T) {
	m := lara()
	m.Alias = "bad alias@x"
	m.Surname = strings.Repeat("s", 1000)
	m.Proxies[0] = "SMTP:@contoso.com"
	want := []string{"bad_alias", "value_too_long", "bad_primary_smtp"}
	ds, inv := mapAll(t, m)
	for name, p := range map[string]*Plan{"Build": Build([]directory.Mailbox{m}, rules(), nil, opts()), "Diff": Diff(ds, inv, nil, opts())} {
		c := only(t, p)
		var got []string
		for _, pr := range c.Problems {
			got = append(got, pr.Code)
			if pr.Object != m.DN || pr.Attribute == "" || pr.Found == "" || pr.Fix == "" {
				t.Errorf("%s: problem %+v does not name object, attribute, value and fix", name, pr)
			}
		}
		if c.Action != Invalid || c.Reason != "bad_alias" || !slices.Equal(got, want) {
			t.Errorf("%s: %s %s %v, want invalid bad_alias with %v", name, c.Action, c.Reason, got, want)
		}
		if c.Key != guidFor("LaraN").String() {
			t.Errorf("%s: key %q, want the source's ExchangeGUID", name, c.Key)
		}
	}
}

// A malformed secondary proxy is left out of the create and reported as a plan warning naming
// the object, attribute, value and fix; warnings are in source-DN order whatever order the
// sources came in.
func TestBuilder_LeftOutProxiesBecomeWarnings(t *testing.T) {
	a, b := lara(), maria()
	a.Proxies = append(a.Proxies, "x500:garbage with spaces", "x400:c=;a=;")
	b.Proxies = append(b.Proxies, "x500:", "x500:/o=Bad,cn=")
	for _, order := range [][]directory.Mailbox{{a, b}, {b, a}} {
		p := Build(order, rules(), nil, opts())
		if p.Summary.Create != 2 {
			t.Fatalf("summary %+v, want both created", p.Summary)
		}
		for _, c := range p.Changes {
			for _, v := range attr(c, directory.AttrProxyAddresses).After {
				if strings.Contains(v, "garbage") || strings.Contains(v, "Bad,") || strings.HasPrefix(v, "x400:") || v == "x500:" {
					t.Errorf("%s: malformed %q planned", c.Source, v)
				}
			}
		}
		var got []string
		for _, w := range p.Warnings {
			got = append(got, w.Object+" "+w.Found[:min(10, len(w.Found))])
			if w.Code != "proxy_left_out" || w.Attribute != directory.AttrProxyAddresses || w.Fix == "" ||
				!strings.Contains(w.Message, w.Found) || !strings.Contains(w.Message, w.Fix) {
				t.Errorf("warning %+v", w)
			}
		}
		want := []string{
			a.DN + ` "x400:c=;a`, a.DN + ` "x500:garb`,
			b.DN + ` "x500:": i`, b.DN + ` "x500:/o=B`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("warnings %q, want %q", got, want)
		}
	}
}

// The cn with "=" produced a DN Samba refused ("invalid dn '(null)'"): the create DN
// escapes every RFC 4514 special, "=" included, and parses back to the cn.
func TestName_CreateDNEscapesEveryRFC4514Special(t *testing.T) {
	for _, cn := range []string{"a=b", `Zoë "Q" <x>;y=z`, "Lee, Ann+1", `back\slash`, " lead", "trail ", "#hash", "=", "tab\tx"} {
		m := lara()
		m.CN = cn
		c := only(t, Build([]directory.Mailbox{m}, rules(), nil, opts()))
		if want := "CN=" + directory.EscapeRDNValue(cn) + "," + testOU; c.DN != want {
			t.Errorf("DN %q, want %q", c.DN, want)
		}
		dn, err := ldap.ParseDN(c.DN)
		if err != nil || dn.RDNs[0].Attributes[0].Value != cn || !InOU(mustDN(t, testOU), c.DN) {
			t.Errorf("DN %q does not parse back to cn %q under the OU: %v", c.DN, cn, err)
		}
		if strings.Contains(strings.TrimPrefix(c.DN, "CN="), "=") && !strings.Contains(c.DN, `\=`) && strings.Contains(cn, "=") {
			t.Errorf("DN %q has an unescaped = in its cn", c.DN)
		}
	}
}

// The alternative name "cn (alias)" of a taken cn stays within the cn limit (64), and every
// numbered alternative stays distinct, however long the cn and the alias.
func TestName_AlternativeCNWithinTheSchemaLimit(t *testing.T) {
	cn := strings.Repeat("C", 60)
	var ms []directory.Mailbox
	for i := range 4 {
		alias := strings.Repeat("a", 60) + strings.Repeat("b", i) // distinct, up to 63 characters
		m := src(cn, alias, "p"+alias)
		m.DN = "CN=" + cn + ",OU=S" + string(rune('a'+i)) + ",DC=contoso,DC=test"
		ms = append(ms, m)
	}
	p := Build(ms, rules(), []*directory.Entry{entry("CN="+cn+","+testOU, directory.AttrDisplayName, "taken")}, opts())
	seen := map[string]bool{}
	for _, c := range p.Changes {
		if c.Action != Create {
			t.Fatalf("%s: %s %s %+v", c.Source, c.Action, c.Reason, c.Problems)
		}
		got := attr(c, directory.AttrCN).After[0]
		if n := mapper.Length(got); n > 64 {
			t.Errorf("cn %q has %d characters, more than 64", got, n)
		}
		if seen[strings.ToLower(got)] || strings.EqualFold(got, cn) {
			t.Errorf("cn %q used twice or taken", got)
		}
		seen[strings.ToLower(got)] = true
	}
	if got, want := suffixed("Lara Newton", "LaraN", 2, 64), "Lara Newton (LaraN 2)"; got != want {
		t.Errorf("a short name is not cut: %q, want %q", got, want)
	}
}

func mustDN(t *testing.T, s string) *ldap.DN {
	t.Helper()
	d, err := ldap.ParseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A malformed x500 or x400 an earlier run copied onto an owned object is deleted; the
// well-formed ones (Azure AD Connect's write-back among them) are kept, as before. Both diff
// paths agree.
func TestDiff_MalformedX500OrX400OnTargetDeleted(t *testing.T) {
	d, e := prepared(t, lara())
	bad := []string{"x500:", "x500:garbage with spaces", "x500:/o=Bad,cn=", "x400:c=;a=;"}
	e.Set(directory.AttrProxyAddresses, append(append(e.Get(directory.AttrProxyAddresses), writeBackX500, "x400:c=US;a= ;p=Old;s=Newton"), bad...)...)
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	a := attr(c, directory.AttrProxyAddresses)
	if c.Action != Update || a == nil || len(a.Add) != 0 {
		t.Fatalf("%s %+v, want an update deleting only", c.Action, a)
	}
	if want := slices.Sorted(slices.Values(bad)); !slices.Equal(a.Delete, want) {
		t.Errorf("delete %q, want the malformed values %q", a.Delete, want)
	}
	var many []string
	for i := range 300 { // enough for diffProxies to take the indexed path
		many = append(many, fmt.Sprintf("x500:/o=Org/cn=n%d", i))
	}
	have := append(append(slices.Clone(e.Get(directory.AttrProxyAddresses)), many...), "x500:/o=Org/cn=")
	want := d.Attrs[directory.AttrProxyAddresses]
	x, _ := diffProxies(want, have)
	y, _ := diffProxiesIndexed(want, have)
	if !slices.Equal(x.Delete, y.Delete) || !slices.Contains(x.Delete, "x500:/o=Org/cn=") || len(x.Delete) != len(bad)+1 {
		t.Errorf("in place %q, indexed %q", x.Delete, y.Delete)
	}
}

// Rule "only Exchange Online mailboxes move", in the plan: a source MailUser whose target is the
// remote mailbox its finished move made (cutover converted both) is migrated and left alone; a
// source MailUser with no target, or whose target is still a MailUser, is an invalid source,
// never created nor updated.
func TestBuilder_SourceMailUserIsMigratedOnlyWhenItsMoveFinished(t *testing.T) {
	m := lara()
	_, prep := prepared(t, m)
	_, remote := prepared(t, m)
	remote.Set(directory.AttrRecipientTypeDetails, fmt.Sprint(directory.TypeRemoteUserMailbox))
	cutOver := m
	cutOver.TypeDetails = directory.TypeMailUser
	for _, tc := range []struct {
		name   string
		target []*directory.Entry
		action Action
		reason string
	}{
		{"no target", nil, Invalid, mapper.CodeMailUserSource},
		{"target still a MailUser", []*directory.Entry{prep}, Invalid, mapper.CodeMailUserSource},
		{"target is its remote mailbox", []*directory.Entry{remote}, Unchanged, "migrated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := only(t, Build([]directory.Mailbox{cutOver}, rules(), tc.target, opts()))
			if c.Action != tc.action || c.Reason != tc.reason || len(c.Attrs) != 0 {
				t.Fatalf("%s %s %+v, want %s %s with no attribute change", c.Action, c.Reason, c.Attrs, tc.action, tc.reason)
			}
			if tc.action == Invalid && (len(c.Problems) != 1 || c.Problems[0].Attribute != directory.AttrRecipientTypeDetails) {
				t.Errorf("problems %+v, want the recipient type named", c.Problems)
			}
		})
	}
}

// An on-premises mailbox in scope is invalid even when a MailUser for it exists in the target:
// nothing is written for it.
func TestBuilder_OnPremisesMailboxSourceIsNeverPrepared(t *testing.T) {
	m := lara()
	_, prep := prepared(t, m)
	m.TypeDetails = directory.TypeUserMailbox
	c := only(t, Build([]directory.Mailbox{m}, rules(), []*directory.Entry{prep}, opts()))
	if c.Action != Invalid || c.Reason != mapper.CodeOnPremMailbox {
		t.Errorf("%s %s, want invalid %s", c.Action, c.Reason, mapper.CodeOnPremMailbox)
	}
}

// The README's list of plan classes names every reason code the rules (rules.go) and the mapper's
// source-type rule give, so an admin can look any of them up.
func TestREADME_NamesEveryReason(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{ReasonAmbiguous, ReasonOutsideOU, ReasonOnPremMbx, ReasonNotOwned, ReasonGUIDMismatch,
		ReasonAddrInUse, ReasonUPNInUse, ReasonClaimedTwice, ReasonMigrated, mapper.CodeOnPremMailbox, mapper.CodeMailUserSource,
		mapper.CodeNotAMailbox, mapper.CodeNoRecipientType, mapper.CodeUnknownType} {
		if !strings.Contains(string(raw), "`"+code+"`") && !strings.Contains(string(raw), "**"+code+"**") {
			t.Errorf("README does not name the plan reason %s", code)
		}
	}
}
