package doctor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ErrUnsafeOU is returned (wrapped) by CheckTargetOU when target.ou holds a domain controller or
// an object AD marks critical to the system.
var ErrUnsafeOU = errors.New("target.ou holds objects of the domain itself")

// dcFilter finds domain controllers' computer accounts: userAccountControl SERVER_TRUST_ACCOUNT
// (0x2000), or PARTIAL_SECRETS_ACCOUNT (0x4000000) for a read-only DC, or the primary group
// Domain Controllers (516) or Read-only Domain Controllers (521). criticalFilter finds the
// objects AD marks isCriticalSystemObject: the built-in accounts, groups and containers, the
// Domain Controllers OU itself.
const (
	dcFilter = "(|(userAccountControl:1.2.840.113556.1.4.803:=8192)(userAccountControl:1.2.840.113556.1.4.803:=67108864)" +
		"(primaryGroupID=516)(primaryGroupID=521))"
	criticalFilter = "(isCriticalSystemObject=TRUE)"
)

// unsafeShown is how many of the objects found an error names.
const unsafeShown = 5

// CheckTargetOU searches the live target for objects in or under ou (the OU included) that
// xtmsyncd must never sit beside: domain controllers, then critical system objects. The error
// wraps ErrUnsafeOU and names the objects (the first few, domain controllers first) and what to
// do; a failed search is returned as it is. doctor runs it, and so should every command before
// it writes to the target.
func CheckTargetOU(conn Conn, ou string) error {
	var found []string
	more := false
	for _, f := range []string{dcFilter, criticalFilter} {
		res, err := conn.Search(ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, unsafeShown+1, 0, false,
			f, []string{"userAccountControl", "primaryGroupID", "isCriticalSystemObject"}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return fmt.Errorf("target.ou %s: search for domain controllers and critical system objects: %w", ou, err)
		}
		if res == nil {
			continue
		}
		for _, e := range res.Entries {
			s := e.DN + " (" + why(e) + ")"
			switch {
			case slices.ContainsFunc(found, func(x string) bool { return strings.HasPrefix(x, e.DN+" (") }):
			case len(found) == unsafeShown:
				more = true
			default:
				found = append(found, s)
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	if more {
		found = append(found, "and more")
	}
	return fmt.Errorf("%w: %s holds %s; xtmsyncd creates, changes and deletes objects in target.ou and must not do so beside them: "+
		"create an OU of its own for the MailUsers (in Azure AD Connect's sync scope), delegate to the account only there, and set target.ou to it",
		ErrUnsafeOU, ou, strings.Join(found, "; "))
}

// why says which of the filter's conditions e meets.
func why(e *ldap.Entry) string {
	var out []string
	uac := e.GetAttributeValue("userAccountControl")
	var flags int64
	_, _ = fmt.Sscan(uac, &flags)
	switch pg := e.GetAttributeValue("primaryGroupID"); {
	case flags&0x4000000 != 0 || pg == "521":
		out = append(out, "a read-only domain controller")
	case flags&0x2000 != 0 || pg == "516":
		out = append(out, "a domain controller")
	}
	if strings.EqualFold(e.GetAttributeValue("isCriticalSystemObject"), "TRUE") {
		out = append(out, "isCriticalSystemObject")
	}
	if len(out) == 0 {
		return "a domain controller or critical system object"
	}
	return strings.Join(out, ", ")
}
