package ldapconn_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// signedIn fails the test unless c may read what only a signed-in account may: Active
// Directory (and Samba) answer an anonymous search below the RootDSE with an error. Samba has
// no Who am I? operation to ask more directly.
func signedIn(t *testing.T, c *ldap.Conn, base, principal string) {
	t.Helper()
	user, _, _ := strings.Cut(principal, "@")
	res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(user)+")", []string{"userPrincipalName"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read as %s: %v", principal, err)
	}
}

// Kerberos sign-in with a keytab, for real against each forest's KDC, over LDAPS and over
// StartTLS: the directory sees the service account, and the DC's service principal is found
// from the RootDSE when the URL is an IP address.
func TestDial_KerberosKeytab(t *testing.T) {
	for _, name := range []string{"source", "target"} {
		d := ldaptest.Open(t, name)
		k := ldaptest.Kerberos(t, d)
		starttls := k
		starttls.URL = strings.Replace(k.URL, "ldaps://", "ldap://", 1)
		starttls.StartTLS = true
		for how, cfg := range map[string]config.Directory{"LDAPS": k, "StartTLS": starttls} {
			t.Run(name+" "+how, func(t *testing.T) {
				c, err := ldapconn.Dial(context.Background(), &cfg)
				if err != nil {
					t.Fatalf("kerberos bind: %v", err)
				}
				defer c.Close()
				signedIn(t, c, k.BaseDN, k.Principal)
			})
		}
	}
}

// A wrong keytab, an unknown principal, a wrong realm and a missing krb5.conf each fail with
// ErrKerberos and a message that names the cause and the fix; nothing is retried on another DC.
func TestDial_KerberosErrorsNameTheCause(t *testing.T) {
	d := ldaptest.Open(t, "source")
	k := ldaptest.Kerberos(t, d)
	other := ldaptest.Kerberos(t, ldaptest.Open(t, "target"))
	emptyKT := filepath.Join(t.TempDir(), "empty.keytab")
	if err := os.WriteFile(emptyKT, []byte{5, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*config.Directory)
		want string
	}{
		{"keytab of another account", func(c *config.Directory) { c.KeytabFile = other.KeytabFile }, "holds no key for"},
		{"keytab with no keys", func(c *config.Directory) { c.KeytabFile = emptyKT }, "cannot be used"},
		{"principal not in the keytab", func(c *config.Directory) {
			c.Principal = "nobody-here@CONTOSO.TEST"
		}, "holds no key for"},
		{"principal the KDC does not know", func(c *config.Directory) {
			c.Principal, c.KeytabFile = "ghost-account@CONTOSO.TEST", writeKeytab(t, "ghost-account", "CONTOSO.TEST")
		}, "does not know ghost-account@CONTOSO.TEST"},
		{"stale key (the password changed after the export)", func(c *config.Directory) {
			user, _, _ := strings.Cut(k.Principal, "@")
			c.KeytabFile = writeKeytab(t, user, "CONTOSO.TEST")
		}, "password changed since it was exported"},
		{"realm krb5.conf does not know", func(c *config.Directory) {
			c.Principal, c.KeytabFile = "svc-xtmsyncd@FABRIKAM.TEST", writeKeytab(t, "svc-xtmsyncd", "FABRIKAM.TEST")
		}, "not one krb5.conf knows a KDC for"},
		{"missing krb5.conf", func(c *config.Directory) { c.Krb5Conf = filepath.Join(t.TempDir(), "krb5.conf") }, "krb5_conf"},
		{"missing keytab", func(c *config.Directory) { c.KeytabFile = filepath.Join(t.TempDir(), "none.keytab") }, "keytab_file"},
		{"service principal unknown", func(c *config.Directory) { c.SPN = "ldap/nosuchdc.contoso.test" }, "knows no service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := k
			tc.edit(&cfg)
			c, err := ldapconn.Dial(context.Background(), &cfg)
			if err == nil {
				c.Close()
				t.Fatal("signed in")
			}
			if !errors.Is(err, ldapconn.ErrKerberos) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want ErrKerberos saying %q", err, tc.want)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// writeKeytab writes a keytab for user@realm with a key from a password the directory never set.
func writeKeytab(t *testing.T, user, realm string) string {
	t.Helper()
	kt := keytab.New()
	for _, et := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96} {
		if err := kt.AddEntry(user, realm, "not-the-password-1!", time.Now(), 1, et); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), user+".keytab")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Kerberos from the credential cache (no keytab in the config): kinit fills a cache from the
// service account's keytab, and the sign-in uses its tickets; without a cache the error says
// to run kinit or configure a keytab.
func TestDial_KerberosCredentialCache(t *testing.T) {
	d := ldaptest.Open(t, "source")
	k := ldaptest.Kerberos(t, d)
	cc := filepath.Join(t.TempDir(), "krb5cc")
	kinit := exec.Command("kinit", "-k", "-t", k.KeytabFile, "-c", "FILE:"+cc, k.Principal)
	kinit.Env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf)
	if out, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit (krb5-user, installed by scripts/testdirs.sh install): %v\n%s", err, out)
	}
	cfg := k
	cfg.KeytabFile, cfg.Principal = "", ""
	t.Setenv("KRB5CCNAME", "FILE:"+cc)
	c, err := ldapconn.Dial(context.Background(), &cfg)
	if err != nil {
		t.Fatalf("sign-in from the credential cache: %v", err)
	}
	signedIn(t, c, cfg.BaseDN, k.Principal)
	c.Close()

	t.Setenv("KRB5CCNAME", filepath.Join(t.TempDir(), "none"))
	_, err = ldapconn.Dial(context.Background(), &cfg)
	if !errors.Is(err, ldapconn.ErrKerberos) || !strings.Contains(err.Error(), "kinit") {
		t.Errorf("no credential cache: %v; want ErrKerberos saying to run kinit", err)
	}
}
