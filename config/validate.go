package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/robfig/cron/v3"
)

// ErrInvalid is wrapped by every configuration problem.
var ErrInvalid = errors.New("invalid configuration")

// FieldError is one problem with one field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// Validate checks the whole configuration and returns every problem at once (errors.Join of
// *FieldError), after resolving the bind passwords.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, msg string) { errs = append(errs, &FieldError{field, msg}) }

	c.Source.validate("source", add)
	c.Target.validate("target", add)
	if c.Target.OU == "" {
		add("target.ou", "required: the OU xtmsyncd writes MailUsers in")
	} else if ou, err := ldap.ParseDN(c.Target.OU); err != nil {
		add("target.ou", fmt.Sprintf("not a DN: %v", err))
	} else {
		if c.Target.BaseDN != "" {
			if base, err := ldap.ParseDN(c.Target.BaseDN); err == nil && !base.AncestorOfFold(ou) && !base.EqualFold(ou) {
				add("target.ou", "must lie under target.base_dn")
			}
		}
		if msg := domainContainer(c.Target.OU, ou); msg != "" {
			add("target.ou", msg)
		}
	}
	if c.Target.Connections < 1 || c.Target.Connections > 16 {
		add("target.connections", "must be between 1 and 16")
	}

	if c.Scope.Group == "" && c.Scope.Filter == "" {
		add("scope", "set scope.group, scope.filter, or both")
	}
	if c.Scope.Group != "" {
		if _, err := ldap.ParseDN(c.Scope.Group); err != nil {
			add("scope.group", fmt.Sprintf("not a DN: %v", err))
		}
	}
	if c.Scope.Filter != "" {
		if _, err := ldap.CompileFilter(c.Scope.Filter); err != nil {
			add("scope.filter", fmt.Sprintf("not an LDAP filter: %v", err))
		}
	}

	m := &c.Mapping
	for _, d := range []struct{ field, v string }{
		{"mapping.source_routing_domain", m.SourceRoutingDomain},
		{"mapping.target_primary_domain", m.TargetPrimaryDomain},
		{"mapping.target_delivery_domain", m.TargetDeliveryDomain},
		{"mapping.target_upn_suffix", m.TargetUPNSuffix},
	} {
		if d.v == "" {
			add(d.field, "required")
		} else if !isDomain(d.v) {
			add(d.field, fmt.Sprintf("%q is not a DNS domain", d.v))
		}
	}
	m.normalise()
	accepted := set(m.AcceptedDomains)
	source := set(m.SourceDomains)
	if len(accepted) == 0 {
		add("mapping.accepted_domains", "list the target tenant's accepted domains")
	}
	for _, d := range []struct{ field, v string }{
		{"mapping.target_primary_domain", m.TargetPrimaryDomain},
		{"mapping.target_delivery_domain", m.TargetDeliveryDomain},
	} {
		if d.v != "" && len(accepted) > 0 && !accepted[d.v] {
			add(d.field, fmt.Sprintf("%s is not in mapping.accepted_domains", d.v))
		}
	}
	if m.SourceRoutingDomain != "" && !source[m.SourceRoutingDomain] {
		m.SourceDomains = append(m.SourceDomains, m.SourceRoutingDomain)
		source[m.SourceRoutingDomain] = true
	}
	for d := range accepted {
		if source[d] {
			add("mapping.accepted_domains", fmt.Sprintf("%s is also a source domain: a domain belongs to one tenant only", d))
		}
	}
	for from, to := range m.DomainMap {
		if !accepted[to] {
			add("mapping.domain_map."+from, fmt.Sprintf("maps to %s, which is not an accepted domain", to))
		}
	}
	switch strings.ToLower(m.Anchor) {
	case "":
	case "mailnickname":
		m.Anchor = "mailNickname"
	case "mail":
		m.Anchor = "mail"
	case "userprincipalname":
		m.Anchor = "userPrincipalName"
	default:
		add("mapping.anchor", fmt.Sprintf("%q: use mailNickname, mail, userPrincipalName, or \"\" to match by ExchangeGUID only", m.Anchor))
	}
	if !attrName.MatchString(m.Owner.Attribute) {
		add("mapping.owner.attribute", fmt.Sprintf("%q is not an attribute name", m.Owner.Attribute))
	}
	if m.Owner.Value == "" {
		add("mapping.owner.value", "required: the value that marks objects xtmsyncd owns")
	}
	if sm := c.Cutover.SourceMark; sm.Attribute != "" || sm.Value != "" {
		if !attrName.MatchString(sm.Attribute) || sm.Value == "" {
			add("cutover.source_mark", "set both attribute and value, or neither")
		} else if strings.EqualFold(sm.Attribute, m.Owner.Attribute) {
			add("cutover.source_mark.attribute", "must differ from mapping.owner.attribute")
		}
	}
	if c.Limits.MaxChanges < 1 {
		add("limits.max_changes", "must be at least 1")
	}
	if p := c.Limits.MaxChangePercent; p < 0 || p > 100 {
		add("limits.max_change_percent", fmt.Sprintf("%d: must be between 0 (off) and 100", p))
	}
	c.Service.validate(add)
	if c.Graph != nil {
		c.Graph.validate(add)
	}
	if c.Journal.Path == "" {
		add("journal.path", "required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "one of debug, info, warn, error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "text or json")
	}
	return errors.Join(errs...)
}

func (d *Directory) validate(field string, add func(field, msg string)) {
	d.validateDCs(field, add)
	if d.CAFile != "" {
		if _, err := os.Stat(d.CAFile); err != nil {
			add(field+".ca_file", fmt.Sprintf("cannot read: %v", err))
		}
	}
	d.validateBind(field, add)
	if d.BaseDN == "" {
		add(field+".base_dn", "required")
	} else if _, err := ldap.ParseDN(d.BaseDN); err != nil {
		add(field+".base_dn", fmt.Sprintf("not a DN: %v", err))
	}
	if d.PageSize < 1 || d.PageSize > 5000 {
		add(field+".page_size", "must be between 1 and 5000")
	}
	if d.Timeout <= 0 {
		add(field+".timeout", "must be positive, e.g. 60s")
	}
}

// validateDCs checks url, urls or domain: exactly one of them, each URL an LDAPS URL (or LDAP
// with StartTLS).
func (d *Directory) validateDCs(field string, add func(field, msg string)) {
	set := 0
	for _, b := range []bool{d.URL != "", len(d.URLs) > 0, d.Domain != ""} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		add(field+".url", "required: url (one domain controller), urls (a list) or domain (DNS SRV discovery), e.g. url: ldaps://dc1.example.com")
	case set > 1:
		add(field+".url", "set one of url, urls and domain")
	}
	if d.Site != "" && d.Domain == "" {
		add(field+".site", "site selects the SRV records of domain: set domain too")
	}
	if d.Domain != "" && !isDomain(d.Domain) {
		add(field+".domain", fmt.Sprintf("%q is not a DNS domain name", d.Domain))
	}
	check := func(name, v string) {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			add(name, fmt.Sprintf("%q is not an LDAP URL", v))
			return
		}
		switch u.Scheme {
		case "ldaps":
			if d.StartTLS {
				add(field+".start_tls", "start_tls is for ldap:// URLs; ldaps:// is already TLS")
			}
		case "ldap":
			if !d.StartTLS && !d.InsecurePlaintextLDAP {
				add(name, "ldap:// without start_tls sends the password in clear: use ldaps://, set start_tls: true, or (test labs only) insecure_plaintext_ldap: true")
			}
		default:
			add(name, fmt.Sprintf("scheme %q: use ldaps:// or ldap://", u.Scheme))
		}
	}
	if d.URL != "" {
		check(field+".url", d.URL)
	}
	for i, v := range d.URLs {
		check(fmt.Sprintf("%s.urls[%d]", field, i), v)
	}
}

// Bind methods.
const (
	BindSimple   = "simple"
	BindKerberos = "kerberos"
)

// validateBind checks the sign-in: simple needs bind_dn and a password; kerberos needs no
// password, and on Linux a keytab with its principal, or the credential cache.
func (d *Directory) validateBind(field string, add func(field, msg string)) {
	switch d.Bind {
	case "", BindSimple:
		d.Bind = BindSimple
		if d.BindDN == "" {
			add(field+".bind_dn", "required")
		}
		d.resolveSecret(field, add)
		if d.Password().IsZero() && d.BindPassword == "" && d.BindPasswordFile == "" {
			add(field+".bind_password", "required: ${ENV_VAR} or bind_password_file")
		}
		for name, v := range map[string]string{"keytab_file": d.KeytabFile, "principal": d.Principal, "krb5_conf": d.Krb5Conf, "spn": d.SPN} {
			if v != "" {
				add(field+"."+name, "is for bind: kerberos")
			}
		}
	case BindKerberos:
		if d.BindPassword != "" || d.BindPasswordFile != "" {
			add(field+".bind_password", "bind: kerberos signs in without a password: remove bind_password and bind_password_file")
		}
		if d.KeytabFile != "" && d.Principal == "" {
			add(field+".principal", "required with keytab_file: the keytab's principal, e.g. svc-xtmsyncd@EXAMPLE.COM")
		}
		if d.Principal != "" && !strings.Contains(d.Principal, "@") {
			add(field+".principal", fmt.Sprintf("%q: write the realm too, e.g. %s@EXAMPLE.COM", d.Principal, d.Principal))
		}
		if d.KeytabFile != "" {
			if _, err := os.Stat(d.KeytabFile); err != nil {
				add(field+".keytab_file", fmt.Sprintf("cannot read: %v", err))
			}
		}
	default:
		add(field+".bind", fmt.Sprintf("%q: simple or kerberos", d.Bind))
	}
}

// Candidates are the configured domain controller URLs in order (url or urls); with domain,
// none: they come from DNS when the connection is opened.
func (d *Directory) Candidates() []string {
	if d.URL != "" {
		return []string{d.URL}
	}
	return slices.Clone(d.URLs)
}

// Where names the forest's domain controllers for messages: the URL, the list, or the domain.
func (d *Directory) Where() string {
	switch {
	case d.URL != "":
		return d.URL
	case len(d.URLs) > 0:
		return strings.Join(d.URLs, ", ")
	case d.Site != "":
		return "DNS SRV of " + d.Domain + " (site " + d.Site + ")"
	}
	return "DNS SRV of " + d.Domain
}

func (m *Mapping) normalise() {
	low := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	m.SourceRoutingDomain = low(m.SourceRoutingDomain)
	m.TargetPrimaryDomain = low(m.TargetPrimaryDomain)
	m.TargetDeliveryDomain = low(m.TargetDeliveryDomain)
	m.TargetUPNSuffix = low(m.TargetUPNSuffix)
	for i := range m.SourceDomains {
		m.SourceDomains[i] = low(m.SourceDomains[i])
	}
	for i := range m.AcceptedDomains {
		m.AcceptedDomains[i] = low(m.AcceptedDomains[i])
	}
	if len(m.DomainMap) > 0 {
		dm := make(map[string]string, len(m.DomainMap))
		for k, v := range m.DomainMap {
			dm[low(k)] = low(v)
		}
		m.DomainMap = dm
	}
}

var domainRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

func isDomain(s string) bool { return domainRE.MatchString(s) }

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func (s *Service) validate(add func(field, msg string)) {
	if s.Name == "" || strings.ContainsAny(s.Name, " /\\") {
		add("service.name", "a name without spaces or slashes")
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		add("service.time_zone", fmt.Sprintf("%q is not an IANA time zone (e.g. UTC, Europe/Berlin)", s.TimeZone))
	}
	for job, spec := range s.Jobs {
		if !slices.Contains(Jobs, job) {
			add("service.jobs."+job, "unknown job: use "+strings.Join(Jobs, ", "))
			continue
		}
		if spec == "" {
			continue
		}
		if _, err := cron.ParseStandard(spec); err != nil {
			add("service.jobs."+job, fmt.Sprintf("schedule %q: %v", spec, err))
		}
	}
	if s.StopTimeout < time.Second {
		add("service.stop_timeout", "at least 1s")
	}
	if s.Keep < 1 {
		add("service.keep", "keep at least 1 report of each kind")
	}
	if s.BatchSize < 1 || s.BatchSize > 2000 {
		add("service.batch_size", "between 1 and 2000 (Microsoft's limit per migration batch)")
	}
	if s.NotReadyAfterFailures < 0 {
		add("service.not_ready_after_failures", "0 (never) or more: /readyz answers 503 after this many failed jobs in a row")
	}
	if s.StatusListen != "" {
		host, _, err := net.SplitHostPort(s.StatusListen)
		if err != nil {
			add("service.status_listen", fmt.Sprintf("%q: host:port, e.g. 127.0.0.1:9310", s.StatusListen))
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			add("service.status_listen", "serve the status endpoint on a loopback address (127.0.0.1 or ::1); put a reverse proxy in front to expose it")
		}
	}
}

func (g *Graph) validate(add func(field, msg string)) {
	if g.AuthorityHost == "" {
		g.AuthorityHost = "https://login.microsoftonline.com"
	}
	if g.URL == "" {
		g.URL = "https://graph.microsoft.com"
	}
	if len(g.T2TServicePlans) == 0 {
		g.T2TServicePlans = []string{"T2TMBXMOVE"}
	}
	if g.MaxWait == 0 {
		g.MaxWait = time.Minute
	}
	for field, u := range map[string]string{"graph.authority_host": g.AuthorityHost, "graph.url": g.URL} {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			add(field, fmt.Sprintf("%q: an https:// URL", u))
		}
	}
	for name, a := range map[string]*GraphApp{"graph.source": &g.Source, "graph.target": &g.Target} {
		a.validate(name, add)
	}
}

var guidRE = regexp.MustCompile(`^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func (a *GraphApp) validate(field string, add func(field, msg string)) {
	if a.TenantID == "" {
		add(field+".tenant_id", "required: the tenant's ID (a GUID) or its initial domain")
	}
	if !guidRE.MatchString(a.ClientID) {
		add(field+".client_id", fmt.Sprintf("%q: the app registration's application (client) ID, a GUID", a.ClientID))
	}
	s, ok := resolve(field, "client_secret", a.ClientSecret, a.ClientSecretFile, add)
	switch {
	case a.CertificateFile != "" && (a.ClientSecret != "" || a.ClientSecretFile != ""):
		add(field+".certificate_file", "use a client secret or a certificate, not both")
	case a.CertificateFile != "":
		b, err := os.ReadFile(a.CertificateFile)
		if err != nil {
			add(field+".certificate_file", fmt.Sprintf("cannot read: %v", err))
		}
		a.cert = b
	case ok:
		a.secret = s
	case a.ClientSecret == "" && a.ClientSecretFile == "":
		add(field+".client_secret", "required: ${ENV_VAR}, client_secret_file or certificate_file")
	}
}
