package ldapwire

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// within runs op and fails the test if it does not return within safety (a hang guard only).
func within(t *testing.T, what string, op func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- op() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(safety):
		t.Fatalf("%s did not return within %v", what, safety)
		return nil
	}
}

// noSearch is the search handler of fakes that must not see one.
func noSearch(t *testing.T) func(net.Conn, int, searchReq) {
	return func(w net.Conn, n int, req searchReq) { t.Errorf("unexpected SearchRequest %+v", req) }
}

// opTag is the protocolOp's tag number of a request the fake received.
func opTag(p *ber.Packet) ber.Tag { return p.Children[1].Tag }

// splitRequest cuts a raw LDAPMessage as received into its protocolOp element (tag, length and
// contents) and its controls element (nil without controls), dropping the envelope and message ID.
func splitRequest(t *testing.T, raw []byte) (op, controls []byte) {
	t.Helper()
	tag, env, rest, err := tlv(raw)
	if err != nil || tag != tagSequence || len(rest) != 0 {
		t.Fatalf("request is not one LDAPMessage (tag %#x, %d bytes after, %v): %x", tag, len(rest), err, raw)
	}
	if tag, _, env, err = tlv(env); err != nil || tag != tagInteger {
		t.Fatalf("request without a messageID (tag %#x, %v): %x", tag, err, raw)
	}
	_, _, after, err := tlv(env)
	if err != nil {
		t.Fatalf("request without a protocolOp: %v: %x", err, raw)
	}
	op = env[:len(env)-len(after)]
	if len(after) > 0 {
		_, _, end, err := tlv(after)
		if err != nil || len(end) != 0 || after[0] != tagControls {
			t.Fatalf("request ends with %x, want one controls element (%v)", after, err)
		}
		controls = after
	}
	return op, controls
}

// writeOps runs one Add, Modify or Del request on a client of either kind.
type writeOps interface {
	Add(*ldap.AddRequest) error
	Modify(*ldap.ModifyRequest) error
	Del(*ldap.DelRequest) error
}

func do(c writeOps, req any) error {
	switch r := req.(type) {
	case *ldap.AddRequest:
		return c.Add(r)
	case *ldap.ModifyRequest:
		return c.Modify(r)
	case *ldap.DelRequest:
		return c.Del(r)
	}
	panic(fmt.Sprintf("request %T", req))
}

// recordingFake answers every write request with success and records it, raw.
func recordingFake(t *testing.T, bindCode int64) (*fakeServer, chan []byte) {
	raws := make(chan []byte, 32)
	f := startFakeWith(t, bindCode, noSearch(t), func(w net.Conn, id int64, p *ber.Packet, raw []byte) {
		raws <- raw
		w.Write(msg(id, resultOp(opTag(p)+1, 0, ""))) // each response's tag follows its request's
	})
	return f, raws
}

func TestWriteOps_EncodeAsGoLDAPDoes(t *testing.T) {
	binary := string([]byte{0xff, 0x80, 0x00, 0x7f, 0xc3, 0x28, 0xfe, 0x92})
	long := strings.Repeat("SMTP:very.long.address@example.com;", 12) // past one-byte lengths
	add := &ldap.AddRequest{
		DN: "CN=Jérôme Müller,OU=Mail,DC=example,DC=com",
		Attributes: []ldap.Attribute{
			{Type: "objectClass", Vals: []string{"top", "person", "organizationalPerson", "user"}},
			{Type: "sAMAccountName", Vals: []string{"jmuller"}},
			{Type: "msExchMailboxGuid", Vals: []string{binary}},
			{Type: "description", Vals: []string{""}},
			{Type: "proxyAddresses", Vals: []string{"SMTP:j@example.com", "smtp:jm@example.org", long}},
			{Type: "info", Vals: []string{strings.Repeat("x", 300)}},
		},
	}
	modify := &ldap.ModifyRequest{
		DN: "CN=Jérôme Müller,OU=Mail,DC=example,DC=com",
		Changes: []ldap.Change{
			{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: "proxyAddresses", Vals: []string{"smtp:new@example.com", "smtp:other@example.com"}}},
			{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: "proxyAddresses", Vals: []string{"smtp:old@example.com"}}},
			{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: "telephoneNumber"}},
			{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "msExchMailboxGuid", Vals: []string{binary}}},
			{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "description", Vals: []string{""}}},
			{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: "info", Vals: []string{}}},
		},
	}
	del := &ldap.DelRequest{DN: "CN=Old Mailbox,OU=Mail,DC=example,DC=com"}
	// The same requests with controls: one critical, one not (its criticality left out).
	permissive := &ldap.ControlString{ControlType: "1.2.840.113556.1.4.1413"} // LDAP_SERVER_PERMISSIVE_MODIFY_OID
	addCtl := *add
	addCtl.Controls = []ldap.Control{ldap.NewControlManageDsaIT(true)}
	modifyCtl := *modify
	modifyCtl.Controls = []ldap.Control{permissive, ldap.NewControlManageDsaIT(true)}
	delCtl := *del
	delCtl.Controls = []ldap.Control{ldap.NewControlManageDsaIT(true)}
	reqs := []struct {
		name string
		req  any
		tag  byte // the protocolOp's identifier octet
	}{
		{"add", add, 0x68},
		{"modify", modify, 0x66},
		{"del", del, 0x4a},
		{"add with a control", &addCtl, 0x68},
		{"modify with controls", &modifyCtl, 0x66},
		{"del with a control", &delCtl, 0x4a},
	}

	// ldapwire, bound as in production.
	fw, wireRaws := recordingFake(t, 0)
	c := fw.mustDial(t)
	for _, r := range reqs {
		if err := within(t, "ldapwire "+r.name, func() error { return do(c, r.req) }); err != nil {
			t.Fatalf("ldapwire %s: %v", r.name, err)
		}
	}
	// go-ldap, unbound: the fake answers any request.
	fg, goRaws := recordingFake(t, 0)
	nc, err := net.DialTimeout("tcp", fg.addr, safety)
	if err != nil {
		t.Fatal(err)
	}
	gl := ldap.NewConn(nc, false)
	gl.SetTimeout(safety)
	gl.Start()
	defer gl.Close()
	for _, r := range reqs {
		if err := within(t, "go-ldap "+r.name, func() error { return do(gl, r.req) }); err != nil {
			t.Fatalf("go-ldap %s: %v", r.name, err)
		}
	}

	if len(wireRaws) != len(reqs) || len(goRaws) != len(reqs) {
		t.Fatalf("fakes received %d (ldapwire) and %d (go-ldap) requests, want %d", len(wireRaws), len(goRaws), len(reqs))
	}
	for _, r := range reqs {
		wOp, wCtl := splitRequest(t, <-wireRaws)
		gOp, gCtl := splitRequest(t, <-goRaws)
		if wOp[0] != r.tag {
			t.Errorf("%s: ldapwire sent protocolOp tag %#x, want %#x", r.name, wOp[0], r.tag)
		}
		if !bytes.Equal(wOp, gOp) {
			t.Errorf("%s: protocolOp differs from go-ldap's\nldapwire %x\n go-ldap %x", r.name, wOp, gOp)
		}
		if !bytes.Equal(wCtl, gCtl) {
			t.Errorf("%s: controls differ from go-ldap's\nldapwire %x\n go-ldap %x", r.name, wCtl, gCtl)
		}
		if strings.HasSuffix(r.name, "control") || strings.HasSuffix(r.name, "controls") {
			if len(wCtl) == 0 {
				t.Errorf("%s: no controls sent", r.name)
			}
		} else if wCtl != nil {
			t.Errorf("%s: controls %x sent for a request without any", r.name, wCtl)
		}
	}
}

func TestWriteOps_ServerRefusalIsAnLDAPError(t *testing.T) {
	type answer struct {
		req  ber.Tag // the request expected
		code int64
		diag string
	}
	answers := []answer{
		{8, ldap.LDAPResultEntryAlreadyExists, "00002071: UpdErr: DSID-03050A2F, problem 6005 (ENTRY_EXISTS), data 0"},
		{6, ldap.LDAPResultInsufficientAccessRights, "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"},
		{10, ldap.LDAPResultNoSuchObject, "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'OU=Mail,DC=example,DC=com'"},
		{6, ldap.LDAPResultSuccess, ""},
	}
	n := 0
	f := startFakeWith(t, 0, noSearch(t), func(w net.Conn, id int64, p *ber.Packet, raw []byte) {
		if n >= len(answers) {
			t.Errorf("request %d of %d", n, len(answers))
			w.Close()
			return
		}
		a := answers[n]
		n++
		if opTag(p) != a.req {
			t.Errorf("request %d has tag %d, want %d", n, opTag(p), a.req)
		}
		w.Write(msg(id, resultOp(a.req+1, a.code, a.diag)))
	})
	c := f.mustDial(t)
	dn := "CN=Jane Doe,OU=Mail,DC=example,DC=com"
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("mail", []string{"jane@example.com"})
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "user"})
	reqs := []any{add, mod, ldap.NewDelRequest(dn, nil), mod}

	for i, req := range reqs {
		a := answers[i]
		err := within(t, fmt.Sprintf("%T", req), func() error { return do(c, req) })
		if a.code == ldap.LDAPResultSuccess {
			if err != nil {
				t.Errorf("%T after the refusals: %v; want success on the same connection", req, err)
			}
			continue
		}
		if !ldap.IsErrorWithCode(err, uint16(a.code)) {
			t.Errorf("%T error = %v, want result code %d", req, err, a.code)
			continue
		}
		var le *ldap.Error
		if errors.As(err, &le); le.ResultCode >= 200 {
			t.Errorf("%T: result code %d reads as a client-side error", req, le.ResultCode)
		}
		if !strings.Contains(err.Error(), a.diag) {
			t.Errorf("%T error %q lacks the server's message %q", req, err, a.diag)
		}
		if errors.Is(err, ErrProtocol) || errors.Is(err, ErrClosed) {
			t.Errorf("%T: a refusal reads as a broken connection: %v", req, err)
		}
	}
	if n != len(answers) {
		t.Errorf("the fake answered %d requests, want %d", n, len(answers))
	}
}

// The server does not answer a write: its outcome is unknown, which callers tell from a refusal
// because the error is no *ldap.Error; the connection is closed.
func TestWriteOps_DropIsNotAnLDAPError(t *testing.T) {
	dn := "CN=Jane Doe,OU=Mail,DC=example,DC=com"
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("mail", []string{"jane@example.com"})
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "user"})
	reqs := []any{add, mod, ldap.NewDelRequest(dn, nil)}

	for _, tc := range []struct {
		name   string
		answer func(w net.Conn, id int64, resp ber.Tag)
		skip   string
	}{
		{"closed without an answer", func(w net.Conn, id int64, resp ber.Tag) {
			w.Close()
		}, ""},
		{"closed inside the answer", func(w net.Conn, id int64, resp ber.Tag) {
			m := msg(id, resultOp(resp, 0, "all done"))
			w.Write(m[:len(m)/2])
			w.Close()
		}, ""},
		{"closed after the answer's tag", func(w net.Conn, id int64, resp ber.Tag) {
			w.Write(msg(id, resultOp(resp, 0, ""))[:1])
			w.Close()
		}, ""},
		{"LDAPResult cut short", func(w net.Conn, id int64, resp ber.Tag) {
			// A whole message whose result lacks matchedDN and diagnosticMessage; the
			// connection stays open.
			w.Write(rawTLV(0x30, rawTLV(0x02, []byte{byte(id)}), rawTLV(0x60|byte(resp), rawTLV(0x0a, []byte{0}))))
		}, ""},
		{"notice of disconnection", func(w net.Conn, id int64, resp ber.Tag) {
			notice := resultOp(24, ldap.LDAPResultUnavailable, "the server is shutting down")
			notice.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, "1.3.6.1.4.1.1466.20036", "responseName"))
			w.Write(msg(0, notice))
			w.Close()
		}, ""},
	} {
		for _, req := range reqs {
			t.Run(fmt.Sprintf("%s/%T", tc.name, req), func(t *testing.T) {
				if tc.skip != "" {
					t.Skip(tc.skip)
				}
				f := startFakeWith(t, 0, noSearch(t), func(w net.Conn, id int64, p *ber.Packet, raw []byte) {
					if id > 0x7f {
						t.Errorf("message ID %d does not fit the hand-made encoding", id)
					}
					tc.answer(w, id, opTag(p)+1)
				})
				c := f.mustDial(t)

				err := within(t, "write", func() error { return do(c, req) })
				if err == nil {
					t.Fatal("no error")
				}
				var le *ldap.Error
				if errors.As(err, &le) {
					t.Errorf("error %v is an *ldap.Error (code %d): callers would read the server's answer in it", err, le.ResultCode)
				}
				if errors.Is(err, ErrClosed) {
					t.Errorf("error %v is ErrClosed, which says nothing was sent", err)
				}
				if err := within(t, "next write", func() error { return c.Modify(mod) }); !errors.Is(err, ErrClosed) {
					t.Errorf("next Modify error = %v, want ErrClosed", err)
				}
			})
		}
	}
}

func TestWriteOps_WrongResponseIsAProtocolError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(id int64) []byte
	}{
		{"AddResponse to a Modify", func(id int64) []byte { return msg(id, resultOp(9, 0, "")) }},
		{"another message ID", func(id int64) []byte { return msg(id+1, resultOp(7, 0, "")) }},
		{"message ID 0 with a ModifyResponse", func(id int64) []byte { return msg(0, resultOp(7, 0, "")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeWith(t, 0, noSearch(t), func(w net.Conn, id int64, p *ber.Packet, raw []byte) {
				if opTag(p) != 6 {
					t.Errorf("request with tag %d, want a ModifyRequest", opTag(p))
				}
				w.Write(tc.answer(id))
			})
			c := f.mustDial(t)
			mod := ldap.NewModifyRequest("CN=Jane Doe,OU=Mail,DC=example,DC=com", nil)
			mod.Replace("mail", []string{"jane@example.com"})

			err := within(t, "Modify", func() error { return c.Modify(mod) })
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Modify error = %v, want ErrProtocol", err)
			}
			var le *ldap.Error
			if errors.As(err, &le) {
				t.Errorf("protocol error %v is an *ldap.Error (code %d)", err, le.ResultCode)
			}
			if err := within(t, "next Modify", func() error { return c.Modify(mod) }); !errors.Is(err, ErrClosed) {
				t.Errorf("next Modify error = %v, want ErrClosed", err)
			}
		})
	}
}

func TestSearch_ReturnsEntriesReferralsAndPartialResultsWithSizeLimit(t *testing.T) {
	const diag = "Size limit exceeded"
	refs := []string{
		"ldap://dom2.example.com/DC=dom2,DC=example,DC=com",
		"ldap://dom3.example.com/CN=Configuration,DC=example,DC=com??sub",
	}
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		switch n {
		case 0:
			b := append(msg(req.id, entryOp(mailbox(0))), msg(req.id, entryOp(mailbox(1)))...)
			b = append(b, msg(req.id, referenceOp(refs...))...)
			w.Write(append(b, msg(req.id, resultOp(5, ldap.LDAPResultSizeLimitExceeded, diag))...))
		case 1:
			w.Write(append(msg(req.id, entryOp(mailbox(7))), msg(req.id, resultOp(5, 0, ""))...))
		default:
			t.Errorf("search %d", n)
			w.Close()
		}
	})
	c := f.mustDial(t)
	req := ldap.NewSearchRequest("DC=example,DC=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(|(mail=user0@example.com)(mail=user1@example.com))", []string{"objectClass", "mail", "objectGUID", "description", "proxyAddresses"}, nil)

	var res *ldap.SearchResult
	err := within(t, "Search", func() (err error) { res, err = c.Search(req); return err })
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("Search error = %v, want result code 4", err)
	}
	if !strings.Contains(err.Error(), diag) {
		t.Errorf("error %q lacks the server's message", err)
	}
	if errors.Is(err, ErrProtocol) {
		t.Errorf("a size limit reads as a protocol error: %v", err)
	}
	if res == nil {
		t.Fatal("no result with the size-limit error")
	}
	checkEntries(t, res.Entries, mailboxes(0, 2))
	if fmt.Sprintf("%q", res.Referrals) != fmt.Sprintf("%q", refs) {
		t.Errorf("referrals %q, want %q", res.Referrals, refs)
	}
	if len(res.Entries) == 2 {
		if g := res.Entries[1].GetRawAttributeValue("objectGUID"); !bytes.Equal(g, []byte{0xff, 0x80, 1, 0, 0x7f, 0xc3, 0x28, 0xfe}) {
			t.Errorf("objectGUID of entry 1 = %x", g)
		}
	}
	s := <-f.searches
	if s.sizeLimit != 2 || len(s.controls) != 0 || s.pageSize != -1 {
		t.Errorf("sent sizeLimit %d, controls %q, paging size %d; want 2, none, none (-1)", s.sizeLimit, s.controls, s.pageSize)
	}

	// The connection serves the next search.
	err = within(t, "second Search", func() (err error) { res, err = c.Search(req); return err })
	if err != nil {
		t.Fatalf("second Search: %v", err)
	}
	checkEntries(t, res.Entries, mailboxes(7, 8))
	if len(res.Referrals) != 0 {
		t.Errorf("second search: referrals %q", res.Referrals)
	}
}

func TestWriteOps_AfterClose(t *testing.T) {
	f := startFakeWith(t, 0, noSearch(t), func(w net.Conn, id int64, p *ber.Packet, raw []byte) {
		t.Errorf("request after Close:\n%s", ber.DescribePacket(p))
	})
	c := f.mustDial(t)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	dn := "CN=Jane Doe,OU=Mail,DC=example,DC=com"
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "user"})
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("mail", []string{"jane@example.com"})
	for _, req := range []any{add, mod, ldap.NewDelRequest(dn, nil)} {
		if err := within(t, fmt.Sprintf("%T", req), func() error { return do(c, req) }); !errors.Is(err, ErrClosed) {
			t.Errorf("%T after Close: %v, want ErrClosed", req, err)
		}
	}
	if _, err := c.Search(mailboxSearch); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v, want ErrClosed", err)
	}
}
