package directory

import "strings"

// Proxy is one proxyAddresses value such as "SMTP:ana@contoso.com" or "x500:/o=...". The prefix
// names the address type; an upper-case prefix marks the primary address of that type.
type Proxy string

// Prefix returns the address type as written ("SMTP", "smtp", "X500", ...), or "" if none.
func (p Proxy) Prefix() string {
	if i := strings.IndexByte(string(p), ':'); i > 0 {
		return string(p[:i])
	}
	return ""
}

// Type returns the address type in lower case ("smtp", "x500", "x400", "sip", ...).
func (p Proxy) Type() string { return strings.ToLower(p.Prefix()) }

// Address returns the part after the prefix.
func (p Proxy) Address() string {
	if i := strings.IndexByte(string(p), ':'); i > 0 {
		return string(p[i+1:])
	}
	return string(p)
}

// IsPrimary reports whether the prefix is upper case (SMTP:, X500:).
func (p Proxy) IsPrimary() bool {
	pre := p.Prefix()
	return pre != "" && pre == strings.ToUpper(pre)
}

// IsSMTP reports whether p is an SMTP address, primary or not.
func (p Proxy) IsSMTP() bool { return strings.EqualFold(p.Prefix(), "smtp") }

// Domain returns the lower-case domain of an SMTP address, or "".
func (p Proxy) Domain() string {
	if !p.IsSMTP() {
		return ""
	}
	return DomainOf(p.Address())
}

// Key is the case-insensitive identity of the address, the way Exchange and AD compare
// proxyAddresses: type and address folded to lower case, primary-ness ignored.
func (p Proxy) Key() string { return strings.ToLower(string(p)) }

// SMTP returns "SMTP:addr" when primary, else "smtp:addr".
func SMTP(addr string, primary bool) Proxy {
	if primary {
		return Proxy("SMTP:" + addr)
	}
	return Proxy("smtp:" + addr)
}

// X500FromLegacyDN returns the x500 proxy for a legacyExchangeDN.
func X500FromLegacyDN(legacyDN string) Proxy { return Proxy("x500:" + legacyDN) }

// DomainOf returns the lower-case domain of an e-mail address, or "" when there is none.
func DomainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// LocalPart returns the part of an e-mail address before the last '@'.
func LocalPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}
