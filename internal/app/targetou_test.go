package app_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
)

// A target.ou that holds a domain controller is refused before any command can plan or write
// in it, not only by doctor.
func TestBuild_RefusesATargetOUHoldingADomainController(t *testing.T) {
	w, _ := synthetic(t, 1)
	r, err := app.Build(context.Background(), w.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a clean OU: %v", err)
	}
	r.Close()
	req := ldap.NewAddRequest("CN=DC-XTM7,"+w.cfg.Target.OU, nil)
	req.Attribute("objectClass", []string{"computer"})
	req.Attribute("sAMAccountName", []string{"DC-XTM7$"})
	req.Attribute("userAccountControl", []string{"8192"})
	if err := w.tgt.Conn.Add(req); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Build(context.Background(), w.cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, doctor.ErrUnsafeOU) {
		t.Fatalf("an OU holding a DC: %v, want ErrUnsafeOU", err)
	}
}
