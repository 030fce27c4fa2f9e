package ldapconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
)

// DC is the domain controller a run uses, as it describes itself in its RootDSE.
type DC struct {
	URL           string `json:"url"`
	Host          string `json:"host,omitempty"`            // dnsHostName
	DSServiceName string `json:"ds_service_name,omitempty"` // its NTDS Settings object
	InvocationID  string `json:"invocation_id,omitempty"`   // of its database: changes on a restore
	// Skew is the DC's clock (currentTime) minus this host's, when the DC said.
	Skew time.Duration `json:"-"`
}

// String is the DC for logs and messages: host, URL and invocationId.
func (dc DC) String() string {
	s := dc.URL
	if dc.Host != "" {
		s = dc.Host + " (" + dc.URL + ")"
	}
	if dc.InvocationID != "" {
		s += " invocationId " + dc.InvocationID
	}
	return s
}

// Session is one run's hold on a forest: the domain controller chosen when it was opened, which
// every connection of the run uses (reads, writes, the compare-and-set re-reads), so that the
// run reads its own writes and a uSN or a DirSync cookie means something. A DC lost mid-run is
// not swapped for another: the run fails, and the next one chooses again.
type Session struct {
	dir config.Directory // the forest's settings with URL set to the chosen DC
	dc  DC
}

// Resolver looks up SRV records for domain: discovery (net.DefaultResolver; tests point it at
// a DNS server of their own).
var Resolver = net.DefaultResolver

// Open chooses the forest's domain controller for one run: the first of the candidates (url,
// urls in order, or the SRV records of domain by priority and weight) that answers and signs
// in. A DC that fails is skipped with a log line; refused credentials stop at once (the next DC
// would refuse them too, and each try counts towards the account's lockout). It returns the
// session and the connection that proved the DC.
func Open(ctx context.Context, d *config.Directory, log *slog.Logger) (*Session, *ldap.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cands, err := candidates(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for i, u := range cands {
		p := *d
		p.URL, p.URLs, p.Domain, p.Site = u, nil, "", ""
		c, err := Dial(ctx, &p)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrCredentials) || errors.Is(err, ErrKerberos) {
				return nil, nil, err
			}
			errs = append(errs, err)
			if i+1 < len(cands) {
				log.Warn("domain controller skipped: it did not answer or sign in", "url", u, "next", cands[i+1], "err", err)
			}
			continue
		}
		s := &Session{dir: p, dc: describe(c, u)}
		log.Info("domain controller chosen", "dc", s.dc.String(), "of", len(cands))
		return s, c, nil
	}
	if len(errs) == 1 {
		return nil, nil, errs[0]
	}
	return nil, nil, fmt.Errorf("no domain controller of %s answered and signed in (%d tried): %w", d.Where(), len(cands), errors.Join(errs...))
}

// Dial opens another connection of the run, to the session's domain controller.
func (s *Session) Dial(ctx context.Context) (*ldap.Conn, error) { return Dial(ctx, &s.dir) }

// Dir is the forest's configuration with url set to the session's domain controller.
func (s *Session) Dir() *config.Directory { return &s.dir }

// DC is the session's domain controller.
func (s *Session) DC() DC { return s.dc }

// candidates lists the URLs to try in order.
func candidates(ctx context.Context, d *config.Directory) ([]string, error) {
	if c := d.Candidates(); len(c) > 0 {
		return c, nil
	}
	name := "dc._msdcs." + d.Domain
	if d.Site != "" {
		name = d.Site + "._sites." + name
	}
	_, srvs, err := Resolver.LookupSRV(ctx, "ldap", "tcp", name)
	if err != nil || len(srvs) == 0 {
		return nil, fmt.Errorf("%w: DNS SRV _ldap._tcp.%s: no domain controller found (%v): check the domain and site names, and that this host uses the domain's DNS servers; or list the DCs in urls", ErrConnect, name, err)
	}
	// LookupSRV orders by priority and shuffles by weight (RFC 2782). The records name LDAP
	// (389); LDAPS is asked on 636 unless StartTLS is configured.
	out := make([]string, 0, len(srvs))
	for _, r := range srvs {
		host := strings.TrimSuffix(r.Target, ".")
		u := "ldaps://" + net.JoinHostPort(host, "636")
		if d.StartTLS || d.InsecurePlaintextLDAP {
			u = "ldap://" + net.JoinHostPort(host, strconv.Itoa(int(r.Port)))
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// describe reads what the DC says about itself: its host name, NTDS Settings object and that
// object's invocationId, and its clock. A DC that refuses the reads is still used, unnamed.
func describe(c *ldap.Conn, u string) DC {
	dc := DC{URL: u}
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"dnsHostName", "dsServiceName", "currentTime"}, nil))
	if err != nil || len(res.Entries) == 0 {
		return dc
	}
	e := res.Entries[0]
	dc.Host, dc.DSServiceName = e.GetAttributeValue("dnsHostName"), e.GetAttributeValue("dsServiceName")
	if t, err := time.Parse("20060102150405.0Z", e.GetAttributeValue("currentTime")); err == nil {
		dc.Skew = time.Until(t).Round(time.Second)
	}
	if dc.DSServiceName != "" {
		ntds, err := c.Search(ldap.NewSearchRequest(dc.DSServiceName, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"invocationId"}, nil))
		if err == nil && len(ntds.Entries) == 1 {
			if g, err := directory.GUIDFromAD(ntds.Entries[0].GetRawAttributeValue("invocationId")); err == nil {
				dc.InvocationID = g.String()
			}
		}
	}
	return dc
}
