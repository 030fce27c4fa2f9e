package ldaptest

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
)

// SyncConfig returns the demo mapping wired to the two test directories, with the given scope
// group and target OU and a journal in a temporary folder.
func SyncConfig(t testing.TB, src, tgt *Dir, scopeGroup, targetOU string) *config.Config {
	t.Helper()
	c := config.Default()
	c.Source = src.Config
	c.Target.Directory = tgt.Config
	c.Target.OU = targetOU
	c.Scope.Group = scopeGroup
	m := &c.Mapping
	m.SourceRoutingDomain = "contoso.mail.onmicrosoft.com"
	m.SourceDomains = []string{"contoso.com", "contoso.co.uk", "contoso-sales.com", "contoso.onmicrosoft.com", "contoso.mail.onmicrosoft.com"}
	m.TargetPrimaryDomain = "northwind.com"
	m.TargetDeliveryDomain = "northwindtraders.mail.onmicrosoft.com"
	m.TargetUPNSuffix = "northwind.com"
	m.AcceptedDomains = []string{"northwind.com", "northwind.co.uk", "northwindtraders.onmicrosoft.com", "northwindtraders.mail.onmicrosoft.com"}
	m.DomainMap = map[string]string{"contoso.co.uk": "northwind.co.uk"}
	dir := t.TempDir()
	c.Journal.Path = filepath.Join(dir, "journal.db")
	c.Service.ReportsDir = filepath.Join(dir, "reports")
	c.Service.CompletedDir = filepath.Join(dir, "completed")
	return &c
}

// Synthetic loads n synthetic mailboxes and their scope group into a temporary source OU, and
// returns them with an empty temporary target OU.
func Synthetic(t testing.TB, src, tgt *Dir, n int) (synth.Options, string) {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	o := synth.Options{N: n, OU: src.TempOU(t, "xtm-src"), Tag: hex.EncodeToString(b), ArchiveEvery: 2}
	if err := synth.Load(src.Conn, synth.Requests(o)); err != nil {
		t.Fatal(err)
	}
	return o, tgt.TempOU(t, "xtm-tgt")
}
