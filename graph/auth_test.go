package graph_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
)

const (
	tenantID = "0b2f4c1e-7d7a-4c3e-9a53-0c6f1d2e3a4b"
	clientID = "5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	secret   = "s3cret-value-never-printed"
)

// appOptions returns AppOptions pointing at the fake authority.
func appOptions(aad *graphtest.Authority, cred graph.Credential) graph.AppOptions {
	return graph.AppOptions{
		AuthorityHost:            aad.Srv.URL,
		TenantID:                 aad.Tenant,
		ClientID:                 aad.ClientID,
		Credential:               cred,
		HTTP:                     graphtest.LoopbackOnly(aad.Srv.Client()),
		DisableInstanceDiscovery: true,
	}
}

func TestNewAppSecretTokenCached(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, secret)
	ts, err := graph.NewApp(appOptions(aad, graph.Credential{Secret: secret}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tok, err := ts.Token(context.Background())
		if err != nil {
			t.Fatalf("Token #%d: %v", i, err)
		}
		if tok != aad.AccessToken {
			t.Fatalf("token = %q, want %q", tok, aad.AccessToken)
		}
	}
	if n := aad.TokenRequests.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (MSAL cache)", n)
	}
	if s := aad.LastScope(); !strings.Contains(s, "https://graph.microsoft.com/.default") {
		t.Errorf("scope = %q, want the default Graph scope", s)
	}
}

func TestNewAppCertificate(t *testing.T) {
	for _, pkcs1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("pkcs1=%v", pkcs1), func(t *testing.T) {
			aad := graphtest.NewAuthority(t, tenantID, clientID, "")
			pemBytes, cert := graphtest.NewCertPEM(t, pkcs1)
			aad.TrustCert(cert)
			ts, err := graph.NewApp(appOptions(aad, graph.Credential{CertPEM: pemBytes}))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := ts.Token(context.Background()); err != nil {
					t.Fatalf("Token: %v", err)
				}
			}
			if n := aad.TokenRequests.Load(); n != 1 {
				t.Errorf("token requests = %d, want 1", n)
			}
		})
	}
}

func TestNewAppUntrustedCertificate(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, "")
	_, trusted := graphtest.NewCertPEM(t, false)
	aad.TrustCert(trusted)
	other, _ := graphtest.NewCertPEM(t, false)
	ts, err := graph.NewApp(appOptions(aad, graph.Credential{CertPEM: other}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(context.Background()); !errors.Is(err, graph.ErrToken) {
		t.Fatalf("err = %v, want ErrToken", err)
	}
}

func TestNewAppBadSecret(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, secret)
	const wrong = "wrong-secret-value-XYZ"
	ts, err := graph.NewApp(appOptions(aad, graph.Credential{Secret: wrong}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(context.Background())
	if !errors.Is(err, graph.ErrToken) {
		t.Fatalf("err = %v, want ErrToken", err)
	}
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil || ce.Resp.StatusCode != 401 {
		t.Errorf("want an MSAL CallErr with status 401 in the chain, got %T %v", err, err)
	}
	if msg := err.Error(); strings.Contains(msg, wrong) || strings.Contains(msg, secret) {
		t.Errorf("error message leaks a secret: %s", msg)
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("error should carry the AADSTS code: %v", err)
	}
}

func TestNewAppFail401(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, secret)
	aad.Fail401.Store(true)
	ts, err := graph.NewApp(appOptions(aad, graph.Credential{Secret: secret}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(context.Background()); !errors.Is(err, graph.ErrToken) {
		t.Fatalf("err = %v, want ErrToken", err)
	}
	aad.Fail401.Store(false)
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatalf("after Fail401 cleared: %v", err)
	}
}

func TestNewAppInstanceDiscoveryIsRefusedOffline(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, secret)
	o := appOptions(aad, graph.Credential{Secret: secret})
	o.DisableInstanceDiscovery = false // production default
	ts, err := graph.NewApp(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("err = %v, want the loopback guard to refuse instance discovery", err)
	}
	if n := aad.TokenRequests.Load(); n != 0 {
		t.Errorf("token requests = %d, want 0", n)
	}
}

func TestNewAppValidation(t *testing.T) {
	pemBytes, _ := graphtest.NewCertPEM(t, false)
	cases := map[string]graph.AppOptions{
		"no tenant":       {ClientID: clientID, Credential: graph.Credential{Secret: secret}},
		"tenant w/ slash": {TenantID: "a/b", ClientID: clientID, Credential: graph.Credential{Secret: secret}},
		"no client":       {TenantID: tenantID, Credential: graph.Credential{Secret: secret}},
		"no credential":   {TenantID: tenantID, ClientID: clientID},
		"both":            {TenantID: tenantID, ClientID: clientID, Credential: graph.Credential{Secret: secret, CertPEM: pemBytes}},
		"bad pem":         {TenantID: tenantID, ClientID: clientID, Credential: graph.Credential{CertPEM: []byte("junk")}},
		"http authority":  {AuthorityHost: "http://login.example", TenantID: tenantID, ClientID: clientID, Credential: graph.Credential{Secret: secret}},
		"authority path":  {AuthorityHost: "https://login.example/x", TenantID: tenantID, ClientID: clientID, Credential: graph.Credential{Secret: secret}},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := graph.NewApp(o)
			if !errors.Is(err, graph.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestCredentialRedacted(t *testing.T) {
	o := graph.AppOptions{TenantID: tenantID, Credential: graph.Credential{Secret: secret, CertPEM: []byte("-----BEGIN PRIVATE KEY-----")}}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprint(o.Credential.LogValue())} {
		if strings.Contains(s, secret) || strings.Contains(s, "PRIVATE KEY") {
			t.Errorf("formatted options leak the credential: %s", s)
		}
	}
}

func TestAppAndClientEndToEnd(t *testing.T) {
	aad := graphtest.NewAuthority(t, tenantID, clientID, secret)
	ten := graphtest.NewTenant(t, aad.AccessToken, 2)
	ten.AddUser(graphtest.FakeUser{User: graph.User{ID: "u1", UserPrincipalName: "a@contoso.com"}, Mailbox: true})
	ts, err := graph.NewApp(appOptions(aad, graph.Credential{Secret: secret}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.ClientOptions{BaseURL: ten.BaseURL(), Tokens: ts, HTTP: graphtest.LoopbackOnly(ten.Srv.Client())})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := c.User(ctx, "a@contoso.com"); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := c.HasMailbox(ctx, "u1"); err != nil || !ok {
		t.Fatalf("HasMailbox = %v, %v", ok, err)
	}
	if n := aad.TokenRequests.Load(); n != 1 {
		t.Errorf("token requests = %d for 4 Graph calls, want 1", n)
	}
	if n := ten.Requests.Load(); n != 4 {
		t.Errorf("graph requests = %d, want 4", n)
	}
}
