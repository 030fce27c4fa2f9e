package writer

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// writeLDIF writes one request as an RFC 2849 change record. It is our own writer because a
// value must be base64 when it is not "safe": any byte outside printable ASCII, or a first
// character that is a space, ':' or '<', or a trailing space; go-ldap/ldif only checks some of
// these, and an export that drops a leading space is not what apply sends.
func writeLDIF(b *bytes.Buffer, req any) error {
	line := func(attr, v string) {
		b.WriteString(attr)
		if safe(v) {
			b.WriteString(": ")
			b.WriteString(v)
		} else {
			b.WriteString(":: ")
			b.Write(base64.StdEncoding.AppendEncode(b.AvailableBuffer(), []byte(v)))
		}
		b.WriteByte('\n')
	}
	switch r := req.(type) {
	case *ldap.AddRequest:
		line("dn", r.DN)
		b.WriteString("changetype: add\n")
		for _, a := range r.Attributes {
			for _, v := range a.Vals {
				line(a.Type, v)
			}
		}
	case *ldap.ModifyRequest:
		line("dn", r.DN)
		b.WriteString("changetype: modify\n")
		for _, c := range r.Changes {
			op := modifyOps[c.Operation]
			if op == "" {
				return fmt.Errorf("ldif: %s: unknown modify operation %d", r.DN, c.Operation)
			}
			b.WriteString(op + ": " + c.Modification.Type + "\n")
			for _, v := range c.Modification.Vals {
				line(c.Modification.Type, v)
			}
			b.WriteString("-\n")
		}
	case *ldap.DelRequest:
		line("dn", r.DN)
		b.WriteString("changetype: delete\n")
	default:
		return fmt.Errorf("ldif: unexpected request %T", req)
	}
	b.WriteByte('\n')
	return nil
}

var modifyOps = map[uint]string{ldap.AddAttribute: "add", ldap.DeleteAttribute: "delete", ldap.ReplaceAttribute: "replace"}

// safe reports whether v can be written as is (RFC 2849 SAFE-STRING, no trailing space).
func safe(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case ' ', ':', '<':
		return false
	}
	if v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
