package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
)

// oddUPN has characters that must be path-escaped.
const oddUPN = "o'neil#ext#+x%y@contoso.com"

// richUser has every selected property set.
func richUser() graphtest.FakeUser {
	return graphtest.FakeUser{
		User: graph.User{
			ID: "11111111-1111-1111-1111-111111111111", UserPrincipalName: oddUPN,
			Mail: "oneil@contoso.com", MailNickname: "oneil",
			ProxyAddresses:              []string{"SMTP:oneil@contoso.com", "smtp:oneil@contoso.mail.onmicrosoft.com"},
			OnPremisesSyncEnabled:       ptr(true),
			OnPremisesImmutableID:       "AAECAwQFBgcICQoLDA0ODw==",
			OnPremisesDistinguishedName: "CN=O'Neil,OU=Users,DC=contoso,DC=com",
			AssignedPlans: []graph.AssignedPlan{{Service: "exchange", ServicePlanID: "efb87545-963c-4e0d-99df-69c6916d9eb0",
				CapabilityStatus: "Enabled", AssignedDateTime: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}},
			ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", CapabilityStatus: "Enabled", ProvisioningStatus: "Success"}},
		},
		Licenses: []graph.LicenseDetail{{SkuPartNumber: "Cross_tenant_user_data_migration",
			ServicePlans: []graph.ServicePlan{{ServicePlanName: "EXCHANGEONLINE_T2TMBXMOVE", ProvisioningStatus: "Success"}}}},
		Mailbox: true,
	}
}

func TestUserSelectAndEscapedUPN(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	want := richUser()
	ten.AddUser(want)
	c, _ := newClient(t, ten, nil)
	got, err := c.User(context.Background(), oddUPN)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want.User) {
		t.Errorf("User =\n%+v\nwant\n%+v", got, want.User)
	}
	seen := ten.Seen()
	if len(seen) != 1 {
		t.Fatalf("requests = %d", len(seen))
	}
	r := seen[0]
	if r.Path != "/v1.0/users/"+oddUPN {
		t.Errorf("decoded path = %q", r.Path)
	}
	if !strings.Contains(r.EscapedPath, "%23ext%23") || !strings.Contains(r.EscapedPath, "%25y") || strings.Contains(r.EscapedPath, "#") {
		t.Errorf("escaped path = %q: # and %% must be escaped", r.EscapedPath)
	}
	if sel := r.Query.Get("$select"); sel != strings.Join(graph.UserSelect, ",") {
		t.Errorf("$select = %q", sel)
	}
	if !strings.HasPrefix(r.RawQuery, "$select=") {
		t.Errorf("raw query %q: $select should be sent literally", r.RawQuery)
	}
}

func TestRequestHeaders(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	ten.AddUser(richUser())
	c, _ := newClient(t, ten, nil)
	for range 2 {
		if _, err := c.User(context.Background(), richUser().ID); err != nil {
			t.Fatal(err)
		}
	}
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := ten.Seen()
	for _, r := range seen {
		if !r.Authorized {
			t.Error("request without the bearer token")
		}
		if a := r.Header.Get("Accept"); a != "application/json" {
			t.Errorf("Accept = %q", a)
		}
		if id := r.Header.Get("client-request-id"); !uuidV4.MatchString(id) {
			t.Errorf("client-request-id %q is not a UUID v4", id)
		}
		if r.Header.Get("ConsistencyLevel") != "" {
			t.Error("ConsistencyLevel sent but not needed")
		}
	}
	if seen[0].Header.Get("client-request-id") == seen[1].Header.Get("client-request-id") {
		t.Error("client-request-id reused")
	}
}

func TestUserNotFound(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	c, _ := newClient(t, ten, nil)
	_, err := c.User(context.Background(), "nobody@contoso.com")
	if !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != "Request_ResourceNotFound" || ge.RequestID == "" || ge.Attempts != 1 {
		t.Errorf("error = %#v", ge)
	}
	if _, err := c.User(context.Background(), " "); !errors.Is(err, graph.ErrInvalidArgument) {
		t.Errorf("empty id: err = %v", err)
	}
}

func TestWrongToken(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) { o.Tokens = graphtest.StaticToken("wrong") })
	_, err := c.User(context.Background(), "x")
	var ge *graph.Error
	if !errors.Is(err, graph.ErrUnauthorized) || !errors.As(err, &ge) || ge.Code != "InvalidAuthenticationToken" {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestTokenSourceError(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	boom := errors.New("boom")
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) {
		o.Tokens = graph.TokenFunc(func(context.Context) (string, error) { return "", boom })
	})
	if _, err := c.User(context.Background(), "x"); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the token error wrapped", err)
	}
	if n := ten.Requests.Load(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
}

// addUsers adds n users u01..un with UPN uNN@contoso.com.
func addUsers(ten *graphtest.Tenant, n int) {
	for i := 1; i <= n; i++ {
		ten.AddUser(graphtest.FakeUser{User: graph.User{ID: fmt.Sprintf("u%02d", i), UserPrincipalName: fmt.Sprintf("u%02d@contoso.com", i)}})
	}
}

func TestUsersPaging(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 2)
	addUsers(ten, 5)
	c, _ := newClient(t, ten, nil)
	var ids []string
	if err := c.Users(context.Background(), "", func(u graph.User) error { ids = append(ids, u.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"u01", "u02", "u03", "u04", "u05"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	seen := ten.Seen()
	if len(seen) != 3 {
		t.Fatalf("requests = %d, want 3 pages", len(seen))
	}
	for i, r := range seen {
		if r.Query.Get("$top") != "999" || r.Query.Get("$select") == "" {
			t.Errorf("page %d query %q lacks $top/$select", i+1, r.RawQuery)
		}
		if (i > 0) != (r.Query.Get("$skiptoken") != "") {
			t.Errorf("page %d query %q", i+1, r.RawQuery)
		}
	}
}

func TestUsersFilterAndStop(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 2)
	addUsers(ten, 5)
	c, _ := newClient(t, ten, nil)
	var got []string
	err := c.Users(context.Background(), "userPrincipalName eq "+graph.QuoteOData("U04@contoso.com"),
		func(u graph.User) error { got = append(got, u.ID); return nil })
	if err != nil || !slices.Equal(got, []string{"u04"}) {
		t.Fatalf("filter: %v, %v", got, err)
	}
	if f := ten.Seen()[0].Query.Get("$filter"); f != "userPrincipalName eq 'U04@contoso.com'" {
		t.Errorf("$filter = %q", f)
	}

	stop := errors.New("stop")
	n := 0
	err = c.Users(context.Background(), "", func(graph.User) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("err = %v after %d users, want the callback's error after 3", err, n)
	}
}

func TestLicenseDetails(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 1)
	u := richUser()
	u.Licenses = append(u.Licenses, graph.LicenseDetail{SkuPartNumber: "ENTERPRISEPACK",
		ServicePlans: []graph.ServicePlan{{ServicePlanName: "EXCHANGE_S_ENTERPRISE", ProvisioningStatus: "Success"}}})
	ten.AddUser(u)
	c, _ := newClient(t, ten, nil)
	got, err := c.LicenseDetails(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].SkuPartNumber != "ENTERPRISEPACK" || got[0].ServicePlans[0].ServicePlanName != "EXCHANGEONLINE_T2TMBXMOVE" {
		t.Errorf("details = %+v", got)
	}
	if name, ok := graph.HasServicePlan(got, []string{"T2TMBXMOVE"}); !ok || name != "EXCHANGEONLINE_T2TMBXMOVE" {
		t.Errorf("HasServicePlan = %q, %v", name, ok)
	}
	if n := ten.Requests.Load(); n != 2 {
		t.Errorf("requests = %d, want 2 pages", n)
	}
	if _, err := c.LicenseDetails(context.Background(), "ghost"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestGroupMembersNested(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 2)
	ten.AddGroup("g1", "team@contoso.com",
		graph.Member{Type: "user", ID: "u1", UserPrincipalName: "a@contoso.com", Mail: "a@contoso.com", DisplayName: "A"},
		graph.Member{Type: "user", ID: "u2", UserPrincipalName: "b@contoso.com", DisplayName: "B"},
		graph.Member{Type: "group", ID: "g2", Mail: "nested@contoso.com", DisplayName: "Nested"},
		graph.Member{Type: "orgcontact", ID: "c1", Mail: "ext@fabrikam.com", DisplayName: "Ext"},
		graph.Member{Type: "user", ID: "u3", UserPrincipalName: "c@contoso.com"},
	)
	c, _ := newClient(t, ten, nil)
	got, err := c.GroupMembers(context.Background(), "g1")
	if err != nil {
		t.Fatal(err)
	}
	want := []graph.Member{
		{Type: "user", ID: "u1", UserPrincipalName: "a@contoso.com", Mail: "a@contoso.com", DisplayName: "A"},
		{Type: "user", ID: "u2", UserPrincipalName: "b@contoso.com", DisplayName: "B"},
		{Type: "group", ID: "g2", Mail: "nested@contoso.com", DisplayName: "Nested"},
		{Type: "orgcontact", ID: "c1", Mail: "ext@fabrikam.com", DisplayName: "Ext"},
		{Type: "user", ID: "u3", UserPrincipalName: "c@contoso.com"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("members =\n%+v\nwant\n%+v", got, want)
	}
	if n := ten.Requests.Load(); n != 3 {
		t.Errorf("requests = %d, want 3 pages", n)
	}
	if q := ten.Seen()[0].Query; q.Get("$select") != "id,userPrincipalName,mail,displayName" || q.Get("$top") != "999" {
		t.Errorf("query = %v", q)
	}
	if _, err := c.GroupMembers(context.Background(), "nope"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("unknown group: %v", err)
	}
}

func TestGroupByMailApostrophe(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	ten.AddGroup("g-other", "team@contoso.com")
	ten.AddGroup("g-obrien", "o'brien.team@contoso.com")
	c, _ := newClient(t, ten, nil)
	id, err := c.GroupByMail(context.Background(), "O'Brien.Team@contoso.com")
	if err != nil || id != "g-obrien" {
		t.Fatalf("GroupByMail = %q, %v", id, err)
	}
	r := ten.Seen()[0]
	if f := r.Query.Get("$filter"); f != "mail eq 'O''Brien.Team@contoso.com'" {
		t.Errorf("$filter = %q", f)
	}
	if r.Query.Get("$select") != "id" {
		t.Errorf("$select = %q", r.Query.Get("$select"))
	}
	if strings.Contains(r.RawQuery, "+") || strings.Contains(r.RawQuery, " ") {
		t.Errorf("raw query %q: spaces must be %%20", r.RawQuery)
	}
	if _, err := c.GroupByMail(context.Background(), "none@contoso.com"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}
	ten.AddGroup("g-dup", "team@contoso.com")
	if _, err := c.GroupByMail(context.Background(), "team@contoso.com"); !errors.Is(err, graph.ErrAmbiguous) {
		t.Errorf("duplicate mail: %v", err)
	}
}

func TestHasMailbox(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 10)
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "with", UserPrincipalName: "with@contoso.com"}, Mailbox: true})
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "without", UserPrincipalName: "without@contoso.com"}})
	c, _ := newClient(t, ten, nil)
	ctx := context.Background()
	if ok, err := c.HasMailbox(ctx, "with"); err != nil || !ok {
		t.Errorf("with: %v, %v", ok, err)
	}
	if ok, err := c.HasMailbox(ctx, "without@contoso.com"); err != nil || ok {
		t.Errorf("without: %v, %v", ok, err)
	}
	ten.SetMailbox("without", true)
	if ok, err := c.HasMailbox(ctx, "without"); err != nil || !ok {
		t.Errorf("after SetMailbox: %v, %v", ok, err)
	}
	ok, err := c.HasMailbox(ctx, "ghost@contoso.com")
	var ge *graph.Error
	if ok || !errors.Is(err, graph.ErrNotFound) || !errors.As(err, &ge) || ge.Code != "Request_ResourceNotFound" {
		t.Errorf("unknown user: %v, %v", ok, err)
	}
}

// rewriteHost sends requests for host "localhost" to 127.0.0.1.
type rewriteHost struct{ c *http.Client }

func (r rewriteHost) Do(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host = strings.Replace(req.URL.Host, "localhost", "127.0.0.1", 1)
	req.Host = ""
	return r.c.Do(req)
}

func (r rewriteHost) CloseIdleConnections() { r.c.CloseIdleConnections() }

func TestNextLinkToOtherHostRefused(t *testing.T) {
	ten := graphtest.NewTenant(t, testToken, 1)
	addUsers(ten, 2)
	// The client talks to "localhost"; the fake builds its nextLink from
	// the Host it saw (127.0.0.1), so the link points to another host.
	c, _ := newClient(t, ten, func(o *graph.ClientOptions) {
		o.BaseURL = strings.Replace(ten.BaseURL(), "127.0.0.1", "localhost", 1)
		o.HTTP = rewriteHost{ten.Srv.Client()}
	})
	n := 0
	err := c.Users(context.Background(), "", func(graph.User) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "nextLink") || n != 1 {
		t.Fatalf("err = %v after %d users, want the foreign nextLink refused after page 1", err, n)
	}
	if got := ten.Requests.Load(); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestNewValidation(t *testing.T) {
	if _, err := graph.New(graph.ClientOptions{}); !errors.Is(err, graph.ErrInvalidArgument) {
		t.Errorf("nil Tokens: %v", err)
	}
	for _, u := range []string{"ftp://x/v1.0", "/v1.0", "https://graph.microsoft.com/v1.0?x=1"} {
		if _, err := graph.New(graph.ClientOptions{BaseURL: u, Tokens: graphtest.StaticToken("t")}); !errors.Is(err, graph.ErrInvalidArgument) {
			t.Errorf("BaseURL %q: %v", u, err)
		}
	}
	c, err := graph.New(graph.ClientOptions{Tokens: graphtest.StaticToken("t")})
	if err != nil || c.BaseURL() != "https://graph.microsoft.com/v1.0" {
		t.Errorf("default base = %v, %v", c, err)
	}
}
