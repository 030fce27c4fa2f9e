package ldapwire

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// safety bounds every wait in these tests. It is a safety net against hangs, never a measure of
// speed: the client's own timeout is set far above it, so a hang shows up as this failure.
const safety = 10 * time.Second

// fakeServer is a one-connection LDAP server on 127.0.0.1. It answers the BindRequest with
// bindCode and hands every SearchRequest, decoded, to search, which writes the answer on the
// connection (or writes nothing, to stall; or closes it). Any other request goes to other, if
// set (see startFakeWith).
type fakeServer struct {
	t        *testing.T
	addr     string
	bindCode int64
	search   func(w net.Conn, n int, req searchReq) // n counts the SearchRequests from 0
	other    otherFunc
	binds    chan bindReq   // every BindRequest, as received
	searches chan searchReq // every SearchRequest, as received
}

// bindReq is a decoded BindRequest.
type bindReq struct {
	version      int64
	dn, password string
}

// searchReq is a decoded SearchRequest with its controls.
type searchReq struct {
	id                                 int64
	base                               string
	scope, deref, sizeLimit, timeLimit int64
	typesOnly                          bool
	filter                             []byte // the Filter element, re-encoded
	attrs                              []string
	controls                           []string // control types, in order
	pageSize                           int64    // from the paged-results control; -1 without it
	cookie                             []byte
}

// otherFunc answers a request that is neither a bind nor a search: p is the whole LDAPMessage,
// decoded, and raw its bytes exactly as received.
type otherFunc func(w net.Conn, id int64, p *ber.Packet, raw []byte)

func startFake(t *testing.T, bindCode int64, search func(w net.Conn, n int, req searchReq)) *fakeServer {
	t.Helper()
	return startFakeWith(t, bindCode, search, nil)
}

// startFakeWith is startFake with a handler for every other request (Add, Modify, Del...).
func startFakeWith(t *testing.T, bindCode int64, search func(w net.Conn, n int, req searchReq), other otherFunc) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{
		t: t, addr: ln.Addr().String(), bindCode: bindCode, search: search, other: other,
		binds: make(chan bindReq, 4), searches: make(chan searchReq, 64),
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		context.AfterFunc(ctx, func() { nc.Close() })
		defer nc.Close()
		f.serve(nc)
	}()
	t.Cleanup(func() {
		stop()
		ln.Close()
		<-done
	})
	return f
}

func (f *fakeServer) serve(nc net.Conn) {
	var raw bytes.Buffer // the bytes of the message being read
	r := io.TeeReader(bufio.NewReader(nc), &raw)
	for n := 0; ; {
		raw.Reset()
		p, err := ber.ReadPacket(r)
		if err != nil {
			return // the client hung up, or the test is over
		}
		if len(p.Children) < 2 {
			f.t.Errorf("fake: malformed LDAPMessage:\n%s", ber.DescribePacket(p))
			return
		}
		id, ok := p.Children[0].Value.(int64)
		if !ok {
			f.t.Errorf("fake: malformed LDAPMessage:\n%s", ber.DescribePacket(p))
			return
		}
		op := p.Children[1]
		switch {
		case op.ClassType == ber.ClassApplication && op.Tag == 0:
			b, err := decodeBind(op)
			if err != nil {
				f.t.Errorf("fake: %v", err)
				return
			}
			f.binds <- b
			diag := ""
			if f.bindCode != 0 {
				diag = "80090308: LdapErr: DSID-0C09050F, comment: AcceptSecurityContext error, data 52e"
			}
			nc.Write(msg(id, resultOp(1, f.bindCode, diag)))
		case op.ClassType == ber.ClassApplication && op.Tag == 3:
			s, err := decodeSearch(id, p)
			if err != nil {
				f.t.Errorf("fake: %v", err)
				return
			}
			f.searches <- s
			f.search(nc, n, s)
			n++
		case f.other != nil:
			f.other(nc, id, p, bytes.Clone(raw.Bytes()))
		default:
			f.t.Errorf("fake: unexpected request:\n%s", ber.DescribePacket(p))
			return
		}
	}
}

func decodeBind(op *ber.Packet) (bindReq, error) {
	if len(op.Children) != 3 {
		return bindReq{}, fmt.Errorf("BindRequest with %d elements", len(op.Children))
	}
	v, _ := op.Children[0].Value.(int64)
	dn, _ := op.Children[1].Value.(string)
	return bindReq{version: v, dn: dn, password: op.Children[2].Data.String()}, nil
}

func decodeSearch(id int64, p *ber.Packet) (searchReq, error) {
	s := searchReq{id: id, pageSize: -1}
	op := p.Children[1]
	if len(op.Children) != 8 {
		return s, fmt.Errorf("SearchRequest with %d elements", len(op.Children))
	}
	var ok [6]bool
	s.base, ok[0] = op.Children[0].Value.(string)
	s.scope, ok[1] = op.Children[1].Value.(int64)
	s.deref, ok[2] = op.Children[2].Value.(int64)
	s.sizeLimit, ok[3] = op.Children[3].Value.(int64)
	s.timeLimit, ok[4] = op.Children[4].Value.(int64)
	s.typesOnly, ok[5] = op.Children[5].Value.(bool)
	if ok != [6]bool{true, true, true, true, true, true} {
		return s, fmt.Errorf("SearchRequest fields of the wrong type: %v", ok)
	}
	s.filter = op.Children[6].Bytes()
	for _, a := range op.Children[7].Children {
		name, _ := a.Value.(string)
		s.attrs = append(s.attrs, name)
	}
	if len(p.Children) < 3 {
		return s, nil
	}
	for _, c := range p.Children[2].Children {
		if len(c.Children) < 2 {
			return s, fmt.Errorf("control with %d elements", len(c.Children))
		}
		typ, _ := c.Children[0].Value.(string)
		s.controls = append(s.controls, typ)
		if typ != ldap.ControlTypePaging {
			continue
		}
		v, err := ber.DecodePacketErr(c.Children[len(c.Children)-1].ByteValue)
		if err != nil || len(v.Children) != 2 {
			return s, fmt.Errorf("paging control value: %v", err)
		}
		s.pageSize, _ = v.Children[0].Value.(int64)
		s.cookie = v.Children[1].ByteValue
	}
	return s, nil
}

// msg frames op as an LDAPMessage with the given ID and controls.
func msg(id int64, op *ber.Packet, controls ...*ber.Packet) []byte {
	return envelope(id, op, controls...).Bytes()
}

func envelope(id int64, op *ber.Packet, controls ...*ber.Packet) *ber.Packet {
	env := ber.NewSequence("LDAPMessage")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "messageID"))
	env.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "controls")
		for _, c := range controls {
			cs.AppendChild(c)
		}
		env.AppendChild(cs)
	}
	return env
}

func octets(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

// resultOp is an LDAPResult-shaped [APPLICATION app]: resultCode, matchedDN, diagnosticMessage.
func resultOp(app ber.Tag, code int64, diag string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "result")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, "resultCode"))
	op.AppendChild(octets(""))
	op.AppendChild(octets(diag))
	return op
}

func entryOp(e *ldap.Entry) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "SearchResultEntry")
	op.AppendChild(octets(e.DN))
	attrs := ber.NewSequence("attributes")
	for _, a := range e.Attributes {
		pa := ber.NewSequence("attribute")
		pa.AppendChild(octets(a.Name))
		vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range a.ByteValues {
			vals.AppendChild(octets(string(v)))
		}
		pa.AppendChild(vals)
		attrs.AppendChild(pa)
	}
	op.AppendChild(attrs)
	return op
}

func referenceOp(urls ...string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 19, nil, "SearchResultReference")
	for _, u := range urls {
		op.AppendChild(octets(u))
	}
	return op
}

// pagingControl is the paged-results response control (RFC 2696) carrying cookie.
func pagingControl(cookie []byte) *ber.Packet {
	c := ber.NewSequence("control")
	c.AppendChild(octets(ldap.ControlTypePaging))
	seq := ber.NewSequence("realSearchControlValue")
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), "size"))
	seq.AppendChild(octets(string(cookie)))
	c.AppendChild(octets(string(seq.Bytes())))
	return c
}

// pageOf is a successful page: its entries, then a SearchResultDone with cookie (empty: the last).
func pageOf(id int64, entries []*ldap.Entry, cookie []byte) []byte {
	var b []byte
	for _, e := range entries {
		b = append(b, msg(id, entryOp(e))...)
	}
	return append(b, msg(id, resultOp(5, 0, ""), pagingControl(cookie))...)
}

// rawTLV hand-assembles one BER element with a definite length, for malformed messages.
func rawTLV(tag byte, parts ...[]byte) []byte {
	v := bytes.Join(parts, nil)
	if len(v) < 0x80 {
		return append([]byte{tag, byte(len(v))}, v...)
	}
	return append([]byte{tag, 0x82, byte(len(v) >> 8), byte(len(v))}, v...)
}

func newAttr(name string, vals ...string) *ldap.EntryAttribute {
	a := &ldap.EntryAttribute{Name: name}
	for _, v := range vals {
		a.Values = append(a.Values, v)
		a.ByteValues = append(a.ByteValues, []byte(v))
	}
	return a
}

// mailbox is a typical entry; i makes its DN and values unique.
func mailbox(i int) *ldap.Entry {
	guid := string([]byte{0xff, 0x80, byte(i), 0x00, 0x7f, 0xc3, 0x28, 0xfe})
	return &ldap.Entry{
		DN: fmt.Sprintf("CN=User %d,OU=Mail,DC=example,DC=com", i),
		Attributes: []*ldap.EntryAttribute{
			newAttr("objectClass", "top", "person", "organizationalPerson", "user"),
			newAttr("mail", fmt.Sprintf("user%d@example.com", i)),
			newAttr("objectGUID", guid),
			newAttr("description"),
			newAttr("proxyAddresses", fmt.Sprintf("SMTP:user%d@example.com", i), fmt.Sprintf("smtp:u%d@example.org", i)),
		},
	}
}

func mailboxes(from, to int) []*ldap.Entry {
	var es []*ldap.Entry
	for i := from; i < to; i++ {
		es = append(es, mailbox(i))
	}
	return es
}

// describe spells out an entry exactly, bytes included, and checks Values against ByteValues.
func describe(e *ldap.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", e.DN)
	for _, a := range e.Attributes {
		fmt.Fprintf(&b, " %s=%q", a.Name, a.Values)
		if len(a.Values) != len(a.ByteValues) {
			fmt.Fprintf(&b, "(%d ByteValues)", len(a.ByteValues))
		}
		for i, v := range a.ByteValues {
			if i >= len(a.Values) || a.Values[i] != string(v) {
				fmt.Fprintf(&b, "(ByteValues[%d]=%x)", i, v)
			}
		}
	}
	return b.String()
}

func checkEntries(t *testing.T, got, want []*ldap.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if g, w := describe(got[i]), describe(want[i]); g != w {
			t.Errorf("entry %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// dial binds to f as a test account over plain ldap://.
func (f *fakeServer) dial(t *testing.T) (*Conn, error) {
	t.Helper()
	d := &config.Directory{
		URL:                   "ldap://" + f.addr,
		InsecurePlaintextLDAP: true,
		BindDN:                "CN=svc-sync,OU=Service,DC=example,DC=com",
		Timeout:               time.Minute, // far above safety: a hang fails on safety, not here
	}
	d.SetPassword("s3cret-Ä")
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	c, err := Dial(ctx, d)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (f *fakeServer) mustDial(t *testing.T) *Conn {
	t.Helper()
	c, err := f.dial(t)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c
}

var mailboxSearch = &ldap.SearchRequest{
	BaseDN:     "DC=example,DC=com",
	Scope:      ldap.ScopeWholeSubtree,
	Filter:     "(&(objectClass=user)(mail=*))",
	Attributes: []string{"objectClass", "mail", "objectGUID", "description", "proxyAddresses"},
}

// searchSafely runs c.PagedSearch and fails the test if it does not return within safety.
func searchSafely(t *testing.T, ctx context.Context, c *Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) (int, error) {
	t.Helper()
	type outcome struct {
		refs int
		err  error
	}
	ch := make(chan outcome, 1)
	go func() {
		refs, err := c.PagedSearch(ctx, req, pageSize, fn)
		ch <- outcome{refs, err}
	}()
	select {
	case o := <-ch:
		return o.refs, o.err
	case <-time.After(safety):
		t.Fatalf("PagedSearch did not return within %v", safety)
		return 0, nil
	}
}

// collect returns a callback that records the entries and a way to read them after the search.
func collect() (fn func(*ldap.Entry) error, got *[]*ldap.Entry) {
	got = new([]*ldap.Entry)
	return func(e *ldap.Entry) error { *got = append(*got, e); return nil }, got
}
