package mapper

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// The rules in this file say which source values may be written to the target. Each returns ""
// when the value is valid, else what is wrong with it, in words an administrator can act on.
// They are pure and small on purpose: mapper_test.go has a table per rule, named after it.

// Limits are the most characters each attribute xtmsyncd writes may hold, counted as Active
// Directory counts them (UTF-16 code units). Each is the attribute's rangeUpper in the AD schema
// ([MS-ADA1], [MS-ADA3]) or in Exchange's schema extension; the demo target's Samba holds the
// same values (Samba's base schema, testdata/schema/exchange-attributes.tsv) and refuses longer
// values. Rules.MaxLength overrides them with the target schema's own rangeUpper when known.
var Limits = map[string]int{
	directory.AttrMailNickname:   64,   // ms-Exch-Mail-Nickname rangeUpper 64; Exchange: "The maximum length of the Alias value is 64 characters"
	directory.AttrSurname:        64,   // Surname (sn) rangeUpper 64 [MS-ADA3]
	directory.AttrGivenName:      64,   // Given-Name rangeUpper 64 [MS-ADA1]
	directory.AttrDisplayName:    256,  // Display-Name rangeUpper 256 [MS-ADA1]
	directory.AttrCN:             64,   // Common-Name rangeUpper 64 [MS-ADA1]
	directory.AttrMail:           256,  // E-mail-Addresses rangeUpper 256 [MS-ADA1]
	directory.AttrUPN:            1024, // User-Principal-Name rangeUpper 1024 [MS-ADA3] (Entra's 113 is checked by UPNPrefixRule and the alias limit)
	directory.AttrProxyAddresses: 1123, // Proxy-Addresses rangeUpper 1123, per value [MS-ADA3]
	directory.AttrTargetAddress:  1123, // ms-Exch-Target-Address rangeUpper 1123
	// sAMAccountName's rangeUpper is 256, but the SAM refuses more than 20 characters for a user
	// ("sAMAccountName ... must be less than 20 characters", [MS-ADA3] SAM-Account-Name); samBase
	// and plan.uniqueSAM keep to it, so it is not checked as source data.
}

// Limit returns the most characters attr may hold under r (0: no limit).
func (r Rules) Limit(attr string) int { return r.limit(attr) }

func (r Rules) limit(attr string) int {
	if n, ok := r.MaxLength[attr]; ok && n > 0 {
		return n
	}
	return Limits[attr]
}

// Length is the length of v as Active Directory measures rangeUpper: UTF-16 code units.
func Length(v string) int {
	n := 0
	for _, c := range v {
		n += utf16.RuneLen(c)
	}
	return n
}

// LengthRule: a value the target schema cannot hold is refused by the server on every run.
func LengthRule(v string, limit int) string {
	if n := Length(v); limit > 0 && n > limit {
		return fmt.Sprintf("%d characters, more than the %d the target schema allows", n, limit)
	}
	return ""
}

// aliasSpecials are the characters besides ASCII letters and digits Exchange accepts in an
// alias (the -Alias parameter of New-MailUser, Set-RemoteMailbox: "letters, numbers and the
// following characters: !, #, $, %, &, ', *, +, -, /, =, ?, ^, _, `, {, |, } and ~"). They are
// RFC 5322's atext, so an alias is a valid SMTP local part.
const aliasSpecials = "!#$%&'*+-/=?^_`{|}~"

// AliasRule is Exchange's rule for an alias (mailNickname): ASCII letters, digits, the
// characters in aliasSpecials, and Unicode U+00A1 to U+00FF; "periods (.) are allowed, but
// each period must be surrounded by other valid characters (for example, help.desk)". Its
// length (at most 64) is LengthRule's.
func AliasRule(alias string) string {
	if alias == "" {
		return "it is empty"
	}
	for _, c := range alias {
		switch {
		case c == ' ':
			return "it contains a space"
		case c == '@':
			return "it contains @"
		case c == '.', isASCIIAlnum(c), strings.ContainsRune(aliasSpecials, c), c >= 0xA1 && c <= 0xFF:
		default:
			return fmt.Sprintf("it contains %q, which Exchange does not allow in an alias", c)
		}
	}
	return periodsRule(alias)
}

// UPNPrefixRule is Microsoft Entra ID's rule for the part of a userPrincipalName before the @
// ("Property UserPrincipalName requirements", Microsoft 365 troubleshooting: "Invalid user name
// when you try to create a user name that contains a special character"): only A-Z, a-z, 0-9
// and ' . - _ ! # ^ ~; no @; no period immediately before the @; at most 64 characters before
// the @. Azure AD Connect cannot export a UPN that breaks it, so the MailUser never reaches the
// target tenant. The target UPN is <alias>@<target_upn_suffix>, so an alias Exchange accepts
// (+, =, &, ...) can still make an invalid UPN.
func UPNPrefixRule(prefix string) string {
	if prefix == "" {
		return "the part before the @ is empty"
	}
	if n := Length(prefix); n > 64 {
		return fmt.Sprintf("the part before the @ has %d characters, more than the 64 Microsoft Entra ID allows", n)
	}
	for _, c := range prefix {
		if !isASCIIAlnum(c) && !strings.ContainsRune("'.-_!#^~", c) {
			return fmt.Sprintf("it contains %q; Microsoft Entra ID allows only letters A-Z, digits and ' . - _ ! # ^ ~ before the @", c)
		}
	}
	return periodsRule(prefix)
}

// LocalPartRule is RFC 5321/5322's rule for the local part of an SMTP address xtmsyncd writes:
// not empty, a dot-atom (ASCII letters, digits, aliasSpecials; periods not leading, trailing or
// consecutive), at most 64 octets (RFC 5321 4.5.3.1.1). A quoted local part is refused: Exchange
// does not stamp one.
func LocalPartRule(local string) string {
	if local == "" {
		return "it has no local part (nothing before the @)"
	}
	if len(local) > 64 {
		return fmt.Sprintf("its local part has %d octets, more than the 64 RFC 5321 allows", len(local))
	}
	for _, c := range local {
		if c != '.' && !isASCIIAlnum(c) && !strings.ContainsRune(aliasSpecials, c) {
			return fmt.Sprintf("its local part contains %q, which an SMTP address cannot hold unquoted", c)
		}
	}
	if p := periodsRule(local); p != "" {
		return "its local part: " + p
	}
	return ""
}

// SMTPAddressRule checks a source SMTP address whose local part xtmsyncd copies: it must have a
// domain and a valid local part.
func SMTPAddressRule(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return "it is not an address: it has no @domain"
	}
	if i == len(addr)-1 {
		return "it has no domain after the @"
	}
	return LocalPartRule(addr[:i])
}

// periodsRule: a period may not lead, trail or follow another period (Exchange's alias rule,
// RFC 5322's dot-atom).
func periodsRule(s string) string {
	switch {
	case strings.HasPrefix(s, "."):
		return "it starts with a period"
	case strings.HasSuffix(s, "."):
		return "it ends with a period"
	case strings.Contains(s, ".."):
		return "it has two periods in a row"
	}
	return ""
}

// X500Rule checks an X.500 address (the address of an x500: proxy, or a legacyExchangeDN): a
// path of /type=value components in the form Exchange writes a LegacyExchangeDN, e.g.
// /o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=ana. It must
// start with the organisation (o=) and end with a common name (cn=); every component is one of
// o, ou or cn with a value that is not blank and holds no "=" and no control character (a second
// "=" means the value swallowed another component, as in "/o=Bad,cn=").
func X500Rule(addr string) string {
	if addr == "" {
		return "it is empty"
	}
	if addr[0] != '/' {
		return `it does not start with "/": an X.500 address is a path such as /o=Org/ou=Group/cn=Recipients/cn=name`
	}
	rest := addr[1:]
	for i := 0; ; i++ {
		part, more, last := rest, "", true
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			part, more, last = rest[:j], rest[j+1:], false
		}
		typ, val, ok := strings.Cut(part, "=")
		switch {
		case part == "":
			return fmt.Sprintf("component %d is empty", i+1)
		case !ok:
			return fmt.Sprintf("component %d (%q) is not type=value", i+1, part)
		case !strings.EqualFold(typ, "o") && !strings.EqualFold(typ, "ou") && !strings.EqualFold(typ, "cn"):
			return fmt.Sprintf("component %d has type %q; an Exchange X.500 address uses o, ou and cn", i+1, typ)
		case strings.TrimSpace(val) == "":
			return fmt.Sprintf("component %d (%s=) has no value", i+1, typ)
		case strings.Contains(val, "="):
			return fmt.Sprintf("component %d (%q) holds a second \"=\"", i+1, part)
		case hasControl(val):
			return fmt.Sprintf("component %d holds a control character", i+1)
		case i == 0 && !strings.EqualFold(typ, "o"):
			return "it does not start with /o=<organisation>"
		case last && !strings.EqualFold(typ, "cn"):
			return "it does not end with /cn=<name>"
		}
		if last {
			return ""
		}
		rest = more
	}
}

// x400Keys are the attribute keywords of an X.400 O/R address in the text form Exchange stamps
// (c=US;a= ;p=Org;o=Exchange;s=Newton;g=Lara;), after RFC 1685's standard attributes.
var x400Keys = []string{"c", "a", "p", "o", "ou1", "ou2", "ou3", "ou4", "s", "g", "i", "q", "cn", "x121", "n-id", "t-ty", "t-id", "ua-id"}

// X400Rule checks an X.400 address: key=value pairs separated by ";" (a trailing ";" allowed),
// keys from RFC 1685's standard attributes (or dda:<type> for domain-defined ones), none
// repeated, no value empty (the ADMD may be a single space: "a= " means any), the country (c=)
// two letters or three digits (X.411 CountryName), the ADMD (a=) present, and at least one
// attribute naming the recipient's organisation or person besides them.
func X400Rule(addr string) string {
	if strings.TrimSpace(addr) == "" {
		return "it is empty"
	}
	var seen uint32 // bit i: x400Keys[i]
	others := 0
	rest := strings.TrimSuffix(addr, ";")
	for i := 0; ; i++ {
		pair, more, last := rest, "", true
		if j := strings.IndexByte(rest, ';'); j >= 0 {
			pair, more, last = rest[:j], rest[j+1:], false
		}
		key, val, ok := strings.Cut(pair, "=")
		k := slices.IndexFunc(x400Keys, func(x string) bool { return strings.EqualFold(x, key) })
		dda := len(key) > 4 && strings.EqualFold(key[:4], "dda:")
		switch {
		case !ok:
			return fmt.Sprintf("element %d (%q) is not key=value", i+1, pair)
		case k < 0 && !dda:
			return fmt.Sprintf("element %d has the unknown key %q", i+1, key)
		case k >= 0 && seen&(1<<k) != 0:
			return fmt.Sprintf("the key %q appears twice", key)
		case val == "" || strings.TrimSpace(val) == "" && k != 1:
			return fmt.Sprintf("%s= has no value", key)
		case strings.Contains(val, "="):
			return fmt.Sprintf("element %d (%q) holds a second \"=\"", i+1, pair)
		case hasControl(val):
			return fmt.Sprintf("%s= holds a control character", key)
		case k == 0 && !isCountry(val):
			return fmt.Sprintf("the country c=%s is not two letters or three digits", val)
		}
		if k >= 0 {
			seen |= 1 << k
		}
		if k != 0 && k != 1 {
			others++
		}
		if last {
			break
		}
		rest = more
	}
	switch {
	case seen&1 == 0:
		return "it has no country (c=)"
	case seen&2 == 0:
		return `it has no ADMD (a=; "a= " means any)`
	case others == 0:
		return "it names no organisation or person besides c= and a="
	}
	return ""
}

func isCountry(v string) bool {
	letters, digits := 0, 0
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			letters++
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return letters == 2 && digits == 0 || digits == 3 && letters == 0
}

func isASCIIAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f })
}

// preview quotes v for a problem's Found, cut to a readable length.
func preview(v string) string {
	if r := []rune(v); len(r) > 80 {
		return fmt.Sprintf("%q… (%d characters)", string(r[:60]), Length(v))
	}
	return fmt.Sprintf("%q", v)
}

// SecondaryRule checks a secondary proxy address xtmsyncd would copy to the target: a mapped
// smtp: address (its local part), an x500: or an x400: address, each within the per-value limit
// (Rules.Limit(proxyAddresses)). One that breaks it is left out of the target.
func SecondaryRule(p directory.Proxy, limit int) string { return secondaryRule(p, limit) }

func secondaryRule(p directory.Proxy, limit int) string {
	var why string
	switch p.Type() {
	case "smtp":
		why = SMTPAddressRule(p.Address())
	case "x500":
		why = X500Rule(p.Address())
	case "x400":
		why = X400Rule(p.Address())
	}
	if why == "" {
		why = LengthRule(string(p), limit)
	}
	return why
}

// ELCStamped are the msExchELCMailboxFlags bits the article asks for on the target MailUser:
// litigation hold (8) and single item recovery (16). The other bits describe the source
// mailbox's own retention state and are not the target's.
const ELCStamped = directory.ELCLitigationHold | directory.ELCSingleItemRecovery

// ELCRule returns the bits of the source's msExchELCMailboxFlags the target gets (0 when
// absent or neither is set), or what is wrong with a value that is not a number.
func ELCRule(v string) (int64, string) {
	if v == "" {
		return 0, ""
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, "not a number"
	}
	return n & ELCStamped, ""
}
