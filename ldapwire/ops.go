package ldapwire

import (
	"fmt"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// Response tags of the write operations (RFC 4511 §4.6–4.8).
const (
	tagModifyResp = 0x67 // [APPLICATION 7]
	tagAddResp    = 0x69 // [APPLICATION 9]
	tagDelResp    = 0x6b // [APPLICATION 11]
)

// The methods below make a Conn the writer's connection (writer.Conn): one request at a time,
// answered on the calling goroutine. go-ldap hands every request and response between three
// goroutines; on a busy two-core machine each hand-over is a wake-up the write waits for.
//
// A server's refusal comes back as an *ldap.Error with its result code and message, as go-ldap
// returns it. Any other failure (the connection dropped, a timeout, a malformed response) closes
// the connection and is returned as is, so that callers tell "the server said no" from "the
// outcome is unknown" as they do with go-ldap.

// Search runs one search without paging and returns its entries and continuation references.
// When the server ends it with an error (a size limit, say), the entries read so far come with it.
func (c *Conn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	if c.closed {
		return nil, ErrClosed
	}
	op, err := searchOp(req)
	if err != nil {
		return nil, err
	}
	id, err := c.send(op, req.Controls)
	if err != nil {
		return nil, c.broken(err)
	}
	res := &ldap.SearchResult{}
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	for {
		f, err := c.readFrame()
		if err != nil {
			return nil, c.broken(err)
		}
		m, err := parseMessage(f)
		if err != nil {
			return nil, c.broken(err)
		}
		if m.id != id {
			return nil, c.broken(unexpected(m, id))
		}
		switch m.op {
		case tagEntry:
			e, err := entry(m.body)
			if err != nil {
				return nil, c.broken(err)
			}
			res.Entries = append(res.Entries, e)
		case tagReference:
			for b := m.body; len(b) > 0; {
				var uri []byte
				if uri, b, err = expect(b, tagOctetString, "referral URI"); err != nil {
					return nil, c.broken(err)
				}
				res.Referrals = append(res.Referrals, string(uri))
			}
		case tagIntermediate:
		case tagDone:
			r, err := parseResult(m.body)
			if err != nil {
				return nil, c.broken(err)
			}
			// A paged search done one page per Search (ldapsrc.Paged) needs the cookie for the
			// next page: without it, the read would stop after the first page, silently.
			cookie, err := pagingCookie(m.controls)
			if err != nil {
				return nil, c.broken(err)
			}
			if len(cookie) > 0 {
				res.Controls = append(res.Controls, &ldap.ControlPaging{Cookie: cookie})
			}
			return res, r.err()
		default:
			return nil, c.broken(unexpected(m, id))
		}
	}
}

// Add sends an AddRequest (RFC 4511 §4.7).
func (c *Conn) Add(req *ldap.AddRequest) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(8), nil, "Add Request")
	op.AppendChild(berOctets(req.DN))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range req.Attributes {
		attrs.AppendChild(partialAttribute(a.Type, a.Vals))
	}
	op.AppendChild(attrs)
	return c.write(op, req.Controls, tagAddResp)
}

// Modify sends a ModifyRequest (RFC 4511 §4.6): the changes in order, in one operation.
func (c *Conn) Modify(req *ldap.ModifyRequest) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(6), nil, "Modify Request")
	op.AppendChild(berOctets(req.DN))
	changes := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Changes")
	for _, ch := range req.Changes {
		seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Change")
		seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ch.Operation), "Operation"))
		seq.AppendChild(partialAttribute(ch.Modification.Type, ch.Modification.Vals))
		changes.AppendChild(seq)
	}
	op.AppendChild(changes)
	return c.write(op, req.Controls, tagModifyResp)
}

// Del sends a DelRequest (RFC 4511 §4.8).
func (c *Conn) Del(req *ldap.DelRequest) error {
	op := ber.NewString(ber.ClassApplication, ber.TypePrimitive, ber.Tag(10), req.DN, "Del Request")
	return c.write(op, req.Controls, tagDelResp)
}

func berOctets(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

func partialAttribute(name string, vals []string) *ber.Packet {
	pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attribute")
	pa.AppendChild(berOctets(name))
	set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "Values")
	for _, v := range vals {
		set.AppendChild(berOctets(v))
	}
	pa.AppendChild(set)
	return pa
}

// write sends a write request and reads its one response.
func (c *Conn) write(op *ber.Packet, controls []ldap.Control, want byte) error {
	if c.closed {
		return ErrClosed
	}
	id, err := c.send(op, controls)
	if err != nil {
		return c.broken(err)
	}
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	f, err := c.readFrame()
	if err != nil {
		return c.broken(err)
	}
	m, err := parseMessage(f)
	if err != nil {
		return c.broken(err)
	}
	if m.id != id || m.op != want {
		return c.broken(unexpected(m, id))
	}
	r, err := parseResult(m.body)
	if err != nil {
		return c.broken(err)
	}
	return r.err()
}

// broken closes the connection after a failure that leaves it unusable and returns err.
func (c *Conn) broken(err error) error {
	c.closed = true
	c.nc.Close()
	return fmt.Errorf("ldapwire: %w", err)
}
