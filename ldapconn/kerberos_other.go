//go:build !windows

package ldapconn

import (
	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// newGSSAPIClient is the Kerberos client of one connection: the keytab when configured, else
// the credential cache.
func newGSSAPIClient(d *config.Directory) (ldap.GSSAPIClient, error) {
	if d.KeytabFile != "" {
		return keytabClient(d)
	}
	return ccacheClient(d)
}
