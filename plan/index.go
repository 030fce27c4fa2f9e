package plan

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ouMatch tells whether a DN lies under the target OU.
type ouMatch struct {
	ou        *ldap.DN
	ouName    string // lower-case value of the OU's first RDN, as is and escaped
	ouEscaped string
	ouSuffix  string // ","+the OU's normalised lower-case form
}

func newOUMatch(ou string) ouMatch {
	var m ouMatch
	m.ou, _ = ldap.ParseDN(ou)
	if m.ou != nil && len(m.ou.RDNs) > 0 && len(m.ou.RDNs[0].Attributes) > 0 {
		m.ouName = strings.ToLower(m.ou.RDNs[0].Attributes[0].Value)
		m.ouEscaped = strings.ToLower(ldap.EscapeDN(m.ou.RDNs[0].Attributes[0].Value))
		m.ouSuffix = "," + strings.ToLower(m.ou.String())
	}
	return m
}

// under reports whether dn lies strictly under the OU, and returns its normalised lower-case
// form. A DN that does not even contain the OU's own name is rejected without parsing.
func (x *ouMatch) under(dn string) (string, bool) {
	if x.ou == nil {
		return "", false
	}
	low := strings.ToLower(dn)
	if n := len(low) - len(x.ouSuffix); n > 0 && strings.HasSuffix(low, x.ouSuffix) && !strings.Contains(low[:n], `\`) {
		return low, true // AD's own rendering of a DN under the OU, no escapes: no need to parse
	}
	if !strings.Contains(low, x.ouName) && !strings.Contains(low, x.ouEscaped) {
		return "", false
	}
	d, err := ldap.ParseDN(dn)
	if err != nil || !x.ou.AncestorOfFold(d) {
		return "", false
	}
	return strings.ToLower(d.String()), true
}

// InOU reports whether dn lies under the OU (case-insensitive, RDN-aware).
func InOU(ou *ldap.DN, dn string) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && ou != nil && ou.AncestorOfFold(d)
}

// parsedDN is normDN of a DN that parses, else "".
func parsedDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	return d.String()
}

func normDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	return d.String()
}
