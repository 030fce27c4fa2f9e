package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/graph"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
)

func (m *Main) doctor(ctx context.Context, args []string) error {
	fs := newFlags("doctor")
	path := configFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	checks := append(doctor.Run(ctx, c, nil), graphChecks(ctx, c)...)
	for _, ch := range checks {
		status := "PASS"
		if !ch.OK {
			status = "FAIL"
		}
		fmt.Fprintf(m.Stdout, "%s  %s", status, ch.Name)
		if ch.Detail != "" {
			fmt.Fprintf(m.Stdout, " (%s)", ch.Detail)
		}
		fmt.Fprintln(m.Stdout)
		if ch.Fix != "" {
			fmt.Fprintf(m.Stdout, "      fix: %s\n", ch.Fix)
		}
	}
	if doctor.Failed(checks) {
		return exitError{ExitError}
	}
	return nil
}

// graphChecks asks each tenant for a user that does not exist: a 404 proves the token, the
// endpoint and the read permission; 401 and 403 say which to fix.
func graphChecks(ctx context.Context, c *config.Config) []doctor.Check {
	if c.Graph == nil {
		return nil
	}
	t, err := app.NewTenants(c)
	if err != nil {
		return []doctor.Check{{Name: "graph: app registrations", Detail: err.Error(), Fix: "check graph.source and graph.target in the config"}}
	}
	var out []doctor.Check
	for _, x := range []struct {
		name string
		c    *graph.Client
		app  config.GraphApp
	}{{"source", t.Source, c.Graph.Source}, {"target", t.Target, c.Graph.Target}} {
		ch := doctor.Check{Name: fmt.Sprintf("graph: %s tenant %s answers app %s", x.name, x.app.TenantID, x.app.ClientID)}
		_, err := x.c.User(ctx, "xtmsyncd-doctor-probe@"+x.app.TenantID)
		switch {
		case err == nil || errors.Is(err, graph.ErrNotFound):
			ch.OK = true
		case errors.Is(err, graph.ErrToken) || errors.Is(err, graph.ErrUnauthorized):
			ch.Detail, ch.Fix = err.Error(), "the tenant refused the app's credential: check tenant_id, client_id and the secret or certificate"
		case errors.Is(err, graph.ErrForbidden):
			ch.Detail, ch.Fix = err.Error(), "grant the app the application permissions User.Read.All, Group.Read.All and MailboxSettings.Read, with admin consent"
		default:
			ch.Detail, ch.Fix = err.Error(), "check graph.url, graph.authority_host and the network path to them"
		}
		out = append(out, ch)
	}
	return out
}
