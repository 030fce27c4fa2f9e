package directory

import (
	"fmt"
	"strings"
)

// EscapeRDNValue escapes an attribute value for the relative name of a DN ("CN=" +
// EscapeRDNValue(cn) + "," + parent), per RFC 4514 section 2.4: a backslash before " + , ; < >
// and \, before a leading space or "#" and before a trailing space; NUL and the other control
// characters as \XX hex pairs. It escapes "=" too, which RFC 4514 allows ("=" is a special) and
// Samba requires: its DN parser refuses an unescaped "=" in a value ("invalid dn '(null)'").
// go-ldap's EscapeDN leaves "=" as it is.
func EscapeRDNValue(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 4)
	for i, c := range v {
		switch {
		case (i == 0 || i == len(v)-1) && c == ' ', i == 0 && c == '#':
			b.WriteByte('\\')
			b.WriteRune(c)
		case strings.ContainsRune(`"+,;<>\=`, c):
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%02X`, c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
