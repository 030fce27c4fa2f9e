// Package graphtest holds offline test doubles for package graph: a
// loopback-only HTTP client, a fake Entra authority (discovery and token
// endpoints) and a fake Microsoft Graph v1.0 tenant, each on an httptest
// TLS server. It is an ordinary package so other packages' tests can use it;
// do not import it from production code.
//
// Typical wiring:
//
//	aad := graphtest.NewAuthority(t, "tenant-guid", "client-id", "s3cret")
//	ten := graphtest.NewTenant(t, aad.AccessToken, 2)
//	ts, _ := graph.NewApp(graph.AppOptions{AuthorityHost: aad.Srv.URL, TenantID: aad.Tenant,
//		ClientID: aad.ClientID, Credential: graph.Credential{Secret: aad.Secret},
//		HTTP: graphtest.LoopbackOnly(aad.Srv.Client()), DisableInstanceDiscovery: true})
//	c, _ := graph.New(graph.ClientOptions{BaseURL: ten.BaseURL(), Tokens: ts,
//		HTTP: graphtest.LoopbackOnly(ten.Srv.Client())})
//
// Both servers use httptest's certificate, so either server's Client()
// trusts the other.
package graphtest
