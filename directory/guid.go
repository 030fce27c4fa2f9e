package directory

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is a Windows GUID held in canonical (RFC 4122, big-endian) byte order, the order in
// which its string form is written. Active Directory stores objectGUID, msExchMailboxGuid and
// msExchArchiveGUID in the mixed-endian layout of .NET Guid.ToByteArray(): use GUIDFromAD and
// AD to convert.
type GUID [16]byte

// adOrder maps an index in AD layout to the index in canonical layout. The permutation is its
// own inverse: Data1 (4 bytes), Data2 and Data3 (2 bytes each) are little-endian in AD.
var adOrder = [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}

// ParseGUID parses "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d8", with or without braces, in any case.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return g, fmt.Errorf("%w: %q is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", ErrBadGUID, s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return GUID{}, fmt.Errorf("%w: %q: %v", ErrBadGUID, s, err)
	}
	return g, nil
}

// GUIDFromAD converts the 16 bytes AD returns into a GUID. Any other length is ErrBadGUID.
func GUIDFromAD(b []byte) (GUID, error) {
	var g GUID
	if len(b) != 16 {
		return g, fmt.Errorf("%w: %d bytes, want 16", ErrBadGUID, len(b))
	}
	for i, j := range adOrder {
		g[j] = b[i]
	}
	return g, nil
}

// AD returns the 16 bytes in the layout Active Directory stores.
func (g GUID) AD() []byte {
	b := make([]byte, 16)
	for i, j := range adOrder {
		b[i] = g[j]
	}
	return b
}

// IsZero reports whether g is 00000000-0000-0000-0000-000000000000, Exchange's "no archive".
func (g GUID) IsZero() bool { return g == GUID{} }

// String returns the canonical lower-case form.
func (g GUID) String() string {
	h := hex.EncodeToString(g[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// MarshalText implements encoding.TextMarshaler.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *GUID) UnmarshalText(b []byte) error {
	v, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// FilterValue returns the GUID as an LDAP filter assertion value in AD byte order with every
// byte hex-escaped, as binary attributes require (go-ldap's EscapeFilter leaves most bytes alone).
func (g GUID) FilterValue() string {
	return EscapeBinary(g.AD())
}

// EscapeBinary hex-escapes every byte of b for use in an LDAP filter.
func EscapeBinary(b []byte) string {
	var sb strings.Builder
	sb.Grow(3 * len(b))
	const digits = "0123456789abcdef"
	for _, c := range b {
		sb.WriteByte('\\')
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&0xf])
	}
	return sb.String()
}
