package ldapwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

func TestPagedSearch_FollowsCookiesInOrder(t *testing.T) {
	pages := [][]*ldap.Entry{mailboxes(0, 3), mailboxes(3, 6), mailboxes(6, 8)}
	// Binary cookies, with bytes above 0x7f and a zero byte; the last page has none.
	cookies := [][]byte{{0x01, 0xff, 0x80, 'a'}, {'c', 0x00, 0xfe, 0x92, 0x10}, nil}
	pages[1] = append(pages[1], &ldap.Entry{DN: "CN=No Attributes,DC=example,DC=com"})
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		var want []byte
		if n > 0 {
			want = cookies[n-1]
		}
		if !bytes.Equal(req.cookie, want) {
			t.Errorf("page %d asked with cookie %x, want %x", n, req.cookie, want)
		}
		if req.pageSize != 3 {
			t.Errorf("page %d asked with page size %d, want 3", n, req.pageSize)
		}
		if n >= len(pages) {
			t.Errorf("asked for page %d of %d", n, len(pages))
			w.Close()
			return
		}
		var b []byte
		if n == 1 { // a continuation reference amid the entries
			b = msg(req.id, referenceOp("ldap://dom2.example.com/DC=dom2,DC=example,DC=com"))
		}
		w.Write(append(b, pageOf(req.id, pages[n], cookies[n])...))
	})
	c := f.mustDial(t)
	fn, got := collect()

	refs, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn)
	if err != nil {
		t.Fatalf("PagedSearch: %v", err)
	}
	if refs != 1 {
		t.Errorf("refs = %d, want 1", refs)
	}
	var want []*ldap.Entry
	for _, p := range pages {
		want = append(want, p...)
	}
	checkEntries(t, *got, want)
	if len(*got) != len(want) {
		t.FailNow()
	}
	if g := (*got)[2].GetRawAttributeValue("objectGUID"); !bytes.Equal(g, []byte{0xff, 0x80, 2, 0, 0x7f, 0xc3, 0x28, 0xfe}) {
		t.Errorf("objectGUID of entry 2 = %x", g)
	}
	if a := (*got)[0].Attributes[3]; a.Name != "description" || len(a.Values) != 0 || len(a.ByteValues) != 0 {
		t.Errorf("attribute without values came back as %q %q %x", a.Name, a.Values, a.ByteValues)
	}
	if len(f.searches) != 3 {
		t.Errorf("%d page requests, want 3", len(f.searches))
	}
	last := int64(0)
	for range len(f.searches) {
		s := <-f.searches
		if s.id <= last {
			t.Errorf("message ID %d after %d", s.id, last)
		}
		last = s.id
	}

	// The connection serves a second search after a complete one.
	f2 := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		w.Write(pageOf(req.id, mailboxes(0, 1), nil))
	})
	c2 := f2.mustDial(t)
	for i := range 2 {
		fn, got := collect()
		if _, err := searchSafely(t, context.Background(), c2, mailboxSearch, 3, fn); err != nil || len(*got) != 1 {
			t.Errorf("search %d on one connection: %d entries, %v", i, len(*got), err)
		}
	}
}

func TestPagedSearch_AsksForTheNextPageBeforeTheCallbackFinishes(t *testing.T) {
	asked := make(chan struct{}) // closed when the request for page 2 arrives
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		switch n {
		case 0:
			w.Write(pageOf(req.id, mailboxes(0, 3), []byte("next")))
		case 1:
			close(asked)
			w.Write(pageOf(req.id, mailboxes(3, 5), nil))
		}
	})
	c := f.mustDial(t)
	var got []*ldap.Entry
	waited := false
	fn := func(e *ldap.Entry) error {
		if len(got) == 0 {
			select {
			case <-asked:
				waited = true
			case <-time.After(safety):
				return errors.New("page 2 was not asked for while the callback held page 1's first entry")
			}
		}
		got = append(got, e)
		return nil
	}

	if _, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn); err != nil {
		t.Fatalf("PagedSearch: %v", err)
	}
	if !waited {
		t.Error("callback did not see the request for page 2")
	}
	checkEntries(t, got, mailboxes(0, 5))
}

func TestPagedSearch_CallbackErrorStopsAndIsReturned(t *testing.T) {
	sentinel := errors.New("mapping failed")
	for _, k := range []int{1, 3, 4, 9} { // first entry, end of page 1, start of page 2, very last
		t.Run(fmt.Sprint("entry ", k), func(t *testing.T) {
			f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
				cookie := []byte{byte(n + 1)}
				if n == 2 {
					cookie = nil
				}
				w.Write(pageOf(req.id, mailboxes(3*n, 3*n+3), cookie))
			})
			c := f.mustDial(t)
			var calls atomic.Int32
			fn := func(e *ldap.Entry) error {
				if calls.Add(1) == int32(k) {
					return sentinel
				}
				return nil
			}

			_, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn)
			if !errors.Is(err, sentinel) {
				t.Fatalf("PagedSearch error = %v, want the callback's", err)
			}
			if n := calls.Load(); n != int32(k) {
				t.Errorf("callback called %d times, want %d", n, k)
			}
			if _, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn); !errors.Is(err, ErrClosed) {
				t.Errorf("next PagedSearch error = %v, want ErrClosed", err)
			}
			if n := calls.Load(); n != int32(k) {
				t.Errorf("callback called %d times after the failed search, want %d", n, k)
			}
		})
	}
}

// When the callback fails while the server is still working on the next page, the error is
// returned without waiting for the server.
func TestPagedSearch_CallbackErrorDoesNotWaitForTheServer(t *testing.T) {
	sentinel := errors.New("mapping failed")
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		if n == 0 {
			w.Write(pageOf(req.id, mailboxes(0, 3), []byte("next")))
		} // page 2 never comes
	})
	c := f.mustDial(t)
	fn := func(e *ldap.Entry) error { return sentinel }

	if _, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn); !errors.Is(err, sentinel) {
		t.Fatalf("PagedSearch error = %v, want the callback's", err)
	}
}

func TestPagedSearch_ServerErrorCarriesTheResultCode(t *testing.T) {
	const diag = "0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'DC=example,DC=com'"
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		if n == 0 {
			w.Write(pageOf(req.id, mailboxes(0, 2), []byte("next")))
			return
		}
		w.Write(msg(req.id, resultOp(5, ldap.LDAPResultNoSuchObject, diag)))
	})
	c := f.mustDial(t)
	fn, got := collect()

	_, err := searchSafely(t, context.Background(), c, mailboxSearch, 2, fn)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Fatalf("PagedSearch error = %v, want result code 32", err)
	}
	if !strings.Contains(err.Error(), diag) {
		t.Errorf("error %q lacks the server's message", err)
	}
	if errors.Is(err, ErrProtocol) {
		t.Errorf("a server's refusal is reported as a protocol error: %v", err)
	}
	checkEntries(t, *got, mailboxes(0, 2))
}

func TestPagedSearch_ServerDropsMidPage(t *testing.T) {
	long := mailbox(2)
	long.Attributes = append(long.Attributes, newAttr("info", strings.Repeat("x", 300)))
	longMsg := func(id int64) []byte { return msg(id, entryOp(long)) }
	for _, tc := range []struct {
		name string
		tail func(id int64) []byte // written after two whole entries, before the close
	}{
		{"between messages", func(int64) []byte { return nil }},
		{"inside an entry", func(id int64) []byte { m := longMsg(id); return m[:len(m)/2] }},
		{"inside a length", func(id int64) []byte { return longMsg(id)[:3] }},
		{"after the tag", func(id int64) []byte { return longMsg(id)[:1] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
				b := append(msg(req.id, entryOp(mailbox(0))), msg(req.id, entryOp(mailbox(1)))...)
				w.Write(append(b, tc.tail(req.id)...))
				w.Close()
			})
			c := f.mustDial(t)
			fn, got := collect()

			_, err := searchSafely(t, context.Background(), c, mailboxSearch, 4, fn)
			if err == nil || !strings.Contains(err.Error(), "read response") {
				t.Fatalf("PagedSearch error = %v, want a failed read", err)
			}
			checkEntries(t, *got, mailboxes(0, 2))
		})
	}
}

func TestPagedSearch_NoticeOfDisconnection(t *testing.T) {
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		notice := resultOp(24, ldap.LDAPResultUnavailable, "the server is shutting down")
		notice.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, "1.3.6.1.4.1.1466.20036", "responseName"))
		w.Write(append(msg(req.id, entryOp(mailbox(0))), msg(0, notice)...))
		w.Close()
	})
	c := f.mustDial(t)
	fn, got := collect()

	_, err := searchSafely(t, context.Background(), c, mailboxSearch, 4, fn)
	var le *ldap.Error
	if !errors.Is(err, ErrDisconnected) || errors.As(err, &le) {
		t.Errorf("PagedSearch error = %v, want ErrDisconnected and no *ldap.Error (the connection ended; nothing answered the search)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "server closed the connection") || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("error %v does not say the server closed the connection, and why", err)
	}
	checkEntries(t, *got, mailboxes(0, 1))
}

func TestPagedSearch_CancelledContext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inFn     bool // cancel from the callback's first entry, else once page 2 is asked for
		wantSeen int
	}{
		{"from the callback", true, 0},
		{"while waiting for the next page", false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan struct{})
			f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
				if n == 0 {
					w.Write(pageOf(req.id, mailboxes(0, 3), []byte("next")))
					return
				}
				close(asked) // and stall: page 2 never comes
			})
			c := f.mustDial(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			seen := 0
			fn := func(e *ldap.Entry) error {
				seen++
				if tc.inFn {
					cancel()
				}
				return nil
			}
			if !tc.inFn {
				go func() {
					select {
					case <-asked:
						cancel()
					case <-time.After(safety):
					}
				}()
			}

			_, err := searchSafely(t, ctx, c, mailboxSearch, 3, fn)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("PagedSearch error = %v, want context.Canceled", err)
			}
			if seen < 1 || seen > 3 || (tc.wantSeen > 0 && seen != tc.wantSeen) {
				t.Errorf("callback saw %d entries", seen)
			}
			if _, err := searchSafely(t, context.Background(), c, mailboxSearch, 3, fn); !errors.Is(err, ErrClosed) {
				t.Errorf("next PagedSearch error = %v, want ErrClosed", err)
			}
		})
	}
}

func TestPagedSearch_MalformedResponseIsAProtocolError(t *testing.T) {
	// An entry whose attribute list has an indefinite length, inside a well-formed envelope.
	indefiniteAttrs := func(id int64) []byte {
		attrs := append([]byte{0x30, 0x80}, rawTLV(0x30, rawTLV(0x04, []byte("cn")), rawTLV(0x31, rawTLV(0x04, []byte("x"))))...)
		attrs = append(attrs, 0, 0)
		return rawTLV(0x30, rawTLV(0x02, []byte{byte(id)}), rawTLV(0x64, rawTLV(0x04, []byte("CN=x,DC=example,DC=com")), attrs))
	}
	for _, tc := range []struct {
		name     string
		answer   func(id int64) []byte
		wantSeen int
	}{
		{"entry with another message ID", func(id int64) []byte {
			return append(msg(id+1, entryOp(mailbox(0))), pageOf(id, nil, nil)...)
		}, 0},
		{"SearchResultDone with another message ID", func(id int64) []byte {
			return pageOf(id+7, nil, nil)
		}, 0},
		{"message with an indefinite length", func(id int64) []byte {
			v := envelope(id, entryOp(mailbox(0))).Data.Bytes()
			return append(append([]byte{0x30, 0x80}, v...), 0, 0)
		}, 0},
		{"entry with an indefinite length inside", func(id int64) []byte {
			return append(append(msg(id, entryOp(mailbox(0))), indefiniteAttrs(id)...), pageOf(id, nil, nil)...)
		}, 1},
		{"message that is not a SEQUENCE", func(id int64) []byte {
			return rawTLV(0x31, rawTLV(0x02, []byte{byte(id)}), rawTLV(0x65, rawTLV(0x0a, []byte{0}), rawTLV(0x04), rawTLV(0x04)))
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
				if req.id > 0x7f {
					t.Errorf("message ID %d does not fit the hand-made encoding", req.id)
				}
				w.Write(tc.answer(req.id))
			})
			c := f.mustDial(t)
			fn, got := collect()

			_, err := searchSafely(t, context.Background(), c, mailboxSearch, 4, fn)
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("PagedSearch error = %v, want ErrProtocol", err)
			}
			checkEntries(t, *got, mailboxes(0, tc.wantSeen))
		})
	}
}

func TestDial_WrongPasswordIsErrCredentials(t *testing.T) {
	for _, tc := range []struct {
		code     int64
		want     error
		wantText string
	}{
		{ldap.LDAPResultInvalidCredentials, ldapconn.ErrCredentials, ""},
		{ldap.LDAPResultUnwillingToPerform, ldapconn.ErrBind, "AcceptSecurityContext"},
		{ldap.LDAPResultSuccess, nil, ""},
	} {
		t.Run(fmt.Sprint("code ", tc.code), func(t *testing.T) {
			f := startFake(t, tc.code, func(w net.Conn, n int, req searchReq) {
				t.Error("search after the bind")
			})

			c, err := f.dial(t)
			if tc.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Dial = %v, %v; want a connection", c, err)
				}
			} else {
				if !errors.Is(err, tc.want) || c != nil {
					t.Fatalf("Dial = %v, %v; want %v", c, err, tc.want)
				}
				if tc.want == ldapconn.ErrBind && errors.Is(err, ldapconn.ErrCredentials) {
					t.Errorf("code %d reported as wrong credentials: %v", tc.code, err)
				}
				if !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("error %q lacks %q", err, tc.wantText)
				}
			}
			select {
			case b := <-f.binds:
				want := bindReq{3, "CN=svc-sync,OU=Service,DC=example,DC=com", "s3cret-Ä"}
				if b != want {
					t.Errorf("bind request %+v, want %+v", b, want)
				}
			default:
				t.Error("no bind request")
			}
		})
	}
}

func TestPagedSearch_SendsTheRequestAsGiven(t *testing.T) {
	req := &ldap.SearchRequest{
		BaseDN:       "OU=Mail,DC=example,DC=com",
		Scope:        ldap.ScopeSingleLevel,
		DerefAliases: ldap.DerefFindingBaseObj,
		SizeLimit:    5000,
		TimeLimit:    120,
		Filter:       "(&(objectClass=user)(|(mail=*@example.com)(proxyAddresses=smtp:*))(!(msExchHideFromAddressLists=TRUE))(cn=J\\c3\\a9r\\c3\\b4me*))",
		Attributes:   []string{"mail", "objectGUID", "msExchMailboxGuid"},
		Controls:     []ldap.Control{ldap.NewControlManageDsaIT(true)},
	}
	filter, err := ldap.CompileFilter(req.Filter)
	if err != nil {
		t.Fatal(err)
	}
	wantFilter, err := ldap.DecompileFilter(filter)
	if err != nil {
		t.Fatal(err)
	}
	f := startFake(t, 0, func(w net.Conn, n int, r searchReq) {
		var cookie []byte
		if n == 0 {
			cookie = []byte("page-2")
		}
		w.Write(pageOf(r.id, mailboxes(n, n+1), cookie))
	})
	c := f.mustDial(t)
	fn, got := collect()

	if _, err := searchSafely(t, context.Background(), c, req, 250, fn); err != nil {
		t.Fatalf("PagedSearch: %v", err)
	}
	checkEntries(t, *got, mailboxes(0, 2))
	if len(f.searches) != 2 {
		t.Fatalf("%d page requests, want 2", len(f.searches))
	}
	for i, wantCookie := range []string{"", "page-2"} {
		s := <-f.searches
		if s.base != req.BaseDN || s.scope != 1 || s.deref != 2 || s.sizeLimit != 5000 || s.timeLimit != 120 || s.typesOnly {
			t.Errorf("page %d: base %q scope %d deref %d sizeLimit %d timeLimit %d typesOnly %v",
				i, s.base, s.scope, s.deref, s.sizeLimit, s.timeLimit, s.typesOnly)
		}
		if !bytes.Equal(s.filter, filter.Bytes()) {
			t.Errorf("page %d: filter\n %x\nwant %x", i, s.filter, filter.Bytes())
		}
		if p, err := ber.DecodePacketErr(s.filter); err != nil {
			t.Errorf("page %d: filter does not decode: %v", i, err)
		} else if g, err := ldap.DecompileFilter(p); err != nil || g != wantFilter {
			t.Errorf("page %d: filter decompiles to %q, %v; want %q", i, g, err, wantFilter)
		}
		if fmt.Sprint(s.attrs) != fmt.Sprint(req.Attributes) {
			t.Errorf("page %d: attributes %q, want %q", i, s.attrs, req.Attributes)
		}
		if fmt.Sprint(s.controls) != fmt.Sprint([]string{ldap.ControlTypePaging, ldap.ControlTypeManageDsaIT}) {
			t.Errorf("page %d: controls %q", i, s.controls)
		}
		if s.pageSize != 250 || string(s.cookie) != wantCookie {
			t.Errorf("page %d: paging size %d cookie %q, want 250 %q", i, s.pageSize, s.cookie, wantCookie)
		}
	}
}

func TestDial_CancelEndsABindTheServerNeverAnswers(t *testing.T) {
	err := ldaptest.DialCancelledMidBind(t, func(ctx context.Context, d *config.Directory) error {
		c, err := Dial(ctx, d)
		if c != nil {
			c.Close()
		}
		return err
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ldapconn.ErrConnect) {
		t.Fatalf("Dial = %v; want ErrConnect wrapping context.Canceled", err)
	}
}
