package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// cloudWorld: four synced synthetic mailboxes and one fake tenant (a TLS authority and a TLS
// Graph, reached only through a loopback-only client) standing for both tenants: source users
// are <alias>@contoso.com, target users <alias>@northwind.com.
func cloudWorld(t *testing.T) (*world, synth.Options, *graphtest.Tenant) {
	t.Helper()
	w, o := synthetic(t, 4)
	w.sync(t)
	const tenant, clientID, secret = "contoso-and-northwind.test", "11111111-2222-4333-8444-555555555555", "s3cret-value"
	auth := graphtest.NewAuthority(t, tenant, clientID, secret)
	ten := graphtest.NewTenant(t, auth.AccessToken, 2)
	prevHTTP, prevDisc := app.GraphHTTP, app.GraphDisableInstanceDiscovery
	app.GraphHTTP, app.GraphDisableInstanceDiscovery = graphtest.LoopbackOnly(ten.Srv.Client()), true
	t.Cleanup(func() { app.GraphHTTP, app.GraphDisableInstanceDiscovery = prevHTTP, prevDisc })
	t.Setenv("XTM_TEST_GRAPH_SECRET", secret)
	g := &config.Graph{AuthorityHost: auth.Srv.URL, URL: ten.Srv.URL, MaxWait: 3 * time.Second,
		Source: config.GraphApp{TenantID: tenant, ClientID: clientID, ClientSecret: "${XTM_TEST_GRAPH_SECRET}"},
		Target: config.GraphApp{TenantID: tenant, ClientID: clientID, ClientSecret: "${XTM_TEST_GRAPH_SECRET}"}}
	w.cfg.Graph = g
	if err := w.cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	yes := true
	t2t := []graph.LicenseDetail{{SkuPartNumber: "Cross_tenant_user_data_migration",
		ServicePlans: []graph.ServicePlan{{ServicePlanName: "EXCHANGEONLINE_T2TMBXMOVE", ProvisioningStatus: "Success"}}}}
	e3 := graph.LicenseDetail{SkuPartNumber: "SPE_E3", ServicePlans: []graph.ServicePlan{{ServicePlanName: "EXCHANGE_S_ENTERPRISE", ProvisioningStatus: "PendingProvisioning"}}}
	var members []graph.Member
	for i := range 4 {
		a := o.Alias(i)
		src := graphtest.FakeUser{User: graph.User{ID: "src-" + a, UserPrincipalName: a + "@contoso.com", OnPremisesSyncEnabled: &yes}, Mailbox: true}
		if i != 3 {
			src.Licenses = t2t // mailbox 3: the licence on neither side
		}
		ten.AddUser(src)
		members = append(members, graph.Member{Type: "user", ID: "src-" + a, UserPrincipalName: a + "@contoso.com"})
		tgt := read(t, w.tgt, tdnOf(t, w, o, i))
		tu := graphtest.FakeUser{User: graph.User{ID: "tgt-" + a, UserPrincipalName: tgt.GetAttributeValue("userPrincipalName"),
			OnPremisesSyncEnabled: &yes, ProxyAddresses: tgt.GetAttributeValues("proxyAddresses")}}
		switch i {
		case 1:
			tu.Licenses = []graph.LicenseDetail{e3} // licensed before the move
		case 2:
			continue // never exported by Azure AD Connect
		}
		ten.AddUser(tu)
	}
	members = append(members, graph.Member{Type: "user", ID: "ghost", UserPrincipalName: "ghost@contoso.com"})
	ten.AddGroup("grp-scope", "scope-"+o.Tag+"@contoso.com", members...)
	return w, o, ten
}

// tdnOf returns the DN of mailbox i's target MailUser.
func tdnOf(t *testing.T, w *world, o synth.Options, i int) string {
	t.Helper()
	_, p := w.plan(t)
	for _, c := range p.Changes {
		if strings.EqualFold(c.Source, o.UserDN(i)) {
			return c.DN
		}
	}
	t.Fatalf("no target for %s", o.Alias(i))
	return ""
}

// validate shows the findings drawn from the tenants: each fixture exactly its finding.
func TestCloud_ValidateShowsTenantFindings(t *testing.T) {
	w, o, ten := cloudWorld(t)
	rep := validate(t, w)
	want := map[string][]string{
		o.Alias(0): nil,
		o.Alias(1): {readiness.CloudEXOLicense},
		o.Alias(2): {readiness.CloudSynced},
		o.Alias(3): {readiness.CloudT2T},
	}
	for _, m := range rep.Mailboxes {
		var got []string
		for _, f := range m.Findings {
			got = append(got, f.Check)
		}
		if !slices.Equal(got, want[m.Alias]) {
			t.Errorf("%s: findings %v, want %v", m.Alias, got, want[m.Alias])
		}
	}
	if !slices.ContainsFunc(rep.Scope, func(f readiness.Finding) bool {
		return f.Check == readiness.CloudScope && strings.Contains(f.Actual, "ghost@contoso.com")
	}) {
		t.Errorf("the cloud-only member of the scope group is not reported: %+v", rep.Scope)
	}
	for _, c := range rep.Checks {
		graphChecked := c.ID == readiness.CloudSynced || c.ID == readiness.CloudEXOLicense || c.ID == readiness.CloudT2T || c.ID == readiness.CloudScope
		if graphChecked != (c.Status == "checked (Microsoft Graph)") {
			t.Errorf("%s: status %q", c.ID, c.Status)
		}
	}
	for _, s := range ten.Seen() {
		if strings.Contains(s.Header.Get("Authorization"), "fake") {
			t.Errorf("the recorded request kept its token")
		}
	}
}

// cutover --from-graph completes exactly the users the tenants report as moved.
func TestCloud_CutoverFromGraph(t *testing.T) {
	w, o, ten := cloudWorld(t)
	ten.SetMailbox("tgt-"+o.Alias(0), true)  // moved: a mailbox in the target ...
	ten.SetMailbox("src-"+o.Alias(0), false) // ... and none left in the source
	ten.SetMailbox("tgt-"+o.Alias(3), true)  // still a mailbox in the source: not completed
	r := w.rig(t)
	p, err := r.PlanCutover(context.Background(), app.GraphCompletions{R: r})
	if err != nil {
		t.Fatal(err)
	}
	var cut []string
	for _, c := range p.Changes {
		if c.Forest == plan.ForestTarget && c.Action == plan.Update {
			cut = append(cut, c.Source)
		}
	}
	if len(cut) != 1 || !strings.EqualFold(cut[0], o.UserDN(0)) {
		t.Errorf("cut over %v, want only %s", cut, o.UserDN(0))
	}
}

// A burst of 429s is retried within graph.max_wait and then reported, not passed.
func TestCloud_ThrottlingIsRetriedThenReported(t *testing.T) {
	w, o, ten := cloudWorld(t)
	ten.Throttle("/v1.0/users/"+o.Alias(0)+"@northwind.com", 100, 429, "1")
	t0 := time.Now()
	rep := validate(t, w)
	if el := time.Since(t0); el > 20*time.Second {
		t.Errorf("validate took %s: the throttling bound is not honoured", el)
	}
	for _, m := range rep.Mailboxes {
		if m.Alias != o.Alias(0) {
			continue
		}
		if !slices.ContainsFunc(m.Findings, func(f readiness.Finding) bool {
			return f.Check == readiness.CloudSynced && strings.Contains(f.Actual, "not checked") && strings.Contains(f.Actual, "429")
		}) {
			t.Errorf("%s: the throttled lookup is not reported: %+v", m.Alias, m.Findings)
		}
	}
}
