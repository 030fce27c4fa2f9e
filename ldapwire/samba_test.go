package ldapwire

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

func samba(t *testing.T) (*ldaptest.Dir, context.Context) {
	t.Helper()
	d := ldaptest.Open(t, "source")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return d, ctx
}

// byDN sorts entries and their attributes (by name) so that two reads compare as sets.
func byDN(es []*ldap.Entry) []*ldap.Entry {
	for _, e := range es {
		slices.SortFunc(e.Attributes, func(a, b *ldap.EntryAttribute) int { return strings.Compare(a.Name, b.Name) })
	}
	slices.SortFunc(es, func(a, b *ldap.Entry) int { return strings.Compare(a.DN, b.DN) })
	return es
}

// Over LDAPS and StartTLS, on Samba, ldapwire returns exactly what go-ldap returns for the same
// paged search from the domain root: every DN, attribute and value (binary GUIDs, many-valued
// proxyAddresses, group members), and the continuation references Samba sends. The objects are
// the test's own, so tests of other packages changing the forest at the same time do not count.
func TestPagedSearch_SameEntriesAsGoLDAPOnSamba(t *testing.T) {
	d, ctx := samba(t)
	ou := d.TempOU(t, "xtm-wire")
	tag := strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=")
	var users []string
	for i := range 40 {
		dn := fmt.Sprintf("CN=Wire User %02d,%s", i, ou)
		r := ldap.NewAddRequest(dn, nil)
		r.Attribute("objectClass", []string{"user"})
		r.Attribute("sAMAccountName", []string{fmt.Sprintf("w%s%02d", tag[len(tag)-8:], i)})
		r.Attribute("description", []string{tag})
		r.Attribute("msExchMailboxGuid", []string{string([]byte{byte(i), 0xff, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xfe})})
		r.Attribute("proxyAddresses", []string{fmt.Sprintf("SMTP:u%d@contoso.com", i), fmt.Sprintf("smtp:u%d@contoso.mail.onmicrosoft.com", i),
			fmt.Sprintf("X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u%d", i)})
		if err := d.Conn.Add(r); err != nil {
			t.Fatal(err)
		}
		users = append(users, dn)
	}
	g := ldap.NewAddRequest("CN=Wire Group,"+ou, nil)
	g.Attribute("objectClass", []string{"group"})
	g.Attribute("description", []string{tag})
	g.Attribute("member", users)
	if err := d.Conn.Add(g); err != nil {
		t.Fatal(err)
	}
	attrs := append(slices.Clip(ldapsrc.MailboxAttributes), "objectClass", "member", "memberOf", "description", "whenCreated")
	req := ldap.NewSearchRequest(d.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(description="+ldap.EscapeFilter(tag)+")", attrs, nil)
	var want []*ldap.Entry
	wantRefs, err := ldapsrc.Paged(ctx, d.Conn, req, 7, func(e *ldap.Entry) error {
		want = append(want, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 41 || wantRefs == 0 {
		t.Fatalf("go-ldap read %d entries and %d references, want 41 and some", len(want), wantRefs)
	}
	want = byDN(want)
	starttls := d.Config
	starttls.URL, starttls.StartTLS = strings.Replace(d.Config.URL, "ldaps://", "ldap://", 1), true
	for name, cfg := range map[string]config.Directory{"LDAPS": d.Config, "StartTLS": starttls} {
		t.Run(name, func(t *testing.T) {
			c, err := Dial(ctx, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []*ldap.Entry
			refs, err := c.PagedSearch(ctx, req, 7, func(e *ldap.Entry) error {
				got = append(got, e)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got = byDN(got)
			if refs != wantRefs || len(got) != len(want) {
				t.Fatalf("%d entries, %d references; go-ldap %d, %d", len(got), refs, len(want), wantRefs)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("entry %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			// the connection serves a second search
			n := 0
			if _, err := c.PagedSearch(ctx, req, 1000, func(*ldap.Entry) error { n++; return nil }); err != nil || n != len(want) {
				t.Errorf("second search: %d entries, err %v", n, err)
			}
		})
	}
}

// A base DN that does not exist is the server's noSuchObject, as go-ldap reports it.
func TestPagedSearch_MissingBaseOnSamba(t *testing.T) {
	d, ctx := samba(t)
	c, err := Dial(ctx, &d.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := ldap.NewSearchRequest("OU=does-not-exist,"+d.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"cn"}, nil)
	_, err = c.PagedSearch(ctx, req, 10, func(*ldap.Entry) error { return nil })
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Fatalf("err %v, want noSuchObject", err)
	}
}

// Dial refuses what ldapconn.Dial refuses, with the same error classes: a wrong password, and
// a certificate from a CA the configuration does not trust (the other forest's).
func TestDial_RefusesWrongPasswordAndUntrustedCA(t *testing.T) {
	d, ctx := samba(t)
	other, ok := ldaptest.Config("target")
	if !ok {
		t.Skip("no target directory")
	}
	wrongCA := d.Config
	wrongCA.CAFile = other.CAFile
	if _, err := Dial(ctx, &wrongCA); !errors.Is(err, ldapconn.ErrTLS) {
		t.Errorf("untrusted CA: err %v, want ErrTLS", err)
	}
	wrongPW := d.Config
	wrongPW.SetPassword("not-the-password")
	if _, err := Dial(ctx, &wrongPW); !errors.Is(err, ldapconn.ErrCredentials) {
		t.Errorf("wrong password: err %v, want ErrCredentials", err)
	}
}
