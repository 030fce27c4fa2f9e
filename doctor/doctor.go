// Package doctor runs the checks an admin runs first: can xtmsyncd reach and bind to both
// forests over verified TLS, do both schemas hold the Exchange attributes it needs, do the
// target OU and the scope group exist, does the OU hold no domain controller and no critical
// system object, and may the account create objects in the OU.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Conn is what the checks need of a connection.
type Conn interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	Close() error
}

// Dial opens a bound connection; ldapconn.Dial in production.
type Dial func(ctx context.Context, d *config.Directory) (Conn, error)

// DefaultDial opens the forest as a run does (ldapconn.Open: the first domain controller that
// answers and signs in); the connection also tells which DC it is.
func DefaultDial(ctx context.Context, d *config.Directory) (Conn, error) {
	s, c, err := ldapconn.Open(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	return dcConn{c, s.DC()}, nil
}

type dcConn struct {
	*ldap.Conn
	dc ldapconn.DC
}

func (c dcConn) DC() ldapconn.DC { return c.dc }

// maxSkew is Kerberos's default tolerance for clocks (and Active Directory's).
const maxSkew = 5 * time.Minute

// Run runs every check and returns them in order. Checks that depend on a failed connection
// are not run (their forest's connection check already says why).
func Run(ctx context.Context, c *config.Config, dial Dial) []Check {
	if dial == nil {
		dial = DefaultDial
	}
	var out []Check
	add := func(ch Check) { out = append(out, ch) }

	src, ok := connect(ctx, "source", &c.Source, dial, add)
	if ok {
		defer src.Close()
		schema(src, "source", nil, add)
		scope(ctx, src, c, add)
	}
	tgt, ok := connect(ctx, "target", &c.Target.Directory, dial, add)
	if ok {
		defer tgt.Close()
		extra := []string{c.Mapping.Owner.Attribute}
		if c.Mapping.Anchor != "" {
			extra = append(extra, c.Mapping.Anchor)
		}
		schema(tgt, "target", extra, add)
		targetOU(tgt, c, add)
	}
	return out
}

// Failed reports whether any check failed.
func Failed(cs []Check) bool {
	return slices.ContainsFunc(cs, func(c Check) bool { return !c.OK })
}

func connect(ctx context.Context, name string, d *config.Directory, dial Dial, add func(Check)) (Conn, bool) {
	how := "LDAPS"
	first := "ldaps://"
	if c := d.Candidates(); len(c) > 0 {
		first = c[0]
	} else if d.StartTLS || d.InsecurePlaintextLDAP {
		first = "ldap://"
	}
	if u, err := url.Parse(first); err == nil && u.Scheme == "ldap" {
		how = "PLAIN LDAP (insecure_plaintext_ldap)"
		if d.StartTLS {
			how = "StartTLS"
		}
	}
	who := "bind as " + d.BindDN
	if d.Bind == config.BindKerberos {
		who = "sign in with Kerberos as " + d.Principal
		if d.Principal == "" {
			who = "sign in with Kerberos (credential cache, or the account the service runs as)"
		}
	}
	ch := Check{Name: fmt.Sprintf("%s: connect over %s and %s", name, how, who)}
	conn, err := dial(ctx, d)
	if err == nil {
		ch.OK = true
		ch.Detail = d.URL
		var dc ldapconn.DC
		if w, ok := conn.(interface{ DC() ldapconn.DC }); ok {
			dc = w.DC()
			ch.Detail = "domain controller " + dc.String()
		}
		if how == "PLAIN LDAP (insecure_plaintext_ldap)" {
			ch.Detail += "; WARNING: the password crossed the network unencrypted"
		}
		add(ch)
		if dc.URL != "" {
			add(clock(name, d, dc))
		}
		return conn, true
	}
	ch.Detail = err.Error()
	switch {
	case errors.Is(err, ldapconn.ErrTLS):
		ch.Fix = fmt.Sprintf("the server certificate does not verify against %s; set %s.ca_file to the CA that issued the domain controller's certificate, and use a URL whose host name is in the certificate", caName(d), name)
	case errors.Is(err, ldapconn.ErrCredentials):
		ch.Fix = fmt.Sprintf("AD refused the bind: check %s.bind_dn and the password in %s", name, secretSource(d))
	case errors.Is(err, ldapconn.ErrKerberos):
		ch.Fix = "the message names the cause; see the README's Kerberos section for the keytab, krb5.conf and gMSA setup"
	case errors.Is(err, ldapconn.ErrBind):
		ch.Fix = fmt.Sprintf("the server refused the bind; if it requires signing or TLS, use ldaps:// or start_tls for %s", name)
	default:
		ch.Fix = fmt.Sprintf("check %s.url, urls or domain (host, port 636 for LDAPS), that a domain controller is up and reachable from here", name)
	}
	add(ch)
	return nil, false
}

// clock compares this host's clock with the domain controller's currentTime: Kerberos refuses
// a sign-in when they differ by more than 5 minutes (KRB_AP_ERR_SKEW).
func clock(name string, d *config.Directory, dc ldapconn.DC) Check {
	ch := Check{Name: fmt.Sprintf("%s: this host's clock within %v of the domain controller's", name, maxSkew), OK: true,
		Detail: fmt.Sprintf("differs by %v", dc.Skew)}
	if dc.Skew > maxSkew || dc.Skew < -maxSkew {
		fix := "synchronise this host with the domain's time (chrony or ntpd against the DCs; w32time on Windows)"
		if d.Bind == config.BindKerberos {
			ch.OK = false
			ch.Fix = "Kerberos refuses clocks more than 5 minutes apart: " + fix
		} else {
			ch.Detail += "; WARNING: more than Kerberos allows: " + fix
		}
	}
	return ch
}

func caName(d *config.Directory) string {
	if d.CAFile == "" {
		return "the system trust store"
	}
	return d.CAFile
}

func secretSource(d *config.Directory) string {
	if d.BindPasswordFile != "" {
		return d.BindPasswordFile
	}
	if d.BindPassword != "" {
		return d.BindPassword
	}
	return "the configured secret"
}

func rootDSE(conn Conn, attr string) (string, error) {
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil {
		return "", err
	}
	if len(res.Entries) == 0 {
		return "", fmt.Errorf("rootDSE has no %s", attr)
	}
	return res.Entries[0].GetAttributeValue(attr), nil
}

func schema(conn Conn, name string, extra []string, add func(Check)) {
	want := slices.Clone(directory.ExchangeAttributes)
	for _, x := range extra {
		if !slices.ContainsFunc(want, func(s string) bool { return strings.EqualFold(s, x) }) {
			want = append(want, x)
		}
	}
	ch := Check{Name: fmt.Sprintf("%s: schema has the %d Exchange attributes xtmsyncd needs", name, len(want))}
	snc, err := rootDSE(conn, "schemaNamingContext")
	if err != nil {
		ch.Detail, ch.Fix = err.Error(), "the account must be able to read the rootDSE and the schema"
		add(ch)
		return
	}
	var f strings.Builder
	f.WriteString("(&(objectClass=attributeSchema)(|")
	for _, a := range want {
		f.WriteString("(lDAPDisplayName=" + ldap.EscapeFilter(a) + ")")
	}
	f.WriteString("))")
	res, err := conn.Search(ldap.NewSearchRequest(snc, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		f.String(), []string{"lDAPDisplayName"}, nil))
	if err != nil {
		ch.Detail, ch.Fix = err.Error(), "the account must be able to read "+snc
		add(ch)
		return
	}
	have := map[string]bool{}
	for _, e := range res.Entries {
		have[strings.ToLower(e.GetAttributeValue("lDAPDisplayName"))] = true
	}
	var missing []string
	for _, a := range want {
		if !have[strings.ToLower(a)] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		ch.OK, ch.Detail = true, snc
	} else {
		ch.Detail = "missing: " + strings.Join(missing, ", ")
		ch.Fix = "extend the " + name + " forest's schema with Exchange's attributes (Exchange setup /PrepareSchema), or correct the attribute named in mapping.owner/mapping.anchor"
	}
	add(ch)
}

func scope(ctx context.Context, conn Conn, c *config.Config, add func(Check)) {
	if g := c.Scope.Group; g != "" {
		ch := Check{Name: "source: scope group exists and is a group"}
		res, err := conn.Search(ldap.NewSearchRequest(g, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=group)", []string{directory.AttrMail, directory.AttrGroupType}, nil))
		switch {
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || err == nil && len(res.Entries) == 0:
			ch.Detail = g + " not found, or not a group"
			ch.Fix = "set scope.group to the DN of the mail-enabled security group named in the source organization relationship's MailboxMovePublishedScopes"
		case err != nil:
			ch.Detail, ch.Fix = err.Error(), "the account must be able to read the scope group"
		default:
			members, err := ldapsrc.RangedValues(ctx, conn, g, directory.AttrMember)
			if err != nil {
				ch.Detail, ch.Fix = err.Error(), "the account must be able to read the scope group's members"
				break
			}
			ch.OK = true
			ch.Detail = fmt.Sprintf("%d direct members", len(members))
			if res.Entries[0].GetAttributeValue(directory.AttrMail) == "" {
				ch.Detail += "; note: the group has no mail address (MailboxMovePublishedScopes needs a mail-enabled security group)"
			}
		}
		add(ch)
	}
}

func targetOU(conn Conn, c *config.Config, add func(Check)) {
	ch := Check{Name: "target: OU exists: " + c.Target.OU}
	res, err := conn.Search(ldap.NewSearchRequest(c.Target.OU, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"allowedChildClassesEffective"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || err == nil && len(res.Entries) == 0 {
		ch.Detail = "no such object"
		ch.Fix = "create the OU (it should be in Azure AD Connect's sync scope), or correct target.ou"
		add(ch)
		return
	}
	if err != nil {
		ch.Detail, ch.Fix = err.Error(), "the account must be able to read target.ou"
		add(ch)
		return
	}
	ch.OK = true
	add(ch)
	safe := Check{Name: "target: OU holds no domain controller or critical system object"}
	if err := CheckTargetOU(conn, c.Target.OU); err != nil {
		safe.Detail = err.Error()
		safe.Fix = "create an OU of its own for xtmsyncd's MailUsers and set target.ou to it"
		if !errors.Is(err, ErrUnsafeOU) {
			safe.Fix = "the account must be able to search target.ou and everything under it"
		}
	} else {
		safe.OK = true
	}
	add(safe)
	w := Check{Name: "target: the account may create users in the OU"}
	classes := res.Entries[0].GetAttributeValues("allowedChildClassesEffective")
	if slices.ContainsFunc(classes, func(s string) bool { return strings.EqualFold(s, "user") }) {
		w.OK = true
	} else {
		w.Detail = "allowedChildClassesEffective does not list user"
		w.Fix = "delegate to the account: create/delete User objects and write the Exchange attributes on descendant User objects of the OU (see README, least privilege)"
	}
	add(w)
	add(writeRights(conn, c))
}

// written are the attributes sync and cutover write on existing target MailUsers.
func written(c *config.Config) []string {
	return append(slices.Clone(directory.WrittenAttributes), c.Mapping.Owner.Attribute)
}

// writeRights asks the directory which attributes the account may write on one of xtmsyncd's
// MailUsers in the OU (allowedAttributesEffective) and names those it may not.
func writeRights(conn Conn, c *config.Config) Check {
	ch := Check{Name: "target: the account may write the attributes xtmsyncd manages"}
	req := ldap.NewSearchRequest(c.Target.OU, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 0, false,
		"(&(objectClass=user)("+ldap.EscapeFilter(c.Mapping.Owner.Attribute)+"="+ldap.EscapeFilter(c.Mapping.Owner.Value)+"))",
		[]string{"allowedAttributesEffective"}, nil)
	res, err := conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		ch.Detail, ch.Fix = err.Error(), "the account must be able to search target.ou"
		return ch
	}
	if res == nil || len(res.Entries) == 0 {
		ch.OK = true
		ch.Detail = "no MailUser of xtmsyncd's in the OU yet: checked on the first one after the first sync"
		return ch
	}
	e := res.Entries[0]
	may := map[string]bool{}
	for _, a := range e.GetAttributeValues("allowedAttributesEffective") {
		may[strings.ToLower(a)] = true
	}
	var missing []string
	for _, a := range written(c) {
		if !may[strings.ToLower(a)] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		ch.OK = true
		ch.Detail = "checked on " + e.DN
		return ch
	}
	ch.Detail = fmt.Sprintf("on %s the account may not write: %s", e.DN, strings.Join(missing, ", "))
	ch.Fix = "grant write on these attributes of descendant User objects of target.ou (dsacls <OU> /I:S /G \"<account>:WP;<attribute>;user\", see README, Permissions per forest)"
	return ch
}
