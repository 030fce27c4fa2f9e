package mapper

import (
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Tables for the validation rules (validate.go), each named after the rule it enforces, then the
// rules as Prepare applies them: an invalid required value makes the source invalid with every
// problem listed; an invalid secondary proxy is left out with a warning.

type ruleCase struct {
	value string
	ok    bool
	why   string // a fragment of the reason, when not ok
}

func checkRule(t *testing.T, name string, rule func(string) string, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		got := rule(tc.value)
		switch {
		case tc.ok && got != "":
			t.Errorf("%s(%q) = %q, want valid", name, tc.value, got)
		case !tc.ok && got == "":
			t.Errorf("%s(%q) is valid, want refused", name, tc.value)
		case !tc.ok && !strings.Contains(got, tc.why):
			t.Errorf("%s(%q) = %q, want a reason mentioning %q", name, tc.value, got, tc.why)
		}
	}
}

func TestAliasMustNotContainSpaces(t *testing.T) {
	checkRule(t, "AliasRule", AliasRule, []ruleCase{
		{"bad alias", false, "space"},
		{" lead", false, "space"},
		{"trail ", false, "space"},
		{"lara.newton", true, ""},
	})
}

func TestAliasMustNotContainAt(t *testing.T) {
	checkRule(t, "AliasRule", AliasRule, []ruleCase{
		{"bad alias@x", false, "space"}, // the value: the space is found first
		{"badalias@x", false, "@"},
		{"@", false, "@"},
	})
}

// Exchange: "letters, numbers and the following characters: !, #, $, %, &, ', *, +, -, /, =, ?,
// ^, _, `, {, |, } and ~", and Unicode U+00A1 to U+00FF.
func TestAliasOnlyCharactersExchangeAllows(t *testing.T) {
	cases := []ruleCase{{"José", true, ""}, {"ÿ¡", true, ""}, {"Ab09", true, ""}}
	for _, c := range aliasSpecials {
		cases = append(cases, ruleCase{"a" + string(c) + "b", true, ""})
	}
	for _, c := range `"(),:;<>[\]` + "\x00\x01\t\n" + "łЖ日\u00a0" {
		cases = append(cases, ruleCase{"a" + string(c) + "b", false, "does not allow"})
	}
	checkRule(t, "AliasRule", AliasRule, cases)
}

// Exchange: "each period must be surrounded by other valid characters (for example, help.desk)".
func TestAliasPeriodsOnlyBetweenOtherCharacters(t *testing.T) {
	checkRule(t, "AliasRule", AliasRule, []ruleCase{
		{"help.desk", true, ""},
		{"a.b.c", true, ""},
		{".help", false, "starts with a period"},
		{"help.", false, "ends with a period"},
		{"help..desk", false, "two periods"},
		{".", false, "period"},
		{"", false, "empty"},
	})
}

// Microsoft Entra ID's UserPrincipalName: A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @, no period
// right before the @, at most 64 characters before it.
func TestUPNPrefixOnlyCharactersEntraAllows(t *testing.T) {
	cases := []ruleCase{{"Lara.Newton", true, ""}, {"o'brien", true, ""}, {"a-b_c!d#e^f~g", true, ""}}
	for _, c := range "+=&$%*/?`{|}@ é" {
		cases = append(cases, ruleCase{"a" + string(c) + "b", false, "Microsoft Entra ID allows only"})
	}
	cases = append(cases,
		ruleCase{"lara.", false, "ends with a period"},
		ruleCase{".lara", false, "starts with a period"},
		ruleCase{strings.Repeat("a", 64), true, ""},
		ruleCase{strings.Repeat("a", 65), false, "more than the 64"},
		ruleCase{"", false, "empty"})
	checkRule(t, "UPNPrefixRule", UPNPrefixRule, cases)
}

// RFC 5321/5322: an address xtmsyncd writes has a local part that is a dot-atom of at most 64
// octets, and a domain.
func TestSMTPAddressMustHaveValidLocalPartAndDomain(t *testing.T) {
	checkRule(t, "SMTPAddressRule", SMTPAddressRule, []ruleCase{
		{"Lara.Newton@contoso.com", true, ""},
		{"o'brien+tag@contoso.com", true, ""},
		{"@contoso.com", false, "no local part"},
		{"lara@", false, "no domain"},
		{"lara", false, "no @domain"},
		{"", false, "no @domain"},
		{"bad local@contoso.com", false, `' '`},
		{"a@b@contoso.com", false, "'@'"},
		{`"quoted"@contoso.com`, false, `'"'`},
		{"josé@contoso.com", false, "'é'"},
		{".lara@contoso.com", false, "starts with a period"},
		{"la..ra@contoso.com", false, "two periods"},
		{strings.Repeat("a", 64) + "@contoso.com", true, ""},
		{strings.Repeat("a", 65) + "@contoso.com", false, "64"},
	})
}

// An x500 address is a /o=.../ou=.../cn=... path as Exchange writes a LegacyExchangeDN.
func TestX500MustBeWellFormedPath(t *testing.T) {
	checkRule(t, "X500Rule", X500Rule, []ruleCase{
		{laraLegacyDN, true, ""},
		{laraCloudDN, true, ""},
		{"/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=lara", true, ""},
		{"/O=Old/CN=lara2", true, ""},
		{"/o=x/cn=LaraN@contoso.mail.onmicrosoft.com", true, ""},
		// the values
		{"", false, "empty"},
		{"garbage with spaces", false, `does not start with "/"`},
		{"/o=Bad,cn=", false, `second "="`},
		// and their relatives
		{"/", false, "empty"},
		{"/o=Org/cn=", false, "no value"},
		{"/o=Org/cn= ", false, "no value"},
		{"/o=Org//cn=a", false, "component 2 is empty"},
		{"/o=Org/cn=a/", false, "empty"},
		{"/o=Org/ou=Group", false, "does not end with /cn="},
		{"/ou=Group/cn=a", false, "does not start with /o="},
		{"/o=Org/dc=x/cn=a", false, `type "dc"`},
		{"/o=Org/Recipients/cn=a", false, "not type=value"},
		{"/o=Org/cn=a\nb", false, "control"},
	})
}

// An x400 address is key=value pairs separated by ";" with a country and an ADMD.
func TestX400MustBeWellFormed(t *testing.T) {
	checkRule(t, "X400Rule", X400Rule, []ruleCase{
		{"C=US;A= ;P=Contoso;O=Exchange;S=Newton;G=Lara;", true, ""},
		{"c=US;a= ;p=X;s=a", true, ""},
		{"c=840;a=ADMD;p=X;ou1=Sales;s=a;dda:RFC-822=a(a)x.com;", true, ""},
		// the value
		{"c=;a=;", false, "c= has no value"},
		{"", false, "empty"},
		{";", false, "not key=value"},
		{"c=US;a=;p=X", false, "a= has no value"},
		{"c=US;a= ;", false, "names no organisation"},
		{"a= ;p=X;s=a", false, "no country"},
		{"c=US;p=X;s=a", false, "no ADMD"},
		{"c=USA;a= ;p=X", false, "country"},
		{"c=U1;a= ;p=X", false, "country"},
		{"c=US;a= ;x=1", false, "unknown key"},
		{"c=US;a= ;s=a;s=b", false, "twice"},
		{"c=US;a= ;s=", false, "s= has no value"},
		{"c=US;a= ;s=a=b", false, `second "="`},
		{"garbage", false, "not key=value"},
	})
}

// AD measures rangeUpper in UTF-16 code units: a character outside the BMP counts twice.
func TestLengthCountsUTF16CodeUnits(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want int
	}{{"", 0}, {"abc", 3}, {"Zoë", 3}, {"日本", 2}, {"😀", 2}, {"a😀b", 4}} {
		if got := Length(tc.v); got != tc.want {
			t.Errorf("Length(%q) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

// ---- the rules as Prepare applies them ----

// prepareInvalid maps m and fails unless it is invalid; it returns every problem.
func prepareInvalid(t *testing.T, m directory.Mailbox, r Rules) []Problem {
	t.Helper()
	d, probs := Prepare(&m, r)
	if len(probs) == 0 {
		t.Fatalf("source %s prepared, want it invalid: %v", m.DN, d.Attrs)
	}
	for _, p := range probs {
		if p.Object != m.DN || p.Attribute == "" || p.Found == "" || p.Fix == "" {
			t.Errorf("problem %+v does not name the object, attribute, value and fix", p)
		}
	}
	return probs
}

func codes(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Code+"/"+p.Attribute)
	}
	return out
}

// The SMTP:@contoso.com became mail: @northwind.com: a primary with no local part makes
// the whole source invalid, naming the value.
func TestPrimarySMTPWithNoLocalPartMakesTheSourceInvalid(t *testing.T) {
	for _, tc := range []struct{ name, primary, mail, attr, found string }{
		{"SMTP proxy", "SMTP:@contoso.com", "Lara.Newton@contoso.com", directory.AttrProxyAddresses, "SMTP:@contoso.com"},
		{"mail, no SMTP proxy", "", "@contoso.com", directory.AttrMail, "@contoso.com"},
		{"no domain", "SMTP:lara", "", directory.AttrProxyAddresses, "SMTP:lara"},
		{"space", "SMTP:lara newton@contoso.com", "", directory.AttrProxyAddresses, "lara newton"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lara(t)
			m.Mail = tc.mail
			m.Proxies = slices.DeleteFunc(slices.Clone(m.Proxies), func(p directory.Proxy) bool { return p.IsSMTP() && p.IsPrimary() })
			if tc.primary != "" {
				m.Proxies = append(m.Proxies, directory.Proxy(tc.primary))
			}
			probs := prepareInvalid(t, m, baseRules())
			if probs[0].Code != "bad_primary_smtp" || probs[0].Attribute != tc.attr || !strings.Contains(probs[0].Found, tc.found) {
				t.Errorf("problems %+v, want bad_primary_smtp on %s naming %q", probs, tc.attr, tc.found)
			}
		})
	}
}

// The mailNickname "bad alias@x" became UPN "bad alias@x@northwind.com": an alias
// Exchange refuses makes the source invalid.
func TestAliasNotValidMakesTheSourceInvalid(t *testing.T) {
	m := lara(t)
	m.Alias = "bad alias@x"
	probs := prepareInvalid(t, m, baseRules())
	if got := codes(probs); !slices.Equal(got, []string{"bad_alias/mailNickname"}) {
		t.Errorf("problems %v, want only bad_alias on mailNickname", got)
	}
	if !strings.Contains(probs[0].Found, "bad alias@x") {
		t.Errorf("found %q does not show the alias", probs[0].Found)
	}
}

// An alias Exchange accepts but Entra ID cannot take as a UPN prefix (a+b@...) is invalid too,
// reported on userPrincipalName with the UPN it would be.
func TestUPNPrefixNotValidMakesTheSourceInvalid(t *testing.T) {
	for _, alias := range []string{"lara+n", "a=b", "x&y", "José"} {
		m := lara(t)
		m.Alias = alias
		probs := prepareInvalid(t, m, baseRules())
		if probs[0].Code != "bad_upn_prefix" || probs[0].Attribute != directory.AttrUPN ||
			!strings.Contains(probs[0].Found, alias+"@"+baseRules().TargetUPNSuffix) {
			t.Errorf("%s: problems %+v, want bad_upn_prefix naming the UPN", alias, probs)
		}
	}
}

// The 80-character mailNickname and 1,000-character sn were refused by the server on
// every run: a value longer than the target schema allows makes the source invalid.
func TestValuesWithinTheTargetSchemaLimits(t *testing.T) {
	for _, tc := range []struct {
		attr  string
		limit int
		set   func(*directory.Mailbox, string)
	}{
		{directory.AttrMailNickname, 64, func(m *directory.Mailbox, v string) { m.Alias = v }},
		{directory.AttrSurname, 64, func(m *directory.Mailbox, v string) { m.Surname = v }},
		{directory.AttrGivenName, 64, func(m *directory.Mailbox, v string) { m.GivenName = v }},
		{directory.AttrDisplayName, 256, func(m *directory.Mailbox, v string) { m.DisplayName = v }},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			if Limits[tc.attr] != tc.limit {
				t.Fatalf("Limits[%s] = %d, want AD's %d", tc.attr, Limits[tc.attr], tc.limit)
			}
			m := lara(t)
			tc.set(&m, strings.Repeat("a", tc.limit))
			mapOK(t, m, baseRules())
			for _, n := range []int{tc.limit + 1, 80, 1000} {
				if n <= tc.limit {
					continue
				}
				m := lara(t)
				tc.set(&m, strings.Repeat("b", n))
				probs := prepareInvalid(t, m, baseRules())
				if got := codes(probs); !slices.Equal(got, []string{"value_too_long/" + tc.attr}) {
					t.Errorf("%d characters: problems %v, want value_too_long on %s", n, got, tc.attr)
				}
			}
			// Counted as AD counts: 33 characters outside the BMP are 66 UTF-16 units.
			if tc.limit == 64 && tc.attr != directory.AttrMailNickname {
				m := lara(t)
				tc.set(&m, strings.Repeat("😀", 33))
				prepareInvalid(t, m, baseRules())
			}
		})
	}
}

// Rules.MaxLength, the target schema's rangeUpper when read, overrides the documented limits.
func TestMaxLengthOverridesTheDocumentedLimits(t *testing.T) {
	r := baseRules()
	r.MaxLength = map[string]int{directory.AttrSurname: 5}
	m := lara(t) // sn Newton: 6 characters
	probs := prepareInvalid(t, m, r)
	if probs[0].Code != "value_too_long" || !strings.Contains(probs[0].Fix, "at most 5") {
		t.Errorf("problems %+v, want sn over the schema's 5", probs)
	}
}

// A legacyExchangeDN that is not a well-formed X.500 path cannot become the x500 the target
// must carry (check 10): the source is invalid.
func TestLegacyExchangeDNMustBeWellFormed(t *testing.T) {
	for _, legDN := range []string{"garbage with spaces", "/o=Bad,cn=", "/o=Org/cn=", "/o=Org/cn=" + strings.Repeat("x", 1120)} {
		m := lara(t)
		m.LegacyExchangeDN = legDN
		probs := prepareInvalid(t, m, baseRules())
		if probs[0].Code != "bad_legacy_dn" || probs[0].Attribute != directory.AttrLegacyExchangeDN {
			t.Errorf("%.40q: problems %+v, want bad_legacy_dn", legDN, probs)
		}
	}
}

// The address targetAddress points at must be a valid address.
func TestRoutingAddressMustBeValid(t *testing.T) {
	m := lara(t)
	m.Proxies = []directory.Proxy{"SMTP:Lara.Newton@contoso.com", "smtp:bad local@contoso.mail.onmicrosoft.com"}
	probs := prepareInvalid(t, m, baseRules())
	if probs[0].Code != "bad_routing_address" {
		t.Errorf("problems %+v, want bad_routing_address", probs)
	}
}

// An invalid source lists every problem found, in rule order, not only the first.
func TestInvalidSourceListsEveryProblem(t *testing.T) {
	m := lara(t)
	m.Alias = "bad alias"
	m.Surname = strings.Repeat("s", 1000)
	m.LegacyExchangeDN = "/o=Bad,cn="
	m.Proxies[0] = "SMTP:@contoso.com"
	want := []string{"bad_alias/mailNickname", "value_too_long/sn", "bad_legacy_dn/legacyExchangeDN", "bad_primary_smtp/proxyAddresses"}
	if got := codes(prepareInvalid(t, m, baseRules())); !slices.Equal(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
	_, inv := Map([]directory.Mailbox{m}, baseRules())
	if len(inv) != 1 || !slices.Equal(codes(inv[0].Problems()), want) || inv[0].Problem.Code != "bad_alias" {
		t.Errorf("Map: %+v, want the reason bad_alias and every problem", inv)
	}
	if _, p := One(&m, baseRules()); p == nil || p.Code != "bad_alias" {
		t.Errorf("One: %+v, want the first problem", p)
	}
}

// A secondary proxy that is not valid is left out of the target, alone, with a warning naming
// the object, the attribute, the value as the source holds it and the fix; the source is still
// prepared with the rest.
func TestInvalidSecondaryProxyLeftOutWithWarning(t *testing.T) {
	r := baseRules()
	r.AcceptedDomains = append(r.AcceptedDomains, "northwind.co.uk")
	r.SourceDomains = append(r.SourceDomains, "contoso.co.uk")
	r.DomainMap = map[string]string{"contoso.co.uk": "northwind.co.uk"}
	bad := []directory.Proxy{
		"x500:", "x500:garbage with spaces", "x500:/o=Bad,cn=", "x400:c=;a=;", // the values
		"X500:/o=Org/cn=",
		"smtp:bad local@contoso.co.uk", "smtp:@contoso.co.uk",
		directory.Proxy("x500:/o=Org/cn=" + strings.Repeat("y", 1110)), // longer than 1123
	}
	good := []directory.Proxy{"x500:/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=lara", "x400:c=US;a= ;p=Contoso;s=Newton", "smtp:lara@contoso.co.uk"}
	m := lara(t)
	m.Proxies = append(append(slices.Clone(m.Proxies), bad...), good...)
	d, probs := Prepare(&m, r)
	if len(probs) != 0 {
		t.Fatalf("source invalid: %+v", probs)
	}
	for _, p := range good {
		if p.IsSMTP() {
			p = "smtp:lara@northwind.co.uk"
		}
		if !hasProxy(d, p) {
			t.Errorf("valid %q left out: %q", p, proxiesOf(d))
		}
	}
	for _, v := range d.Attrs[directory.AttrProxyAddresses] {
		if secondaryRule(directory.Proxy(v), Limits[directory.AttrProxyAddresses]) != "" {
			t.Errorf("malformed %q reached the target's proxyAddresses", v)
		}
	}
	if len(d.Warnings) != len(bad) {
		t.Fatalf("%d warnings, want one per malformed value (%d): %+v", len(d.Warnings), len(bad), d.Warnings)
	}
	for i, w := range d.Warnings {
		if w.Code != "proxy_left_out" || w.Object != m.DN || w.Attribute != directory.AttrProxyAddresses || w.Fix == "" {
			t.Errorf("warning %+v does not name the object, attribute and fix", w)
		}
		found := false
		for _, b := range bad {
			found = found || strings.HasPrefix(w.Found, preview(string(b))+": ")
		}
		if !found {
			t.Errorf("warning %d found %q names none of the malformed source values", i, w.Found)
		}
	}
}

// A new object's cn is cut to the target's limit (it is xtmsyncd's name for it, not data).
func TestCNCutToTheSchemaLimit(t *testing.T) {
	m := lara(t)
	m.CN = ""
	m.DisplayName = strings.Repeat("D", 100) + " x"
	d := mapOK(t, m, baseRules())
	if Length(d.CN) != 64 || !strings.HasPrefix(m.DisplayName, d.CN) {
		t.Errorf("cn %q (%d), want the display name cut to 64", d.CN, Length(d.CN))
	}
	if got := CutName("abc   def", 5); got != "abc" {
		t.Errorf("CutName left %q, want the spaces at the cut dropped", got)
	}
	if got := CutName("😀😀😀", 5); got != "😀😀" {
		t.Errorf("CutName cut a surrogate pair: %q", got)
	}
}
