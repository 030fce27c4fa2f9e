package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/graph/graphtest"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
)

// doctor proves each tenant's app registration with one lookup: PASS when the tenant answers,
// FAIL naming the credential when the authority refuses it.
func TestDoctor_GraphTenants(t *testing.T) {
	const tenant, clientID, secret = "contoso.test", "11111111-2222-4333-8444-555555555555", "right"
	auth := graphtest.NewAuthority(t, tenant, clientID, secret)
	ten := graphtest.NewTenant(t, auth.AccessToken, 10)
	prevHTTP, prevDisc := app.GraphHTTP, app.GraphDisableInstanceDiscovery
	app.GraphHTTP, app.GraphDisableInstanceDiscovery = graphtest.LoopbackOnly(ten.Srv.Client()), true
	t.Cleanup(func() { app.GraphHTTP, app.GraphDisableInstanceDiscovery = prevHTTP, prevDisc })
	cfg := func(pw string) *config.Config {
		t.Setenv("XTM_DOCTOR_GRAPH", pw)
		c := config.Default()
		c.Graph = &config.Graph{AuthorityHost: auth.Srv.URL, URL: ten.Srv.URL, MaxWait: time.Second,
			Source: config.GraphApp{TenantID: tenant, ClientID: clientID, ClientSecret: "${XTM_DOCTOR_GRAPH}"},
			Target: config.GraphApp{TenantID: tenant, ClientID: clientID, ClientSecret: "${XTM_DOCTOR_GRAPH}"}}
		var errs []string
		if err := c.Validate(); err != nil {
			for _, e := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(e, "graph") {
					errs = append(errs, e)
				}
			}
		}
		if len(errs) > 0 {
			t.Fatalf("graph config: %v", errs)
		}
		return &c
	}
	checks := graphChecks(context.Background(), cfg(secret))
	if len(checks) != 2 || !checks[0].OK || !checks[1].OK {
		t.Fatalf("with the right secret: %+v", checks)
	}
	checks = graphChecks(context.Background(), cfg("wrong"))
	if len(checks) != 2 || checks[0].OK || !strings.Contains(checks[0].Fix, "credential") {
		t.Fatalf("with a wrong secret: %+v", checks)
	}
}
