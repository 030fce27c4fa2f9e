// Package config loads and validates xtmsyncd's YAML configuration. Unknown keys are refused,
// every problem is reported at once with its field, and secrets are never written inline: they
// come from ${ENV} references or *_file paths. configs/xtmsyncd.example.yaml documents every field.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file.
type Config struct {
	// Source is the source forest, read only.
	Source Directory `yaml:"source"`
	// Target is the target forest, where MailUsers are written.
	Target Target `yaml:"target"`
	// Scope selects the source mailboxes: a group, a filter, or both (AND).
	Scope Scope `yaml:"scope"`
	// Mapping holds the domain and attribute rules of the cross-tenant move.
	Mapping Mapping `yaml:"mapping"`
	// Cutover rewrites routing after each move.
	Cutover Cutover `yaml:"cutover"`
	// Limits are the safety rails.
	Limits Limits `yaml:"limits"`
	// Journal is the SQLite audit journal.
	Journal Journal `yaml:"journal"`
	// Service configures `xtmsyncd run` and the installed service.
	Service Service `yaml:"service"`
	// Graph, when set, adds the checks only the tenants can answer (Microsoft Graph, app-only).
	Graph *Graph `yaml:"graph"`
	// Log configures diagnostics on stderr.
	Log Log `yaml:"log"`

	// Path and Hash identify the file the config was read from (not YAML).
	Path string `yaml:"-"`
	Hash string `yaml:"-"`
}

// Directory is how to reach one Active Directory forest.
type Directory struct {
	// URL is ldaps://host[:port] (default) or ldap://host[:port] with start_tls: one domain
	// controller. Set one of url, urls and domain.
	URL string `yaml:"url"`
	// URLs are the forest's domain controllers in order of preference: at the start of a run
	// the first that answers and binds is chosen, and every connection of the run uses it.
	URLs []string `yaml:"urls"`
	// Domain finds the domain controllers by DNS: the SRV records _ldap._tcp.dc._msdcs.<domain>
	// (or _ldap._tcp.<site>._sites.dc._msdcs.<domain> with site), by priority and weight.
	Domain string `yaml:"domain"`
	// Site limits the SRV lookup to one Active Directory site.
	Site string `yaml:"site"`
	// Bind is how xtmsyncd signs in: simple (bind_dn and a password) or kerberos (a keytab or
	// the credential cache on Linux, the identity the service runs as on Windows).
	Bind string `yaml:"bind"`
	// KeytabFile (kerberos, Linux) holds the keys of Principal; empty uses the credential cache
	// (KRB5CCNAME, else /tmp/krb5cc_<uid>).
	KeytabFile string `yaml:"keytab_file"`
	// Principal is the Kerberos identity in the keytab, user@REALM.
	Principal string `yaml:"principal"`
	// Krb5Conf is the Kerberos configuration (realms and KDCs; default /etc/krb5.conf).
	Krb5Conf string `yaml:"krb5_conf"`
	// SPN is the directory's service principal (default ldap/<domain controller host>).
	SPN string `yaml:"spn"`
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM bundle to verify the server certificate; empty means the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
	// InsecurePlaintextLDAP allows ldap:// without StartTLS: the password crosses the network in clear.
	InsecurePlaintextLDAP bool `yaml:"insecure_plaintext_ldap"`
	// BindDN is the account used to bind (DN or user@domain).
	BindDN string `yaml:"bind_dn"`
	// BindPassword must be a ${ENV} reference; BindPasswordFile a path to a file holding it.
	BindPassword     string `yaml:"bind_password"`
	BindPasswordFile string `yaml:"bind_password_file"`
	// BindPasswordFileInsecurePerms accepts a bind_password_file that group or others may read
	// (refused by default, as ssh refuses such a key; the mode is not checked on Windows).
	BindPasswordFileInsecurePerms bool `yaml:"bind_password_file_insecure_perms"`
	// BaseDN is where searches start (usually the domain root).
	BaseDN string `yaml:"base_dn"`
	// PageSize is the paged-results page size (default 1000).
	PageSize int `yaml:"page_size"`
	// Timeout bounds each LDAP request (default 60s).
	Timeout time.Duration `yaml:"timeout"`

	password Secret
}

// Target is the target forest plus where xtmsyncd may write.
type Target struct {
	Directory `yaml:",inline"`
	// OU is the only container xtmsyncd writes in.
	OU string `yaml:"ou"`
	// Connections is how many LDAP connections apply in parallel (default 2).
	Connections int `yaml:"connections"`
}

// Scope selects source mailboxes.
type Scope struct {
	// Group is the DN of the mail-enabled security group named in the source organization
	// relationship's MailboxMovePublishedScopes. Direct members only.
	Group string `yaml:"group"`
	// Filter is an extra LDAP filter, e.g. (extensionAttribute1=Cross-Tenant-Project).
	Filter string `yaml:"filter"`
}

// Mapping holds the rules that turn a source mailbox into a target MailUser.
type Mapping struct {
	// SourceRoutingDomain is the source tenant's routing domain (contoso.mail.onmicrosoft.com):
	// the target's targetAddress points at the source mailbox's address there.
	SourceRoutingDomain string `yaml:"source_routing_domain"`
	// SourceDomains are the SMTP domains the source tenant owns; never written to the target.
	SourceDomains []string `yaml:"source_domains"`
	// TargetPrimaryDomain is the domain of the target primary SMTP address.
	TargetPrimaryDomain string `yaml:"target_primary_domain"`
	// TargetDeliveryDomain is New-MigrationBatch's -TargetDeliveryDomain (northwind.mail.onmicrosoft.com).
	TargetDeliveryDomain string `yaml:"target_delivery_domain"`
	// TargetUPNSuffix is the userPrincipalName suffix of created MailUsers.
	TargetUPNSuffix string `yaml:"target_upn_suffix"`
	// AcceptedDomains are the target tenant's accepted domains.
	AcceptedDomains []string `yaml:"accepted_domains"`
	// DomainMap carries secondary source addresses over: source domain -> target accepted domain.
	DomainMap map[string]string `yaml:"domain_map"`
	// RecipientDisplayType for prepared MailUsers (default -2147483642; 6 is New-MailUser's).
	RecipientDisplayType int64 `yaml:"recipient_display_type"`
	// ExchangeVersion is stamped as msExchVersion (default 88218628259840, Exchange 2013+); 0 leaves it alone.
	ExchangeVersion int64 `yaml:"exchange_version"`
	// Anchor is the attribute matched (source value = target value) when no target object holds
	// the ExchangeGUID yet (default mailNickname).
	Anchor string `yaml:"anchor"`
	// Owner marks the objects xtmsyncd owns.
	Owner Owner `yaml:"owner"`
}

// Owner is the ownership marker xtmsyncd stamps and requires before it changes an object.
type Owner struct {
	Attribute string `yaml:"attribute"`
	Value     string `yaml:"value"`
}

// Cutover configures the post-move rewrite.
type Cutover struct {
	// ConvertSourceToMailUser turns the source remote mailbox into a MailUser after its move
	// (type 128, msExchRemoteRecipientType cleared) instead of only rewriting its targetAddress.
	ConvertSourceToMailUser bool `yaml:"convert_source_to_mailuser"`
	// SourceDisplayType is the converted source MailUser's msExchRecipientDisplayType.
	SourceDisplayType int64 `yaml:"source_display_type"`
	// SourceMark, when set, is stamped on converted source objects.
	SourceMark Owner `yaml:"source_mark"`
}

// Service configures the scheduled daemon.
type Service struct {
	// Name of the installed service (systemd unit / Windows service).
	Name string `yaml:"name"`
	// Apply lets scheduled jobs write (sync, cutover). Default false: plan and report only.
	Apply bool `yaml:"apply"`
	// TimeZone of the schedules (IANA name, default UTC).
	TimeZone string `yaml:"time_zone"`
	// Jobs maps a job (sync, validate, batches, cutover) to its cron schedule
	// ("*/10 * * * *", "@every 5m"); a job without a schedule does not run.
	Jobs map[string]string `yaml:"jobs"`
	// StopTimeout bounds a stop: the write in flight finishes, is journaled, and the process exits.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// ReportsDir receives the scheduled validate reports and batch files; Keep is how many of
	// each kind are kept.
	ReportsDir string `yaml:"reports_dir"`
	Keep       int    `yaml:"keep"`
	// BatchSize for the scheduled batches export.
	BatchSize int `yaml:"batch_size"`
	// CompletedDir is watched by the cutover job for completed-move CSVs.
	CompletedDir string `yaml:"completed_dir"`
	// StatusListen serves /healthz, /readyz and /metrics (off when empty; loopback advised).
	StatusListen string `yaml:"status_listen"`
	// NotReadyAfterFailures makes /readyz answer 503 once this many jobs in a row have failed,
	// until a job succeeds (default 3; 0: never).
	NotReadyAfterFailures int `yaml:"not_ready_after_failures"`
}

// Graph configures the app-only Microsoft Graph access to both tenants.
type Graph struct {
	// AuthorityHost is the Entra sign-in host (national clouds differ).
	AuthorityHost string `yaml:"authority_host"`
	// URL is the Microsoft Graph endpoint (https://graph.microsoft.com, or a national cloud's).
	URL string `yaml:"url"`
	// Source and Target are the two tenants' app registrations.
	Source GraphApp `yaml:"source"`
	Target GraphApp `yaml:"target"`
	// T2TServicePlans are matched (case-insensitive substrings) against service plan names to
	// find the Cross Tenant User Data Migration licence; its identifiers are not documented.
	T2TServicePlans []string `yaml:"t2t_service_plans"`
	// MaxWait bounds the time one request may spend waiting on throttling (Retry-After).
	MaxWait time.Duration `yaml:"max_wait"`
}

// GraphApp is one tenant's app registration (application permissions: User.Read.All,
// Group.Read.All, MailboxSettings.Read).
type GraphApp struct {
	TenantID string `yaml:"tenant_id"`
	ClientID string `yaml:"client_id"`
	// ClientSecret must be a ${ENV} reference; or ClientSecretFile; or CertificateFile (PEM with
	// the certificate and its private key).
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	CertificateFile  string `yaml:"certificate_file"`

	secret Secret
	cert   []byte
}

// Secret returns the resolved client secret (zero when a certificate is used).
func (a *GraphApp) Secret() Secret { return a.secret }

// CertPEM returns the certificate file's content (nil when a secret is used).
func (a *GraphApp) CertPEM() []byte { return a.cert }

// Jobs the daemon knows.
var Jobs = []string{"sync", "validate", "batches", "cutover"}

// Limits are the safety rails.
type Limits struct {
	// MaxChanges refuses a plan that creates or updates more objects (default 500).
	MaxChanges int `yaml:"max_changes"`
	// MaxChangePercent refuses a sync plan that updates (or deletes) more than this percentage
	// of the objects in scope, and more than plan.PercentFloor (10) of them; creates are not
	// counted (0 = off, default 30). See plan/limits.go.
	//
	// Why 30: a routine sync changes a few objects (a rename, a new alias), well under 5% of
	// the scope: the demo's first sync updates 1 of 31 (3%) and creates the rest. The accidents
	// the guard is for (a mapping or domain typo, a bulk edit of the source, an upgrade that
	// stamps a new attribute everywhere) rewrite most of the scope, far over 30%. Between the
	// two, 30% still refuses an edit that reaches a whole subsidiary or domain (a domain_map
	// change) for one review; it leaves room for the legitimate bursts, which are creates (a
	// first sync, a new wave) and are bounded by MaxChanges instead. Azure AD Connect's
	// accidental-delete threshold (500 objects) is the model; that absolute number is
	// MaxChanges here.
	MaxChangePercent int `yaml:"max_change_percent"`
}

// Journal is the audit journal.
type Journal struct {
	Path string `yaml:"path"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

func (c *Config) graphPaths() []*string {
	if c.Graph == nil {
		return nil
	}
	g := c.Graph
	return []*string{&g.Source.ClientSecretFile, &g.Source.CertificateFile, &g.Target.ClientSecretFile, &g.Target.CertificateFile}
}

// Default returns the defaults the file is read over.
func Default() Config {
	d := Directory{PageSize: 1000, Timeout: 60 * time.Second}
	return Config{
		Source: d,
		Target: Target{Directory: d, Connections: 2},
		Mapping: Mapping{
			RecipientDisplayType: -2147483642,
			ExchangeVersion:      88218628259840,
			Anchor:               "mailNickname",
			Owner:                Owner{Attribute: "extensionAttribute15", Value: "xtmsyncd"},
		},
		Cutover: Cutover{SourceDisplayType: -2147483642},
		Limits:  Limits{MaxChanges: 500, MaxChangePercent: 30},
		Journal: Journal{Path: "xtmsyncd.db"},
		Service: Service{Name: "xtmsyncd", TimeZone: "UTC", StopTimeout: 30 * time.Second, ReportsDir: "reports",
			Keep: 20, BatchSize: 2000, CompletedDir: "completed", NotReadyAfterFailures: 3},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Load reads, parses, resolves secrets in and validates the file at path.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := parse(raw, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.Path = path
	return c, nil
}

// Parse parses and validates YAML. Secrets are resolved from the environment and files;
// relative paths stay relative to the working directory.
func Parse(raw []byte) (*Config, error) { return parse(raw, "") }

// parse resolves relative paths in the file against dir (the config file's directory).
func parse(raw []byte, dir string) (*Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, syntaxLine(raw, err))
	}
	if dir != "" {
		for _, p := range []*string{&c.Source.CAFile, &c.Source.BindPasswordFile, &c.Target.CAFile,
			&c.Target.BindPasswordFile, &c.Journal.Path, &c.Service.ReportsDir, &c.Service.CompletedDir,
			&c.Source.KeytabFile, &c.Source.Krb5Conf, &c.Target.KeytabFile, &c.Target.Krb5Conf} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		for _, p := range c.graphPaths() {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	sum := sha256.Sum256(raw)
	c.Hash = hex.EncodeToString(sum[:])
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// yamlErrRE splits a yaml.v3 syntax error into its line (if any) and its problem.
var yamlErrRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.+)$`)

// maxLinesToLocate bounds the work syntaxLine does (a configuration is about 100 lines).
const maxLinesToLocate = 5000

// syntaxLine returns err with the line of the mistake. yaml.v3 numbers the lines of its
// parser's errors from 0 (one too low: "did not find expected key" on line 4 says line 3),
// names the line where the enclosing construct began rather than the mistake's (a tab on the
// line after a value says the value's line), and gives no line for a mistake on line 1. The
// decoder's errors (unknown field, wrong type: *yaml.TypeError) use yaml.Node.Line, 1-based and
// right, and are returned unchanged. The line of a syntax error is found as the first line
// such that the text up to and including it fails with the same problem. The line's text is
// not quoted: it may hold a secret written inline by mistake.
func syntaxLine(raw []byte, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return err
	}
	m := yamlErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	problem := m[2]
	end := 0
	for n, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if n >= maxLinesToLocate {
			break
		}
		end += len(line)
		var node yaml.Node
		e := yaml.Unmarshal(raw[:end], &node)
		if e == nil {
			continue
		}
		if pm := yamlErrRE.FindStringSubmatch(e.Error()); pm != nil && pm[2] == problem {
			return fmt.Errorf("yaml: line %d: %s", n+1, problem)
		}
	}
	return err
}
