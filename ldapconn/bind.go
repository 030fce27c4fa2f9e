package ldapconn

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
)

// bind signs in on conn as d says: a simple bind, or Kerberos (GSSAPI over the TLS channel).
func bind(conn *ldap.Conn, d *config.Directory, u *url.URL) error {
	if d.Bind != config.BindKerberos {
		if err := conn.Bind(d.BindDN, d.Password().Reveal()); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				return fmt.Errorf("%w: %s as %s", ErrCredentials, d.URL, d.BindDN)
			}
			return fmt.Errorf("%w: %s as %s: %v", ErrBind, d.URL, d.BindDN, err)
		}
		return nil
	}
	spn, err := servicePrincipal(conn, d, u)
	if err != nil {
		return err
	}
	client, err := newGSSAPIClient(d)
	if err != nil {
		return err
	}
	if err := conn.GSSAPIBind(client, spn, ""); err != nil {
		return kerberosError(d, spn, err)
	}
	return nil
}

// servicePrincipal is the directory's Kerberos service principal: spn when configured, else
// ldap/<host>, the host being server_name, the URL's host name, or, for a URL that is an IP
// address, the dnsHostName the DC announces in its RootDSE (readable before signing in).
func servicePrincipal(conn *ldap.Conn, d *config.Directory, u *url.URL) (string, error) {
	if d.SPN != "" {
		return d.SPN, nil
	}
	host := d.ServerName
	if host == "" {
		host = u.Hostname()
	}
	if net.ParseIP(host) != nil {
		res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"dnsHostName"}, nil))
		if err != nil || len(res.Entries) == 0 || res.Entries[0].GetAttributeValue("dnsHostName") == "" {
			return "", fmt.Errorf("%w: %s is an IP address and its RootDSE gave no dnsHostName to build ldap/<host> from: set spn (e.g. ldap/dc1.example.com) or use the DC's host name in the URL", ErrKerberos, d.URL)
		}
		host = res.Entries[0].GetAttributeValue("dnsHostName")
	}
	return "ldap/" + strings.ToLower(host), nil
}

// kerberosError names the cause of a failed Kerberos sign-in and its fix. gokrb5 reports KDC
// errors by their RFC 4120 names in the text.
func kerberosError(d *config.Directory, spn string, err error) error {
	who := d.Principal
	if who == "" {
		who = "the credential cache's principal"
	}
	msg := err.Error()
	var why string
	switch {
	case strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		why = fmt.Sprintf("the KDC does not know %s: check principal (user@REALM, the realm in capitals) and that the account exists", who)
	case strings.Contains(msg, "KDC_ERR_S_PRINCIPAL_UNKNOWN"):
		why = fmt.Sprintf("the KDC knows no service %s: set spn to the DC's ldap/<host name> (setspn -L <DC> lists them)", spn)
	case strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED"), strings.Contains(msg, "KRB_AP_ERR_BAD_INTEGRITY"), strings.Contains(msg, "Decrypting_Error"), strings.Contains(msg, "checksum"):
		why = fmt.Sprintf("the keytab's key for %s is not the account's: the password changed since it was exported; export the keytab again (ktpass, or samba-tool domain exportkeytab)", who)
	case strings.Contains(msg, "KRB_AP_ERR_SKEW"), strings.Contains(msg, "KDC_ERR_SKEW"), strings.Contains(msg, "clock skew"):
		why = "the clocks of this host and the domain controller differ by more than 5 minutes: synchronise this host with the domain's time (chrony/ntpd, or w32time)"
	case strings.Contains(msg, "KDC_ERR_WRONG_REALM"), strings.Contains(msg, "realm"), strings.Contains(msg, "Realm"):
		why = fmt.Sprintf("the realm of %s is not one krb5.conf knows a KDC for: add it under [realms] in %s, or correct the principal's realm", who, krb5ConfPath(d))
	case strings.Contains(msg, "KDC"), strings.Contains(msg, "connection refused"), strings.Contains(msg, "i/o timeout"):
		why = fmt.Sprintf("no KDC answered: check the realm's kdc entries in %s and that TCP and UDP 88 reach a DC", krb5ConfPath(d))
	default:
		why = "see the cause above; `xtmsyncd doctor` checks the keytab, krb5.conf and the clock"
	}
	return fmt.Errorf("%w: %s for %s: %s (%v)", ErrKerberos, d.URL, spn, why, err)
}

func krb5ConfPath(d *config.Directory) string {
	if d.Krb5Conf != "" {
		return d.Krb5Conf
	}
	return "/etc/krb5.conf"
}
