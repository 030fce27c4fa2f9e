//go:build windows

package ldapconn

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// newGSSAPIClient is the Kerberos client of one connection: a keytab when configured, else the
// identity the process runs as, through SSPI, so a service running as a gMSA or a virtual
// account signs in with no secret at all.
func newGSSAPIClient(d *config.Directory) (ldap.GSSAPIClient, error) {
	if d.KeytabFile != "" {
		return keytabClient(d)
	}
	c, err := gssapi.NewSSPIClient()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: no Windows credentials for the account this process runs as (is the gMSA installed on this host? Test-ADServiceAccount): %v", ErrKerberos, d.URL, err)
	}
	return c, nil
}
