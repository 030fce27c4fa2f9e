// Package ldapwire is a lean LDAP client for one job: reading many objects with a paged search,
// fast. It frames the server's responses itself and asks for the next page the moment the
// current page's SearchResultDone arrives, while the caller still decodes and maps the page:
// the directory computes page k+1 while the client works through page k.
//
// go-ldap (used for everything else) decodes every response into a generic BER tree, with
// descriptions, in its one reader goroutine; a page's last message, which carries the cookie
// for the next page, is only seen after all of the page's entries are decoded. On the demo
// Samba forests that made a 5,000-mailbox read about 20% slower than ldapsearch. See the
// README's Performance section.
//
// A Conn is opened as ldapconn opens go-ldap's (LDAPS or StartTLS, verified, simple bind) and
// runs one search at a time.
package ldapwire

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// Conn is one connection reserved for bulk paged searches.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	id      int64
	timeout time.Duration
	closed  bool
}

// startTLSOID is the StartTLS extended operation (RFC 4511 §4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// Dial connects to d, sets up TLS as configured and binds. Errors wrap ldapconn's classes
// (ErrConnect, ErrTLS, ErrCredentials, ErrBind), as ldapconn.Dial's do.
func Dial(ctx context.Context, d *config.Directory) (*Conn, error) {
	tc, err := ldapconn.TLSConfig(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ldapconn.ErrConnect, err)
	}
	u, err := url.Parse(d.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: url %q: %v", ldapconn.ErrConnect, d.URL, err)
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	dialer := &net.Dialer{Timeout: min(timeout, 15*time.Second)}
	nc, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ldapconn.ErrConnect, d.URL, err)
	}
	c := &Conn{nc: nc, timeout: timeout}
	c.r = bufio.NewReaderSize(nc, 64<<10)
	// The TLS handshake, StartTLS and the bind end when ctx does, not only at the timeout: a
	// directory that accepts the connection and then says nothing must not hold up a cancel.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	fail := func(err error) (*Conn, error) {
		stop()
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ldapconn.ErrConnect, d.URL, context.Cause(ctx))
		}
		return nil, err
	}
	switch {
	case u.Scheme == "ldaps":
		if err := c.handshake(ctx, tc); err != nil {
			return fail(ldapconn.ClassifyTLS(fmt.Errorf("%s: %w", d.URL, err)))
		}
	case d.StartTLS:
		if err := c.startTLS(ctx, tc); err != nil {
			return fail(ldapconn.ClassifyTLS(fmt.Errorf("%s: StartTLS: %w", d.URL, err)))
		}
	}
	if err := c.bind(d.BindDN, d.Password().Reveal()); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fail(fmt.Errorf("%w: %s as %s", ldapconn.ErrCredentials, d.URL, d.BindDN))
		}
		return fail(fmt.Errorf("%w: %s as %s: %v", ldapconn.ErrBind, d.URL, d.BindDN, err))
	}
	if !stop() {
		return fail(nil) // ctx ended as the bind did, and the connection is closed
	}
	return c, nil
}

// Timeout is the per-request timeout the connection applies (config's timeout): every request
// must be sent, and every response (each page's, for a paged search) read, within it, or the
// request fails and the connection closes.
func (c *Conn) Timeout() time.Duration { return c.timeout }

// Close ends the connection (without an unbind: the server drops its state either way).
func (c *Conn) Close() error {
	c.closed = true
	return c.nc.Close()
}

func (c *Conn) handshake(ctx context.Context, tc *tls.Config) error {
	t := tls.Client(c.nc, tc)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := t.HandshakeContext(hctx); err != nil {
		if ctx.Err() == nil && hctx.Err() != nil {
			return fmt.Errorf("no TLS handshake within %s (timeout)", c.timeout)
		}
		return err
	}
	c.nc = t
	c.r = bufio.NewReaderSize(t, 64<<10)
	return nil
}

func (c *Conn) startTLS(ctx context.Context, tc *tls.Config) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(23), nil, "Extended Request")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "Extended Request Name"))
	m, err := c.roundTrip(op, tagExtResp)
	if err != nil {
		return err
	}
	r, err := parseResult(m.body)
	if err != nil {
		return err
	}
	if err := r.err(); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		return fmt.Errorf("%w: data after the StartTLS response", ErrProtocol)
	}
	return c.handshake(ctx, tc)
}

func (c *Conn) bind(dn, password string) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(0), nil, "Bind Request")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "User Name"))
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, "Password"))
	m, err := c.roundTrip(op, tagBindResp)
	if err != nil {
		return err
	}
	r, err := parseResult(m.body)
	if err != nil {
		return err
	}
	return r.err()
}

// roundTrip sends one request and reads its single response, which must carry want.
func (c *Conn) roundTrip(op *ber.Packet, want byte) (message, error) {
	id, err := c.send(op, nil)
	if err != nil {
		return message{}, err
	}
	c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	f, err := c.readFrame()
	if err != nil {
		return message{}, err
	}
	m, err := parseMessage(f)
	if err != nil {
		return m, err
	}
	if m.id != id || m.op != want {
		return m, unexpected(m, id)
	}
	return m, nil
}

// send writes op as the next message, with the given controls; it returns the message ID.
func (c *Conn) send(op *ber.Packet, controls []ldap.Control) (int64, error) {
	c.id++
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.id, "Message ID"))
	env.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, x := range controls {
			cs.AppendChild(x.Encode())
		}
		env.AppendChild(cs)
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.nc.Write(env.Bytes()); err != nil {
		return 0, &sendError{err}
	}
	return c.id, nil
}

// sendError is a request that could not be written whole. The directory cannot have acted on
// it (a request, like a TLS record, counts only once it has arrived entire), so unlike a
// connection that fails while the answer is awaited, its outcome is known: not applied.
type sendError struct{ err error }

func (e *sendError) Error() string { return "send: " + e.err.Error() }

func (e *sendError) Unwrap() error { return e.err }

// Unsent reports that the request never reached the directory whole: it may be sent again.
func (e *sendError) Unsent() bool { return true }

// readFrame reads one whole LDAPMessage (tag, length and contents) without decoding it.
func (c *Conn) readFrame() ([]byte, error) {
	var hdr [6]byte
	if _, err := io.ReadFull(c.r, hdr[:2]); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if hdr[0] != tagSequence {
		return nil, fmt.Errorf("%w: message starts with %#x", ErrProtocol, hdr[0])
	}
	h := 2
	if hdr[1]&0x80 != 0 {
		k := int(hdr[1] & 0x7f)
		if k == 0 || k > 4 {
			return nil, fmt.Errorf("%w: message length of %d bytes", ErrProtocol, k)
		}
		if _, err := io.ReadFull(c.r, hdr[2:2+k]); err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		h += k
	}
	n, _, err := length(hdr[1:h])
	if err != nil {
		return nil, err
	}
	f := make([]byte, h+n)
	copy(f, hdr[:h])
	if _, err := io.ReadFull(c.r, f[h:]); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return f, nil
}

// unexpected describes a response that does not answer the request in flight. A notice of
// disconnection (message ID 0, RFC 4511 §4.4.1) carries the server's reason; it is the end of
// the connection, not an answer to the request, so it is never an *ldap.Error: a write it
// interrupts has an unknown outcome, as with any other dropped connection.
func unexpected(m message, id int64) error {
	if m.id == 0 && m.op == tagExtResp {
		reason := ""
		if r, err := parseResult(m.body); err == nil {
			reason = fmt.Sprintf(": result code %d %q: %s", r.code, ldap.LDAPResultCodeMap[uint16(r.code)], r.message)
		}
		return fmt.Errorf("%w: server closed the connection (notice of disconnection%s)", ErrDisconnected, reason)
	}
	return fmt.Errorf("%w: response %d with tag %#x while waiting for message %d", ErrProtocol, m.id, m.op, id)
}

// ErrDisconnected: the server announced it is closing the connection.
var ErrDisconnected = errors.New("disconnected")
