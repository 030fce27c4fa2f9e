package ldapwire

import (
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// ErrProtocol marks a response that does not follow the LDAP protocol's encoding (RFC 4511):
// the connection cannot be trusted afterwards and is closed.
var ErrProtocol = errors.New("malformed LDAP response")

// BER tags of the LDAPMessage parts this client reads (RFC 4511 §4.1, §4.5.2).
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31
	tagBindResp    = 0x61 // [APPLICATION 1] constructed
	tagEntry       = 0x64 // [APPLICATION 4] SearchResultEntry
	tagDone        = 0x65 // [APPLICATION 5] SearchResultDone
	tagReference   = 0x73 // [APPLICATION 19] SearchResultReference
	tagExtResp     = 0x78 // [APPLICATION 24] ExtendedResponse
	tagControls    = 0xa0 // [0] constructed, after the protocolOp
)

// maxMessage bounds one response: a hostile or broken server cannot make the client allocate
// without limit. AD's largest entries (thousands of member values) stay far below it.
const maxMessage = 64 << 20

// tlv splits b into its first element's tag and contents and the bytes after it. It accepts
// BER's definite lengths in any form (AD writes four-byte lengths even for short values) and
// refuses indefinite lengths and multi-byte tags, which LDAP does not use.
func tlv(b []byte) (tag byte, val, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: element truncated", ErrProtocol)
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, fmt.Errorf("%w: multi-byte tag %#x", ErrProtocol, tag)
	}
	n, hdr, err := length(b[1:])
	if err != nil {
		return 0, nil, nil, err
	}
	b = b[1+hdr:]
	if n > len(b) {
		return 0, nil, nil, fmt.Errorf("%w: element of %d bytes, %d left", ErrProtocol, n, len(b))
	}
	return tag, b[:n], b[n:], nil
}

// length decodes a BER definite length at the start of b: the length and the bytes it took.
func length(b []byte) (n, hdr int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: length missing", ErrProtocol)
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, nil
	}
	k := int(b[0] & 0x7f)
	if k == 0 {
		return 0, 0, fmt.Errorf("%w: indefinite length", ErrProtocol)
	}
	if k > 4 || len(b) < 1+k {
		return 0, 0, fmt.Errorf("%w: length of %d bytes", ErrProtocol, k)
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n > maxMessage {
		return 0, 0, fmt.Errorf("%w: element of %d bytes (limit %d)", ErrProtocol, n, maxMessage)
	}
	return n, 1 + k, nil
}

// expect reads one element of the given tag from b.
func expect(b []byte, want byte, what string) (val, rest []byte, err error) {
	tag, val, rest, err := tlv(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if tag != want {
		return nil, nil, fmt.Errorf("%w: %s has tag %#x, want %#x", ErrProtocol, what, tag, want)
	}
	return val, rest, nil
}

// integer decodes a BER INTEGER or ENUMERATED of at most 8 bytes (two's complement).
func integer(v []byte) (int64, error) {
	if len(v) == 0 || len(v) > 8 {
		return 0, fmt.Errorf("%w: integer of %d bytes", ErrProtocol, len(v))
	}
	n := int64(int8(v[0]))
	for _, c := range v[1:] {
		n = n<<8 | int64(c)
	}
	return n, nil
}

// message is one decoded LDAPMessage envelope.
type message struct {
	id       int64
	op       byte   // the protocolOp's tag
	body     []byte // the protocolOp's contents
	controls []byte // the contents of [0] Controls, if any
}

// parseMessage splits a whole LDAPMessage into its parts.
func parseMessage(b []byte) (message, error) {
	var m message
	env, rest, err := expect(b, tagSequence, "LDAPMessage")
	if err != nil {
		return m, err
	}
	if len(rest) != 0 {
		return m, fmt.Errorf("%w: %d bytes after the message", ErrProtocol, len(rest))
	}
	idv, env, err := expect(env, tagInteger, "messageID")
	if err != nil {
		return m, err
	}
	if m.id, err = integer(idv); err != nil {
		return m, err
	}
	if m.op, m.body, env, err = tlv(env); err != nil {
		return m, fmt.Errorf("protocolOp: %w", err)
	}
	if len(env) > 0 {
		if m.controls, _, err = expect(env, tagControls, "controls"); err != nil {
			return m, err
		}
	}
	return m, nil
}

// entry decodes a SearchResultEntry's contents into go-ldap's Entry: every value as both
// string and bytes, as go-ldap gives them. The byte values alias b.
func entry(b []byte) (*ldap.Entry, error) {
	dn, b, err := expect(b, tagOctetString, "objectName")
	if err != nil {
		return nil, err
	}
	attrs, _, err := expect(b, tagSequence, "attributes")
	if err != nil {
		return nil, err
	}
	e := &ldap.Entry{DN: string(dn)}
	for len(attrs) > 0 {
		var pa, name, vals []byte
		if pa, attrs, err = expect(attrs, tagSequence, "attribute"); err != nil {
			return nil, err
		}
		if name, pa, err = expect(pa, tagOctetString, "attribute type"); err != nil {
			return nil, err
		}
		if vals, _, err = expect(pa, tagSet, "attribute values of "+string(name)); err != nil {
			return nil, err
		}
		a := &ldap.EntryAttribute{Name: string(name), Values: []string{}, ByteValues: [][]byte{}} // as go-ldap: empty, not nil
		for len(vals) > 0 {
			var v []byte
			if v, vals, err = expect(vals, tagOctetString, "value of "+a.Name); err != nil {
				return nil, err
			}
			a.ByteValues = append(a.ByteValues, v)
			a.Values = append(a.Values, string(v))
		}
		e.Attributes = append(e.Attributes, a)
	}
	return e, nil
}

// result is an LDAPResult: the code, the server's message and the referral URLs.
type result struct {
	code      int64
	matchedDN string
	message   string
}

func parseResult(b []byte) (result, error) {
	var r result
	v, b, err := expect(b, tagEnumerated, "resultCode")
	if err != nil {
		return r, err
	}
	if r.code, err = integer(v); err != nil {
		return r, err
	}
	if v, b, err = expect(b, tagOctetString, "matchedDN"); err != nil {
		return r, err
	}
	r.matchedDN = string(v)
	if v, _, err = expect(b, tagOctetString, "diagnosticMessage"); err != nil {
		return r, err
	}
	r.message = string(v)
	return r, nil
}

// err returns nil for success, else an *ldap.Error carrying the code and the server's message,
// as go-ldap builds it, so callers can keep using ldap.IsErrorWithCode.
func (r result) err() error {
	if r.code == ldap.LDAPResultSuccess {
		return nil
	}
	return ldap.NewError(uint16(r.code), errors.New(r.message))
}

// pagingCookie finds the paged-results control (RFC 2696) among a response's controls and
// returns its cookie; nil when the control is absent or the cookie is empty (the last page).
func pagingCookie(controls []byte) ([]byte, error) {
	for len(controls) > 0 {
		var c, oid []byte
		var err error
		if c, controls, err = expect(controls, tagSequence, "control"); err != nil {
			return nil, err
		}
		if oid, c, err = expect(c, tagOctetString, "controlType"); err != nil {
			return nil, err
		}
		if string(oid) != ldap.ControlTypePaging {
			continue
		}
		// criticality (BOOLEAN) may precede the value.
		for len(c) > 0 {
			var tag byte
			var v []byte
			if tag, v, c, err = tlv(c); err != nil {
				return nil, fmt.Errorf("paging control: %w", err)
			}
			if tag != tagOctetString {
				continue
			}
			seq, _, err := expect(v, tagSequence, "paging control value")
			if err != nil {
				return nil, err
			}
			if _, seq, err = expect(seq, tagInteger, "paging size"); err != nil {
				return nil, err
			}
			cookie, _, err := expect(seq, tagOctetString, "paging cookie")
			if err != nil {
				return nil, err
			}
			if len(cookie) == 0 {
				return nil, nil
			}
			return cookie, nil
		}
	}
	return nil, nil
}
