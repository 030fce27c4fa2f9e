package directory

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// RFC 4514 section 2.4, plus "=" (Samba refuses it unescaped in a value).
func TestEscapeRDNValue_RFC4514EverySpecialCharacter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Ann Lee", "Ann Lee"},
		{"Lee, Ann", `Lee\, Ann`},
		{"a+b", `a\+b`},
		{`say "hi"`, `say \"hi\"`},
		{`back\slash`, `back\\slash`},
		{"<x>", `\<x\>`},
		{"a;b", `a\;b`},
		{"a=b", `a\=b`},
		{"#lead", `\#lead`},
		{"mid#dle", "mid#dle"},
		{" lead", `\ lead`},
		{"trail ", `trail\ `},
		{" ", `\ `},
		{"  ", `\ \ `},
		{"nul\x00", `nul\00`},
		{"tab\tnl\n", `tab\09nl\0A`},
		{"Zoë 日本", "Zoë 日本"},
		{"", ""},
	} {
		if got := EscapeRDNValue(tc.in); got != tc.want {
			t.Errorf("EscapeRDNValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every escaped value parses back to itself as the value of a DN's first RDN.
func TestEscapeRDNValue_ParsesBack(t *testing.T) {
	for _, v := range []string{`,+"\<>;=`, "# lead and trail ", "=x=", "a,b+c=d", " #", "x\x01y", "😀 \\ ,", `\3D`} {
		dn, err := ldap.ParseDN("CN=" + EscapeRDNValue(v) + ",OU=Test,DC=x")
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if len(dn.RDNs) != 3 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != v {
			t.Errorf("%q parsed back as %q", v, dn.String())
		}
	}
}
