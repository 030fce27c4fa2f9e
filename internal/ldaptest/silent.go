package ldaptest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
)

// DialCancelledMidBind runs dial against a plain-LDAP server on loopback that reads the first
// request (the bind) and never answers, cancels dial's context once that request has arrived,
// and returns dial's error. The directory's timeout is an hour, so a dial that does not watch
// its context fails t after 10 s instead of returning.
func DialCancelledMidBind(t testing.TB, dial func(context.Context, *config.Directory) error) error {
	t.Helper()
	const safety = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		b := make([]byte, 512)
		n, _ := nc.Read(b)
		got <- b[:n]
		_, _ = nc.Read(b) // until the client closes
	}()
	d := &config.Directory{URL: "ldap://" + ln.Addr().String(), InsecurePlaintextLDAP: true,
		BindDN: "CN=svc-sync,DC=example,DC=com", Timeout: time.Hour}
	d.SetPassword("s3cret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- dial(ctx, d) }()
	select {
	case b := <-got:
		if len(b) == 0 || b[0] != 0x30 { // an LDAPMessage is a SEQUENCE
			t.Fatalf("server read %x, want a bind request", b)
		}
	case err := <-done:
		t.Fatalf("dial returned %v before its bind request reached the server", err)
	case <-time.After(safety):
		t.Fatal("no bind request reached the server")
	}
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(safety):
		t.Fatal("dial kept waiting for the bind after its context was cancelled (timeout 1h)")
	}
	return nil
}
