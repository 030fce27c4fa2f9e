package ldapconn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// keytabClient signs in as d.Principal with the keys in d.KeytabFile (gokrb5, through go-ldap's
// gssapi package). Each connection gets a client of its own: a client holds one security
// context at a time.
func keytabClient(d *config.Directory) (ldap.GSSAPIClient, error) {
	user, realm, _ := strings.Cut(d.Principal, "@")
	if err := readable(d, "keytab_file", d.KeytabFile); err != nil {
		return nil, err
	}
	if err := readable(d, "krb5_conf", krb5ConfPath(d)); err != nil {
		return nil, err
	}
	c, err := gssapi.NewClientWithKeytab(user, realm, d.KeytabFile, krb5ConfPath(d), client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: keytab %s or %s cannot be used: %v", ErrKerberos, d.URL, d.KeytabFile, krb5ConfPath(d), err)
	}
	if !hasKeyFor(c, user, realm) {
		return nil, fmt.Errorf("%w: %s: the keytab %s holds no key for %s: export one for this principal (ktpass -princ %s, or samba-tool domain exportkeytab --principal=%s)",
			ErrKerberos, d.URL, d.KeytabFile, d.Principal, d.Principal, d.Principal)
	}
	return c, nil
}

// hasKeyFor reports whether the keytab has an entry for user@realm, whatever its key version.
func hasKeyFor(c *gssapi.Client, user, realm string) bool {
	for _, e := range c.Client.Credentials.Keytab().Entries {
		if strings.EqualFold(e.Principal.Realm, realm) && strings.EqualFold(strings.Join(e.Principal.Components, "/"), user) {
			return true
		}
	}
	return false
}

// ccacheClient signs in with the tickets in the credential cache (kinit, or the host's
// machine account tooling): KRB5CCNAME, else /tmp/krb5cc_<uid>.
func ccacheClient(d *config.Directory) (ldap.GSSAPIClient, error) {
	path := strings.TrimPrefix(os.Getenv("KRB5CCNAME"), "FILE:")
	if path == "" {
		path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	if err := readable(d, "krb5_conf", krb5ConfPath(d)); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %s: no credential cache at %s: run kinit as the service's user, or set keytab_file and principal", ErrKerberos, d.URL, path)
	}
	c, err := gssapi.NewClientFromCCache(path, krb5ConfPath(d), client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: credential cache %s cannot be used (expired tickets? run kinit again): %v", ErrKerberos, d.URL, path, err)
	}
	return c, nil
}

func readable(d *config.Directory, field, path string) error {
	if _, err := os.Stat(path); err != nil {
		fix := "check the path"
		if errors.Is(err, fs.ErrNotExist) && field == "krb5_conf" {
			fix = "install the Kerberos configuration (apt install krb5-config, or write [libdefaults] default_realm and [realms] with each realm's kdc), or point krb5_conf at it"
		}
		return fmt.Errorf("%w: %s: %s %s: %v: %s", ErrKerberos, d.URL, field, path, err, fix)
	}
	return nil
}
