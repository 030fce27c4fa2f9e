package app

import (
	"context"
	"encoding/base64"
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

// GraphCompletions asks both tenants which moves completed. A move is completed only on
// positive evidence from both: the target user (the synced object of the target MailUser that
// carries the source's ExchangeGUID) has a mailbox, and the source user (found by a stable
// identifier) has none. Lookups that fail (throttling, a reset connection, a timeout: retried
// within graph.max_wait) or prove nothing (a UPN that finds no user, or another user) make the
// outcome unknown: never completed, reported per mailbox with what failed and what to do.
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
	byGUID := map[directory.GUID][]*directory.Entry{}
	for _, e := range entries {
		if k, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil && !k.IsZero() {
			byGUID[k] = append(byGUID[k], e)
		}
	}
	rows := make([]*cutover.Completion, len(scope.Mailboxes))
	forEach(ctx, len(scope.Mailboxes), func(i int) {
		m := &scope.Mailboxes[i]
		k, err := directory.GUIDFromAD(m.MailboxGUID)
		if err != nil || k.IsZero() || len(byGUID[k]) == 0 {
			return // no ExchangeGUID, or no target MailUser: nothing can have moved
		}
		ev := cutover.Evidence{SourceDN: m.DN, Alias: m.Alias, ExchangeGUID: k.String()}
		if ts := byGUID[k]; len(ts) > 1 {
			dns := make([]string, len(ts))
			for j, e := range ts {
				dns[j] = e.DN
			}
			ev.Target = cutover.Side{Detail: "several objects of the target forest carry ExchangeGUID " + k.String() + ": " + strings.Join(dns, "; "),
				Fix: "keep the ExchangeGUID on one target object only"}
		} else {
			e := ts[0]
			ev.EmailAddress = e.First(directory.AttrMail)
			ev.Target = askMailbox(ctx, r.Tenants.Target, "target", e.First(directory.AttrUPN), e.ObjectGUID)
		}
		if ev.Target.Answer == cutover.HasMailbox {
			ev.Source = askMailbox(ctx, r.Tenants.Source, "source", m.UPN, m.ObjectGUID)
		}
		if c, ok := ev.Completion(); ok {
			rows[i] = &c
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []cutover.Completion
	for _, c := range rows {
		if c == nil {
			continue
		}
		if c.Unknown && r.Log != nil {
			r.Log.Warn("cutover: the outcome of a move is unknown; it is not cut over", "mailbox", c.Identity, "exchange_guid", c.ExchangeGUID, "reason", c.Reason)
		}
		out = append(out, *c)
	}
	return out, nil
}

// immutableID is the onPremisesImmutableId Azure AD Connect gives the object with this
// objectGUID: its sourceAnchor (objectGUID, or ms-DS-ConsistencyGuid, which Azure AD Connect
// fills from objectGUID), base64 of the bytes in AD order.
func immutableID(g directory.GUID) string { return base64.StdEncoding.EncodeToString(g.AD()) }

// askMailbox finds, in one tenant, the user synced from the on-premises object (upn, objectGUID)
// and asks whether it has an Exchange Online mailbox. Only a stable identifier counts: the UPN
// finds a candidate, which must carry the object's onPremisesImmutableId; when it finds nobody
// or another user, the user is looked up by onPremisesImmutableId. The mailbox is then asked of
// the object id the lookup returned. Anything else is Unknown with what failed and what to do.
func askMailbox(ctx context.Context, c *graph.Client, tenant, upn string, obj directory.GUID) cutover.Side {
	if obj.IsZero() {
		return cutover.Side{Detail: "the on-premises object has no objectGUID", Fix: "check the account reading the forest"}
	}
	anchor := immutableID(obj)
	var notes []string
	unknown := func(what string, fix string) cutover.Side {
		return cutover.Side{Detail: strings.Join(append(notes, what), "; "), Fix: fix}
	}
	var found *graph.User
	how := ""
	if upn != "" {
		u, err := c.User(ctx, upn)
		switch {
		case err == nil && u.OnPremisesImmutableID == anchor:
			found, how = &u, "user "+upn+" (object id "+u.ID+")"
		case err == nil:
			notes = append(notes, fmt.Sprintf("the UPN %s belongs to object id %s, which is not synced from this object (onPremisesImmutableId %q, not %q)",
				upn, u.ID, u.OnPremisesImmutableID, anchor))
		case errors.Is(err, graph.ErrNotFound):
			notes = append(notes, "no user has the UPN "+upn)
		default:
			return unknown("looking up "+upn+" failed: "+err.Error(), fixFor(err, tenant))
		}
	}
	if found == nil {
		var hits []graph.User
		err := c.Users(ctx, "onPremisesImmutableId eq "+graph.QuoteOData(anchor), func(u graph.User) error {
			hits = append(hits, u)
			return nil
		})
		switch {
		case err != nil:
			return unknown("looking up onPremisesImmutableId "+anchor+" failed: "+err.Error(), fixFor(err, tenant))
		case len(hits) > 1:
			return unknown(fmt.Sprintf("%d users have onPremisesImmutableId %s", len(hits), anchor), "remove the duplicate in the "+tenant+" tenant")
		case len(hits) == 0:
			fix := "a user that cannot be found is not proof that its mailbox is gone: check the user in the source tenant " +
				"(if Azure AD Connect's sourceAnchor is not objectGUID or ms-DS-ConsistencyGuid, the anchor differs); if it was deleted after its move, " +
				"cut it over with --completed and the move report (Get-MoveRequest -Flags CrossTenant | Export-Csv)"
			if tenant == "target" {
				fix = "the target user is not in the target tenant: run an Azure AD Connect sync in the target forest (validate reports " + readiness.CloudSynced + ")"
			}
			return unknown("no user has onPremisesImmutableId "+anchor, fix)
		}
		found, how = &hits[0], "user "+hits[0].UserPrincipalName+" (object id "+hits[0].ID+", found by onPremisesImmutableId)"
	}
	has, err := c.HasMailbox(ctx, found.ID)
	switch {
	case err == nil && has:
		return cutover.Side{Answer: cutover.HasMailbox, Detail: how + " has a mailbox"}
	case err == nil:
		return cutover.Side{Answer: cutover.NoMailbox, Detail: how + " has no Exchange Online mailbox (" + graph.MailboxNotEnabledCode + ")"}
	case errors.Is(err, graph.ErrNotFound):
		// The object id the lookup just returned is no longer there: confirm it is gone.
		_, err2 := c.User(ctx, found.ID)
		if errors.Is(err2, graph.ErrNotFound) {
			return cutover.Side{Answer: cutover.NoMailbox, Detail: how + " no longer exists (deleted)"}
		}
		if err2 != nil {
			err = err2
		}
		return unknown("asking whether "+how+" has a mailbox failed: "+err.Error(), fixFor(err, tenant))
	}
	return unknown("asking whether "+how+" has a mailbox failed: "+err.Error(), fixFor(err, tenant))
}

// fixFor says what to do about a failed lookup.
func fixFor(err error, tenant string) string {
	switch {
	case errors.Is(err, graph.ErrThrottled), errors.Is(err, graph.ErrTransport):
		return "run the cutover again later: a failed lookup is never taken as a moved mailbox (graph.max_wait bounds the retries of each request)"
	case errors.Is(err, graph.ErrUnauthorized), errors.Is(err, graph.ErrForbidden), errors.Is(err, graph.ErrToken):
		return "check the " + tenant + " tenant's app registration: its credential and the application permissions User.Read.All and MailboxSettings.Read (xtmsyncd doctor)"
	}
	return "run the cutover again; if it persists, check the " + tenant + " tenant with xtmsyncd doctor"
}
