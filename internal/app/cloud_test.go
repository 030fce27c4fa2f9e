package app_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
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
		src := graphtest.FakeUser{User: graph.User{ID: "src-" + a, UserPrincipalName: a + "@contoso.com", OnPremisesSyncEnabled: &yes,
			OnPremisesImmutableID: anchorOf(read(t, w.src, o.UserDN(i)))}, Mailbox: true}
		if i != 3 {
			src.Licenses = t2t // mailbox 3: the licence on neither side
		}
		ten.AddUser(src)
		members = append(members, graph.Member{Type: "user", ID: "src-" + a, UserPrincipalName: a + "@contoso.com"})
		tgt := read(t, w.tgt, tdnOf(t, w, o, i))
		tu := graphtest.FakeUser{User: graph.User{ID: "tgt-" + a, UserPrincipalName: tgt.GetAttributeValue("userPrincipalName"),
			OnPremisesSyncEnabled: &yes, ProxyAddresses: tgt.GetAttributeValues("proxyAddresses"), OnPremisesImmutableID: anchorOf(tgt)}}
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

// anchorOf is the onPremisesImmutableId Azure AD Connect gives the object: base64 of its
// objectGUID as stored.
func anchorOf(e *ldap.Entry) string {
	return base64.StdEncoding.EncodeToString(e.GetRawAttributeValue("objectGUID"))
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

// movedWorld is cloudWorld with mailbox 0 moved: a mailbox in the target tenant and none left
// in the source. Asked faithfully, the tenants say mailbox 0 completed.
func movedWorld(t *testing.T) (*world, synth.Options, *graphtest.Tenant) {
	t.Helper()
	w, o, ten := cloudWorld(t)
	ten.SetMailbox("tgt-"+o.Alias(0), true)
	ten.SetMailbox("src-"+o.Alias(0), false)
	return w, o, ten
}

// sourceLookups matches every request about mailbox i's source user: by UPN, by object id and
// by onPremisesImmutableId.
func sourceLookups(t *testing.T, w *world, o synth.Options, i int) func(*http.Request) bool {
	a, anchor := o.Alias(i), anchorOf(read(t, w.src, o.UserDN(i)))
	return func(r *http.Request) bool {
		p := r.URL.Path
		return strings.HasPrefix(p, "/v1.0/users/"+a+"@contoso.com") || strings.HasPrefix(p, "/v1.0/users/src-"+a) ||
			p == "/v1.0/users" && strings.Contains(r.URL.Query().Get("$filter"), anchor)
	}
}

// cutoverPlan plans cutover --from-graph and returns the source DNs cut over and the warnings.
func cutoverPlan(t *testing.T, w *world) ([]string, []plan.Warning) {
	t.Helper()
	r := w.rig(t)
	p, err := r.PlanCutover(context.Background(), app.GraphCompletions{R: r})
	if err != nil {
		t.Fatal(err)
	}
	var cut []string
	for _, c := range p.Changes {
		if c.Forest == plan.ForestTarget && c.Action == plan.Update {
			cut = append(cut, strings.ToLower(c.Source))
		}
	}
	return cut, p.Warnings
}

// unknownFor returns the completion_unknown warning about dn.
func unknownFor(ws []plan.Warning, dn string) *plan.Warning {
	for i := range ws {
		if ws[i].Code == "completion_unknown" && strings.EqualFold(ws[i].Object, dn) {
			return &ws[i]
		}
	}
	return nil
}

// Rule 5 (issue 16): the source lookup answering 404, a 429 or 503 storm, connection resets or
// never answering (a timeout) never produces a completed move, although the tenants' real state
// is "moved": the outcome is unknown, reported by mailbox with what failed and what to do.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_FailedSourceLookupsNeverComplete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault graphtest.Fault
		says  string // in the reason
	}{
		{"404", graphtest.Fault{Status: 404, Code: "Request_ResourceNotFound", Message: "Resource does not exist."}, "no user has"},
		{"429 storm", graphtest.Fault{Status: 429, Code: "TooManyRequests", Message: "Too many requests", RetryAfter: "1"}, "429"},
		{"503 storm", graphtest.Fault{Status: 503, Code: "ServiceUnavailable", Message: "Service unavailable"}, "503"},
		{"connection resets", graphtest.Fault{Reset: true}, "connection reset"},
		{"no answer", graphtest.Fault{Stall: true}, "Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, o, ten := movedWorld(t)
			if tc.fault.Stall {
				hc := ten.Srv.Client()
				hc.Timeout = 300 * time.Millisecond
				app.GraphHTTP = graphtest.LoopbackOnly(hc) // cloudWorld restores it
			}
			f := tc.fault
			f.Match, f.Times = sourceLookups(t, w, o, 0), 1000
			if tc.name == "404" {
				// The UPN finds nobody (renamed in the source tenant) and the anchor finds nobody
				// either (a sourceAnchor other than objectGUID): the user still has its mailbox,
				// but the lookups only say "not found", which proves nothing.
				f.Match = func(r *http.Request) bool { return r.URL.Path != "/v1.0/users" && sourceLookups(t, w, o, 0)(r) }
				ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "src-" + o.Alias(0), UserPrincipalName: "renamed@contoso.com",
					OnPremisesImmutableID: "employeeID-4711"}, Mailbox: true})
			}
			ten.Inject(f)
			t0 := time.Now()
			cut, ws := cutoverPlan(t, w)
			if el := time.Since(t0); el > 20*time.Second {
				t.Errorf("cutover took %s: graph.max_wait (3s) is not honoured", el)
			}
			if len(cut) != 0 {
				t.Errorf("cut over %v on a failed source lookup", cut)
			}
			u := unknownFor(ws, o.UserDN(0))
			if u == nil {
				t.Fatalf("the unknown outcome is not reported: %+v", ws)
			}
			if !strings.Contains(u.Message, "source tenant") || !strings.Contains(u.Message, tc.says) ||
				!strings.Contains(u.Message, o.Alias(0)) || !strings.Contains(u.Message, "cut") {
				t.Errorf("report %q lacks the mailbox, what failed (%s) or what to do", u.Message, tc.says)
			}
		})
	}
}

// Rule 5: a connection reset or a 429 on the source lookup is retried, and the answer that
// follows counts: the move completes.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_RetriedLookupsStillAnswer(t *testing.T) {
	w, o, ten := movedWorld(t)
	ten.Inject(graphtest.Fault{Match: sourceLookups(t, w, o, 0), Times: 2, Reset: true})
	ten.Inject(graphtest.Fault{Match: sourceLookups(t, w, o, 0), Times: 1, Status: 429, Code: "TooManyRequests", Message: "x", RetryAfter: "0"})
	cut, ws := cutoverPlan(t, w)
	if len(cut) != 1 || cut[0] != strings.ToLower(o.UserDN(0)) {
		t.Errorf("cut over %v, want %s (warnings %+v)", cut, o.UserDN(0), ws)
	}
}

// Rule 5: a 404 for the source UPN is not "gone": the user whose UPN changed in the source
// tenant is found by its onPremisesImmutableId, and it still has its mailbox.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_RenamedSourceIsFoundByAnchor(t *testing.T) {
	w, o, ten := cloudWorld(t)
	ten.SetMailbox("tgt-"+o.Alias(0), true)
	a := o.Alias(0)
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "src-" + a, UserPrincipalName: "renamed-" + a + "@contoso.com",
		OnPremisesImmutableID: anchorOf(read(t, w.src, o.UserDN(0)))}, Mailbox: true})
	cut, ws := cutoverPlan(t, w)
	if len(cut) != 0 {
		t.Errorf("cut over %v: the renamed source user still has its mailbox", cut)
	}
	if !slices.ContainsFunc(ws, func(x plan.Warning) bool {
		return x.Code == "completion_not_completed" && strings.EqualFold(x.Object, o.UserDN(0)) && strings.Contains(x.Message, "renamed-"+a)
	}) {
		t.Errorf("warnings %+v, want completion_not_completed naming the renamed user", ws)
	}
	// Moved after all: found by anchor, no mailbox: completed.
	ten.SetMailbox("src-"+a, false)
	if cut, ws := cutoverPlan(t, w); len(cut) != 1 {
		t.Errorf("cut over %v (warnings %+v), want %s", cut, ws, o.UserDN(0))
	}
}

// Rule 5: the source UPN now held by another user (not synced from the source object) without a
// mailbox is not evidence; the real user is looked up by anchor, and when it is nowhere the
// outcome is unknown, never completed.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_AnotherUsersUPNIsNotEvidence(t *testing.T) {
	w, o, ten := cloudWorld(t)
	a := o.Alias(0)
	ten.SetMailbox("tgt-"+a, true)
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "src-" + a, UserPrincipalName: "old-" + a + "@contoso.com"}}) // no anchor: not found by it
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "cloud-only", UserPrincipalName: a + "@contoso.com"}})        // another user, no mailbox
	cut, ws := cutoverPlan(t, w)
	if len(cut) != 0 {
		t.Errorf("cut over %v on another user's answer", cut)
	}
	u := unknownFor(ws, o.UserDN(0))
	if u == nil || !strings.Contains(u.Message, "cloud-only") || !strings.Contains(u.Message, "not synced from this object") {
		t.Errorf("warnings %+v, want completion_unknown explaining the UPN belongs to another user", ws)
	}
}

// Rule 5: the object id the source lookup returned, gone when its mailbox is asked, is proof by
// a stable identifier that the source has no mailbox.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_SourceGoneByObjectID(t *testing.T) {
	w, o, ten := cloudWorld(t)
	a := o.Alias(0)
	ten.SetMailbox("tgt-"+a, true) // the source user still has its mailbox, but vanishes by id:
	ten.Fail("/v1.0/users/src-"+a, 10, 404, "Request_ResourceNotFound", "Resource 'src-"+a+"' does not exist.")
	cut, ws := cutoverPlan(t, w)
	if len(cut) != 1 {
		t.Errorf("cut over %v (warnings %+v), want %s", cut, ws, o.UserDN(0))
	}
}

// Rule 5: a failed target lookup is unknown too (never completed, reported), and the source is
// not asked.
func TestCloud_MoveCompletedOnlyOnPositiveEvidence_FailedTargetLookupIsUnknown(t *testing.T) {
	w, o, ten := movedWorld(t)
	ten.Reset("/v1.0/users/tgt-"+o.Alias(0), 1000)
	before := len(ten.Seen())
	cut, ws := cutoverPlan(t, w)
	if len(cut) != 0 {
		t.Errorf("cut over %v", cut)
	}
	if u := unknownFor(ws, o.UserDN(0)); u == nil || !strings.Contains(u.Message, "target tenant") || !strings.Contains(u.Message, "connection reset") {
		t.Errorf("warnings %+v", ws)
	}
	for _, s := range ten.Seen()[before:] {
		if strings.Contains(s.Path, "src-"+o.Alias(0)) {
			t.Errorf("the source was asked (%s) though the target's answer is unknown", s.Path)
		}
	}
}
