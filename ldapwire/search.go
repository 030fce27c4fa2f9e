package ldapwire

import (
	"context"
	"errors"
	"fmt"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// ErrClosed is returned by a search on a connection that an earlier search had to close.
var ErrClosed = errors.New("ldapwire: connection closed after an interrupted search")

// tagIntermediate is [APPLICATION 25], IntermediateResponse: allowed during a search, ignored.
const tagIntermediate = 0x79

// PagedSearch runs req page by page, pageSize entries at a time, and calls fn for every entry in
// the server's order, one at a time, on a goroutine of its own: while fn works through a page,
// the next page is already being asked for and read. It returns the number of continuation
// references (tolerated, never followed).
//
// An error from fn, from the server or from ctx ends the search and is returned. The server may
// then still be sending the abandoned page, so the connection is closed and later searches on it
// fail with ErrClosed.
func (c *Conn) PagedSearch(ctx context.Context, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) (int, error) {
	if c.closed {
		return 0, ErrClosed
	}
	op, err := searchOp(req)
	if err != nil {
		return 0, err
	}
	paging := ldap.NewControlPaging(uint32(pageSize))
	controls := append([]ldap.Control{paging}, req.Controls...)

	// Room for a whole page: the next page is asked for as soon as this one has arrived, even
	// when fn is slower than the directory for a while.
	bodies := make(chan []byte, max(pageSize, 1))
	stop := make(chan struct{})
	var fnErr error
	decoded := make(chan struct{})
	go func() {
		defer close(decoded)
		for b := range bodies {
			if fnErr != nil {
				continue
			}
			e, err := entry(b)
			if err != nil {
				err = fmt.Errorf("search %s %s: entry: %w", req.BaseDN, req.Filter, err)
			} else {
				err = fn(e)
			}
			if err != nil {
				fnErr = err
				close(stop)
				// The reader may be waiting for the server: wake it now.
				c.nc.SetReadDeadline(time.Unix(1, 0))
			}
		}
	}()

	undo := context.AfterFunc(ctx, func() { c.nc.SetReadDeadline(time.Unix(1, 0)) })
	refs, err := c.pages(ctx, op, paging, controls, bodies, stop)
	if !undo() && err == nil {
		// ctx ended as the search did: the hook has set (or is setting) a past deadline, which
		// would break the next search on this connection. The result stands; the conn goes.
		c.closed = true
		c.nc.Close()
	}
	close(bodies)
	<-decoded
	switch {
	case fnErr != nil:
		err = fnErr
	case err != nil && ctx.Err() != nil:
		err = ctx.Err()
	case err != nil:
		err = fmt.Errorf("search %s %s: %w", req.BaseDN, req.Filter, err)
	}
	if err != nil {
		c.closed = true
		c.nc.Close()
	}
	return refs, err
}

// errStopped ends the read when the consumer has failed; its error is the one reported.
var errStopped = errors.New("consumer stopped")

// pages sends the search once per page and hands each entry's contents to bodies.
func (c *Conn) pages(ctx context.Context, op *ber.Packet, paging *ldap.ControlPaging, controls []ldap.Control, bodies chan<- []byte, stop <-chan struct{}) (int, error) {
	refs := 0
	for {
		select {
		case <-stop:
			return refs, errStopped
		default:
		}
		id, err := c.send(op, controls)
		if err != nil {
			return refs, err
		}
		cookie, err := c.page(ctx, id, bodies, stop, &refs)
		if err != nil || cookie == nil {
			return refs, err
		}
		paging.SetCookie(cookie)
	}
}

// page reads the responses to message id up to its SearchResultDone and returns the cookie for
// the next page (nil after the last).
func (c *Conn) page(ctx context.Context, id int64, bodies chan<- []byte, stop <-chan struct{}, refs *int) ([]byte, error) {
	for n := 0; ; n++ {
		if n%256 == 0 {
			// Refreshed every so often, not per message. A cancel or a failed consumer sets a
			// past deadline to wake the reader; checked after each refresh, as that deadline must
			// not be overwritten unnoticed.
			c.nc.SetReadDeadline(time.Now().Add(c.timeout))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			select {
			case <-stop:
				return nil, errStopped
			default:
			}
		}
		f, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		m, err := parseMessage(f)
		if err != nil {
			return nil, err
		}
		if m.id != id {
			return nil, unexpected(m, id)
		}
		switch m.op {
		case tagEntry:
			select { // a failed consumer first: both cases can be ready
			case <-stop:
				return nil, errStopped
			default:
			}
			select {
			case bodies <- m.body:
			case <-stop:
				return nil, errStopped
			}
		case tagReference:
			*refs++
		case tagIntermediate:
		case tagDone:
			r, err := parseResult(m.body)
			if err != nil {
				return nil, err
			}
			if err := r.err(); err != nil {
				return nil, err
			}
			return pagingCookie(m.controls)
		default:
			return nil, unexpected(m, id)
		}
	}
}

// searchOp encodes req's SearchRequest (RFC 4511 §4.5.1); it is the same for every page.
func searchOp(req *ldap.SearchRequest) (*ber.Packet, error) {
	filter, err := ldap.CompileFilter(req.Filter)
	if err != nil {
		return nil, fmt.Errorf("search filter %q: %w", req.Filter, err)
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(3), nil, "Search Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, req.BaseDN, "Base DN"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.Scope), "Scope"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.DerefAliases), "Deref Aliases"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.SizeLimit), "Size Limit"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.TimeLimit), "Time Limit"))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, req.TypesOnly, "Types Only"))
	op.AppendChild(filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range req.Attributes {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	op.AppendChild(attrs)
	return op, nil
}
