package ldapwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// A directory that binds and then answers nothing (hung, or frozen mid-run): every request
// fails once the connection's timeout has passed, with a transport error (not an *ldap.Error:
// a write's outcome is unknown), and the connection is closed. This is what bounds a run on a
// hung DC: no request waits longer than the timeout.
func TestOps_HungServerFailsEachRequestWithinTheTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	dn := "CN=Jane Doe,OU=Mail,DC=example,DC=com"
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("mail", []string{"jane@example.com"})
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "user"})
	search := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"mail"}, nil)

	for _, tc := range []struct {
		name string
		op   func(c *Conn) error
	}{
		{"add", func(c *Conn) error { return c.Add(add) }},
		{"modify", func(c *Conn) error { return c.Modify(mod) }},
		{"delete", func(c *Conn) error { return c.Del(ldap.NewDelRequest(dn, nil)) }},
		{"search", func(c *Conn) error { _, err := c.Search(search); return err }},
		{"paged search", func(c *Conn) error {
			_, err := c.PagedSearch(context.Background(), search, 100, func(*ldap.Entry) error { return nil })
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			silent := func(net.Conn, int64, *ber.Packet, []byte) {}
			f := startFakeWith(t, 0, func(net.Conn, int, searchReq) {}, silent)
			d := &config.Directory{URL: "ldap://" + f.addr, InsecurePlaintextLDAP: true,
				BindDN: "CN=svc-sync,OU=Service,DC=example,DC=com", Timeout: timeout}
			d.SetPassword("s3cret")
			ctx, cancel := context.WithTimeout(context.Background(), safety)
			defer cancel()
			c, err := Dial(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Timeout() != timeout {
				t.Errorf("Timeout() = %v, want %v", c.Timeout(), timeout)
			}
			start := time.Now()
			err = within(t, tc.name, func() error { return tc.op(c) })
			el := time.Since(start)
			if err == nil {
				t.Fatal("no error from a server that never answered")
			}
			var le *ldap.Error
			if errors.As(err, &le) {
				t.Errorf("error %v is an *ldap.Error: it would read as the server's answer", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %v: want a timeout", err)
			}
			if el < timeout {
				t.Errorf("failed after %v, before the timeout %v", el, timeout)
			}
			if err := within(t, "next", func() error { return c.Modify(mod) }); !errors.Is(err, ErrClosed) {
				t.Errorf("next request: %v, want ErrClosed", err)
			}
		})
	}
}

// A directory that accepts the connection and never answers the bind: Dial fails within about
// the timeout even when its context has no deadline.
func TestDial_HungBindFailsWithinTheTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		b := make([]byte, 512)
		for {
			if _, err := nc.Read(b); err != nil {
				return
			}
		}
	}()
	d := &config.Directory{URL: "ldap://" + ln.Addr().String(), InsecurePlaintextLDAP: true, BindDN: "CN=x", Timeout: timeout}
	d.SetPassword("s3cret")
	start := time.Now()
	err = within(t, "dial", func() error {
		c, err := Dial(context.Background(), d)
		if c != nil {
			c.Close()
			return fmt.Errorf("dial succeeded")
		}
		return err
	})
	if err == nil {
		t.Fatal("no error")
	}
	if el := time.Since(start); el > 2*timeout+time.Second {
		t.Errorf("dial failed after %v; the timeout is %v", el, timeout)
	}
}

// A request that could not be written (the connection failed under it) says so: it never reached
// the directory whole, so its outcome is known (not applied), unlike one whose answer was lost.
func TestOps_SendFailureIsUnsent(t *testing.T) {
	f := startFakeWith(t, 0, func(net.Conn, int, searchReq) {}, func(net.Conn, int64, *ber.Packet, []byte) {})
	c := f.mustDial(t)
	c.nc.Close() // the connection fails before the request goes out
	err := within(t, "add", func() error { return c.Add(ldap.NewAddRequest("CN=x,DC=example,DC=com", nil)) })
	var u interface{ Unsent() bool }
	if !errors.As(err, &u) || !u.Unsent() {
		t.Errorf("error %v: want it unsent", err)
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		t.Errorf("error %v is an *ldap.Error", err)
	}

	// One whose request went out and whose answer never came is not.
	f2 := startFakeWith(t, 0, func(net.Conn, int, searchReq) {}, func(w net.Conn, _ int64, _ *ber.Packet, _ []byte) { w.Close() })
	c2 := f2.mustDial(t)
	err = within(t, "add", func() error { return c2.Add(ldap.NewAddRequest("CN=x,DC=example,DC=com", nil)) })
	if errors.As(err, &u) {
		t.Errorf("error %v after the request was sent reads as unsent", err)
	}
}

// Search, one page at a time (as ldapsrc.Paged reads the forest on a writer's connection),
// returns each page's cookie: the read goes on to the last page instead of stopping after the
// first.
func TestSearch_ReturnsThePagingCookie(t *testing.T) {
	f := startFake(t, 0, func(w net.Conn, n int, req searchReq) {
		switch n {
		case 0:
			w.Write(pageOf(req.id, mailboxes(0, 2), []byte("next")))
		case 1:
			if string(req.cookie) != "next" {
				t.Errorf("second page asked with cookie %q", req.cookie)
			}
			w.Write(pageOf(req.id, mailboxes(2, 3), nil))
		default:
			t.Errorf("search %d", n)
			w.Close()
		}
	})
	c := f.mustDial(t)
	var all []*ldap.Entry
	paging := ldap.NewControlPaging(2)
	for page := 0; ; page++ {
		req := *mailboxSearch
		req.Controls = []ldap.Control{paging}
		var res *ldap.SearchResult
		if err := within(t, "Search", func() (err error) { res, err = c.Search(&req); return err }); err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		all = append(all, res.Entries...)
		pc, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pc == nil || len(pc.Cookie) == 0 {
			break
		}
		if page > 2 {
			t.Fatal("no last page")
		}
		paging.SetCookie(pc.Cookie)
	}
	checkEntries(t, all, mailboxes(0, 3))
}
