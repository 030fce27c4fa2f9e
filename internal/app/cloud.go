package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Tenants are the Graph clients of both tenants.
type Tenants struct {
	Source, Target *graph.Client
	T2TPlans       []string
}

// GraphHTTP is the HTTP client the Graph clients use; tests replace it with a loopback-only one.
var GraphHTTP graph.Doer = &http.Client{Timeout: 60 * time.Second}

// GraphDisableInstanceDiscovery is set only by tests that run against a fake authority (MSAL
// would otherwise ask login.microsoftonline.com about it first).
var GraphDisableInstanceDiscovery bool

// NewTenants builds the Graph clients from the configuration (nil when graph is not configured).
func NewTenants(c *config.Config) (*Tenants, error) {
	g := c.Graph
	if g == nil {
		return nil, nil
	}
	client := func(name string, a *config.GraphApp) (*graph.Client, error) {
		tok, err := graph.NewApp(graph.AppOptions{AuthorityHost: g.AuthorityHost, TenantID: a.TenantID, ClientID: a.ClientID,
			Credential: graph.Credential{Secret: a.Secret().Reveal(), CertPEM: a.CertPEM()}, GraphURL: g.URL, HTTP: GraphHTTP,
			DisableInstanceDiscovery: GraphDisableInstanceDiscovery})
		if err != nil {
			return nil, fmt.Errorf("graph %s tenant: %w", name, err)
		}
		return graph.New(graph.ClientOptions{BaseURL: strings.TrimSuffix(g.URL, "/") + "/v1.0", HTTP: GraphHTTP, Tokens: tok, MaxWait: g.MaxWait})
	}
	src, err := client("source", &g.Source)
	if err != nil {
		return nil, err
	}
	tgt, err := client("target", &g.Target)
	if err != nil {
		return nil, err
	}
	return &Tenants{Source: src, Target: tgt, T2TPlans: g.T2TServicePlans}, nil
}

// askUser reads one user, its licences and whether it has a mailbox.
func askUser(ctx context.Context, c *graph.Client, upn string, plans []string) readiness.CloudUser {
	cu := readiness.CloudUser{Asked: true}
	if upn == "" {
		return cu
	}
	u, err := c.User(ctx, upn)
	switch {
	case errors.Is(err, graph.ErrNotFound):
		return cu
	case err != nil:
		cu.Err = err.Error()
		return cu
	}
	cu.Found = true
	cu.Synced = u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled
	cu.Proxies = u.ProxyAddresses
	if ld, err := c.LicenseDetails(ctx, u.ID); err == nil {
		cu.T2TPlan, _ = graph.HasServicePlan(ld, plans)
		cu.ExchangePlan, _ = graph.MailboxPlan(ld, plans)
	} else {
		cu.Err = err.Error()
	}
	if has, err := c.HasMailbox(ctx, u.ID); err == nil {
		cu.HasMailbox = has
	} else if cu.Err == "" {
		cu.Err = err.Error()
	}
	return cu
}

// forEach runs fn over n items with a few concurrent Graph requests.
func forEach(ctx context.Context, n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// cloud asks both tenants about the mailboxes of the report.
func (r *Rig) cloud(ctx context.Context, rep *readiness.Report, scope *directory.Scope, targets map[string]*directory.Entry) (*readiness.Cloud, error) {
	t := r.Tenants
	c := &readiness.Cloud{Target: map[string]readiness.CloudUser{}, Source: map[string]readiness.CloudUser{}, TargetProxies: map[string][]string{}}
	bySource := map[string]*directory.Mailbox{}
	for i := range scope.Mailboxes {
		bySource[strings.ToLower(scope.Mailboxes[i].DN)] = &scope.Mailboxes[i]
	}
	var mu sync.Mutex
	forEach(ctx, len(rep.Mailboxes), func(i int) {
		m := rep.Mailboxes[i]
		k := strings.ToLower(m.Source)
		var tu readiness.CloudUser
		var proxies []string
		if e := targets[strings.ToLower(m.TargetDN)]; e != nil {
			tu = askUser(ctx, t.Target, e.First(directory.AttrUPN), t.T2TPlans)
			proxies = e.Get(directory.AttrProxyAddresses)
		}
		var su readiness.CloudUser
		if src := bySource[k]; src != nil {
			su = askUser(ctx, t.Source, src.UPN, t.T2TPlans)
		}
		mu.Lock()
		c.Target[k], c.Source[k], c.TargetProxies[k] = tu, su, proxies
		mu.Unlock()
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if g := r.Config.Scope.Group; g != "" {
		c.Scope = append(c.Scope, r.cloudScope(ctx, g, scope, rep)...)
	}
	return c, nil
}

// cloudScope compares the scope group's members in the source tenant with its direct members
// on-premises: the move service reads the tenant's group.
func (r *Rig) cloudScope(ctx context.Context, groupDN string, scope *directory.Scope, rep *readiness.Report) []readiness.Finding {
	f := func(sev readiness.Severity, obj, actual, fix string) readiness.Finding {
		return readiness.Finding{Check: readiness.CloudScope, Severity: sev, Object: obj, Attribute: "members", Actual: actual, Fix: fix}
	}
	g, err := r.SourceWriter.Read(ctx, groupDN, []string{directory.AttrMail})
	if err != nil || g == nil || g.First(directory.AttrMail) == "" {
		return []readiness.Finding{f(readiness.Warning, groupDN, "the scope group has no mail address on-premises",
			"MailboxMovePublishedScopes needs a mail-enabled security group; mail-enable it")}
	}
	id, err := r.Tenants.Source.GroupByMail(ctx, g.First(directory.AttrMail))
	if err != nil {
		return []readiness.Finding{f(readiness.Error, groupDN, "not found in the source tenant: "+err.Error(),
			"the scope group must exist in the source tenant (synced by Azure AD Connect)")}
	}
	members, err := r.Tenants.Source.GroupMembers(ctx, id)
	if err != nil {
		return []readiness.Finding{f(readiness.Warning, groupDN, "members not read: "+err.Error(), "check the app's Group.Read.All permission")}
	}
	cloud := map[string]bool{}
	var out []readiness.Finding
	for _, m := range members {
		if m.Type == "group" {
			out = append(out, f(readiness.Warning, groupDN, "nested group in the tenant: "+m.DisplayName,
				"the move service does not expand nested groups"))
			continue
		}
		cloud[strings.ToLower(m.UserPrincipalName)] = true
	}
	onprem := map[string]bool{}
	for _, m := range scope.Mailboxes {
		if m.Scope != "direct" || m.UPN == "" {
			continue
		}
		onprem[strings.ToLower(m.UPN)] = true
		if !cloud[strings.ToLower(m.UPN)] {
			for i := range rep.Mailboxes {
				if strings.EqualFold(rep.Mailboxes[i].Source, m.DN) {
					rep.Mailboxes[i].Findings = append(rep.Mailboxes[i].Findings, readiness.Finding{Check: readiness.CloudScope,
						Severity: readiness.Error, Object: m.DN, Attribute: "memberOf", Expected: "a member of the scope group in the source tenant",
						Actual: "member on-premises only", Fix: "run an Azure AD Connect delta sync in the source forest; the tenant's group is what the move service reads"})
				}
			}
		}
	}
	for upn := range cloud {
		if !onprem[upn] {
			out = append(out, f(readiness.Warning, groupDN, "in the tenant's scope group but not on-premises: "+upn,
				"the tenant's group has a member the on-premises group lacks: a cloud-only addition, or a sync not yet run"))
		}
	}
	return out
}

// GraphCompletions says a move completed when the target user now has a mailbox and the source
// user has none.
type GraphCompletions struct{ R *Rig }

// Completions implements cutover.Source.
func (g GraphCompletions) Completions(ctx context.Context) ([]cutover.Completion, error) {
	r := g.R
	if r.Tenants == nil {
		return nil, errors.New("graph is not configured: add the graph section to the config")
	}
	scope, err := r.Source.Scope(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := r.Target.Entries(ctx)
	if err != nil {
		return nil, err
	}
	byGUID := map[directory.GUID]*directory.Entry{}
	for _, e := range entries {
		if k, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil {
			byGUID[k] = e
		}
	}
	var (
		mu   sync.Mutex
		out  []cutover.Completion
		errs []error
	)
	forEach(ctx, len(scope.Mailboxes), func(i int) {
		m := scope.Mailboxes[i]
		k, err := directory.GUIDFromAD(m.MailboxGUID)
		e := byGUID[k]
		if err != nil || e == nil {
			return
		}
		tu, err := r.Tenants.Target.User(ctx, e.First(directory.AttrUPN))
		if err != nil {
			if !errors.Is(err, graph.ErrNotFound) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return
		}
		has, err := r.Tenants.Target.HasMailbox(ctx, tu.ID)
		if err != nil || !has {
			return
		}
		if su, err := r.Tenants.Source.User(ctx, m.UPN); err == nil {
			if src, err := r.Tenants.Source.HasMailbox(ctx, su.ID); err != nil || src {
				return // still a mailbox in the source: not completed
			}
		}
		mu.Lock()
		out = append(out, cutover.Completion{Row: i + 1, ExchangeGUID: k.String(), EmailAddress: e.First(directory.AttrMail),
			Status: "Completed", HasStatus: true})
		mu.Unlock()
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("graph: %d lookups failed, first: %w", len(errs), errs[0])
	}
	return out, nil
}
