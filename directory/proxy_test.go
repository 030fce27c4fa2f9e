package directory

import "testing"

// The article's Lara Newton example (cross-tenant-mailbox-migration.md) and §C.2's
// proxyAddresses notes: an upper-case prefix marks the primary address of that type, a
// lower-case one a secondary; X500:/x500: both occur.
const (
	laraSourceLegacyDN = "/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=d11ec1a2cacd4f81858c81907273f1f9-Lara"
	laraCloudX500      = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=f161af74128f460fba5c0c23984b3d6c-Lara"
)

func TestProxy_Parts(t *testing.T) {
	for _, tc := range []struct {
		in                Proxy
		prefix, typ, addr string
		primary, smtp     bool
		domain            string
	}{
		{"SMTP:Lara.Newton@northwindtraders.com", "SMTP", "smtp", "Lara.Newton@northwindtraders.com", true, true, "northwindtraders.com"},
		{"smtp:LaraN@northwindtraders.onmicrosoft.com", "smtp", "smtp", "LaraN@northwindtraders.onmicrosoft.com", false, true, "northwindtraders.onmicrosoft.com"},
		{"smtp:LaraN@Contoso.OnMicrosoft.COM", "smtp", "smtp", "LaraN@Contoso.OnMicrosoft.COM", false, true, "contoso.onmicrosoft.com"},
		{"x500:" + laraSourceLegacyDN, "x500", "x500", laraSourceLegacyDN, false, false, ""},
		{"X500:" + laraCloudX500, "X500", "x500", laraCloudX500, true, false, ""},
		{"X400:C=US;A= ;P=Contoso;O=Exchange;S=Newton;G=Lara;", "X400", "x400", "C=US;A= ;P=Contoso;O=Exchange;S=Newton;G=Lara;", true, false, ""},
		{"x400:C=US;A= ;P=Contoso;O=Exchange;S=Newton;G=Lara;", "x400", "x400", "C=US;A= ;P=Contoso;O=Exchange;S=Newton;G=Lara;", false, false, ""},
		{"SIP:lara.newton@northwindtraders.com", "SIP", "sip", "lara.newton@northwindtraders.com", true, false, ""},
		{"eum:1234;phone-context=Dial.northwindtraders.com", "eum", "eum", "1234;phone-context=Dial.northwindtraders.com", false, false, ""},
		// Only the first colon separates the prefix: addresses may contain colons.
		{"x500:/o=A:B/cn=c", "x500", "x500", "/o=A:B/cn=c", false, false, ""},
		// Mixed-case prefix is not a primary.
		{"Smtp:ana@contoso.com", "Smtp", "smtp", "ana@contoso.com", false, true, "contoso.com"},
		// No prefix: no type, not primary, the whole value is the address.
		{"ana@contoso.com", "", "", "ana@contoso.com", false, false, ""},
		{":ana@contoso.com", "", "", ":ana@contoso.com", false, false, ""},
	} {
		t.Run(string(tc.in), func(t *testing.T) {
			if got := tc.in.Prefix(); got != tc.prefix {
				t.Errorf("Prefix() = %q, want %q", got, tc.prefix)
			}
			if got := tc.in.Type(); got != tc.typ {
				t.Errorf("Type() = %q, want %q", got, tc.typ)
			}
			if got := tc.in.Address(); got != tc.addr {
				t.Errorf("Address() = %q, want %q", got, tc.addr)
			}
			if got := tc.in.IsPrimary(); got != tc.primary {
				t.Errorf("IsPrimary() = %v, want %v", got, tc.primary)
			}
			if got := tc.in.IsSMTP(); got != tc.smtp {
				t.Errorf("IsSMTP() = %v, want %v", got, tc.smtp)
			}
			if got := tc.in.Domain(); got != tc.domain {
				t.Errorf("Domain() = %q, want %q", got, tc.domain)
			}
		})
	}
}

// §C.2: proxyAddresses is a case-insensitive Unicode string; AD and Exchange treat values that
// differ only in case as the same address, and primary-ness (prefix case) does not change the
// address's identity.
func TestProxy_KeyIsCaseInsensitiveIdentity(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Proxy
		same bool
	}{
		{"address case", "SMTP:Maria.Lopez@northwind.com", "SMTP:maria.lopez@NORTHWIND.com", true},
		{"primary vs secondary smtp", "SMTP:maria.lopez@northwind.com", "smtp:maria.lopez@northwind.com", true},
		{"X500 vs x500 prefix", "X500:" + laraCloudX500, "x500:" + laraCloudX500, true},
		{"legacyDN case", "x500:" + laraSourceLegacyDN, "x500:/O=FIRST ORGANIZATION/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=d11ec1a2cacd4f81858c81907273f1f9-Lara", true},
		{"different address", "smtp:maria@northwind.com", "smtp:mario@northwind.com", false},
		{"same address, different type", "smtp:lara@northwind.com", "sip:lara@northwind.com", false},
		{"x500 vs x400", "x500:/o=A", "x400:/o=A", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Key() == tc.b.Key(); got != tc.same {
				t.Errorf("Key(%q) == Key(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
}

func TestSMTP_PrefixCaseMarksPrimary(t *testing.T) {
	p := SMTP("Lara.Newton@northwindtraders.com", true)
	if p != "SMTP:Lara.Newton@northwindtraders.com" || !p.IsPrimary() || !p.IsSMTP() {
		t.Errorf("SMTP(primary) = %q (primary %v)", p, p.IsPrimary())
	}
	s := SMTP("LaraN@northwindtraders.onmicrosoft.com", false)
	if s != "smtp:LaraN@northwindtraders.onmicrosoft.com" || s.IsPrimary() || !s.IsSMTP() {
		t.Errorf("SMTP(secondary) = %q (primary %v)", s, s.IsPrimary())
	}
	if p.Key() == s.Key() {
		t.Errorf("different addresses share a key: %q", p.Key())
	}
}

// Article, "What X500 proxy should be added": x500:<LegacyExchangeDN>, exactly, as a secondary.
func TestX500FromLegacyDN_ArticleExample(t *testing.T) {
	want := Proxy("x500:/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=d11ec1a2cacd4f81858c81907273f1f9-Lara")
	got := X500FromLegacyDN(laraSourceLegacyDN)
	if got != want {
		t.Errorf("X500FromLegacyDN = %q, want %q", got, want)
	}
	if got.Type() != "x500" || got.IsPrimary() || got.Address() != laraSourceLegacyDN {
		t.Errorf("X500FromLegacyDN parts: type %q primary %v address %q", got.Type(), got.IsPrimary(), got.Address())
	}
}

func TestDomainOfAndLocalPart(t *testing.T) {
	for _, tc := range []struct {
		addr, domain, local string
	}{
		{"Lara.Newton@NorthwindTraders.com", "northwindtraders.com", "Lara.Newton"},
		{"LaraN@contoso.onmicrosoft.com", "contoso.onmicrosoft.com", "LaraN"},
		{`"odd@local"@contoso.com`, "contoso.com", `"odd@local"`}, // the last @ separates the domain
		{"no-at-sign", "", "no-at-sign"},
		{"trailing@", "", "trailing"},
		{"@contoso.com", "contoso.com", ""},
		{"", "", ""},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := DomainOf(tc.addr); got != tc.domain {
				t.Errorf("DomainOf(%q) = %q, want %q", tc.addr, got, tc.domain)
			}
			if got := LocalPart(tc.addr); got != tc.local {
				t.Errorf("LocalPart(%q) = %q, want %q", tc.addr, got, tc.local)
			}
		})
	}
}
