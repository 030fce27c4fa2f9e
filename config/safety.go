package config

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// looseSecretFile returns why the secret file at path may not be used ("" if it may): on Unix,
// a file that group or others may read or write. A file that cannot be stat-ed is left to the
// read, which reports it. optOut is the field that accepts such a file.
func looseSecretFile(path, optOut string) string {
	if runtime.GOOS == "windows" {
		return "" // ACLs, not modes: Go reports 0666 or 0444 for every file
	}
	fi, err := os.Stat(path) // the file a symlink points at, as it is what is read
	if err != nil {
		return ""
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("%s has mode %04o: group or others may read the password (as ssh refuses such a key, xtmsyncd does); "+
		"run chmod 600 %s (and chown it to the account xtmsyncd runs as), or, if the file is protected otherwise, set %s: true",
		path, perm, path, optOut)
}

// domainContainers are the containers AD creates at the top of a domain for itself: its domain
// controllers, built-in and default accounts, computers and system objects. xtmsyncd must
// never create objects in them or under them.
var domainContainers = []struct{ attr, value, what string }{
	{"OU", "Domain Controllers", "the domain controllers' OU"},
	{"CN", "Builtin", "the built-in groups' container"},
	{"CN", "Users", "the default container of the built-in accounts and groups (Administrator, krbtgt, Domain Admins)"},
	{"CN", "Computers", "the default container of computer accounts"},
	{"CN", "System", "the domain's system container"},
	{"CN", "Configuration", "the forest's configuration partition"},
	{"CN", "ForeignSecurityPrincipals", "the container of foreign security principals"},
	{"CN", "Managed Service Accounts", "the container of managed service accounts"},
	{"CN", "Program Data", "the container of application data"},
	{"CN", "Microsoft Exchange System Objects", "Exchange's system objects container"},
	{"CN", "LostAndFound", "the container of orphaned objects"},
	{"CN", "NTDS Quotas", "the quota specifications container"},
	{"CN", "Infrastructure", "the infrastructure master's object"},
	{"CN", "Keys", "the container of key credentials"},
	{"CN", "TPM Devices", "the container of TPM owner information"},
}

// domainContainer returns why the DN s (parsed: dn) may not be target.ou ("" if it may): the
// domain root itself, or a DN whose top container below the domain's DC= components is one of
// domainContainers.
func domainContainer(s string, dn *ldap.DN) string {
	isDC := func(r *ldap.RelativeDN) bool {
		for _, a := range r.Attributes {
			if !strings.EqualFold(a.Type, "DC") {
				return false
			}
		}
		return len(r.Attributes) > 0
	}
	i := len(dn.RDNs)
	for i > 0 && isDC(dn.RDNs[i-1]) {
		i--
	}
	fix := "create an OU for the MailUsers (e.g. OU=Cross-Tenant," + domainPart(dn, i) + "), in Azure AD Connect's sync scope, and set target.ou to it"
	if i == 0 {
		return fmt.Sprintf("%s is the domain root: xtmsyncd would write beside the domain's own containers; %s", s, fix)
	}
	if i == len(dn.RDNs) {
		return "" // no DC= components: not an AD domain name, left to the base_dn check
	}
	top := dn.RDNs[i-1]
	if len(top.Attributes) != 1 {
		return ""
	}
	for _, c := range domainContainers {
		if strings.EqualFold(top.Attributes[0].Type, c.attr) && strings.EqualFold(top.Attributes[0].Value, c.value) {
			where := "is"
			if i > 1 {
				where = "lies under"
			}
			return fmt.Sprintf("%s %s %s=%s, %s: xtmsyncd never writes there; %s", s, where, c.attr, c.value, c.what, fix)
		}
	}
	return ""
}

// domainPart returns the DC= components of dn (from index i) as a string.
func domainPart(dn *ldap.DN, i int) string {
	parts := make([]string, 0, len(dn.RDNs)-i)
	for _, r := range dn.RDNs[i:] {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ",")
}
