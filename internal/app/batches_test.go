package app_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// TestBatches_DemoDelegatesShareAFile syncs the demo forest, validates it and writes batches of
// at most 4: every ready mailbox lands in exactly one file, no file is larger, delegation pairs
// (publicDelegates and msExchDelegateListLink, transitively) share a file, blocked mailboxes are
// left out with their reason, and each CSV has the target addresses under EmailAddress.
func TestBatches_DemoDelegatesShareAFile(t *testing.T) {
	w := newWorld(t, ldaptest.DemoScopeGroup, ldaptest.DemoTargetOU)
	w.tgt.ResetDemoTarget(t)
	w.sync(t)
	rep := validate(t, w)
	res, err := app.Batches(rep, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := batch.WriteFiles(dir, res); err != nil {
		t.Fatal(err)
	}
	fileOf := map[string]string{} // target address -> file
	for _, b := range res.Batches {
		f, err := os.Open(filepath.Join(dir, b.Name+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0] != "EmailAddress" || len(rows)-1 > 4 || len(rows) < 2 {
			t.Errorf("%s: header %q and %d rows", b.Name, rows[0], len(rows)-1)
		}
		for _, r := range rows[1:] {
			if _, dup := fileOf[strings.ToLower(r[0])]; dup {
				t.Errorf("%s in two files", r[0])
			}
			if !strings.HasSuffix(strings.ToLower(r[0]), "@northwind.com") {
				t.Errorf("%s: not a target tenant address", r[0])
			}
			fileOf[strings.ToLower(r[0])] = b.Name
		}
	}
	for _, m := range rep.Mailboxes {
		_, in := fileOf[strings.ToLower(m.TargetAddress)]
		switch {
		case m.Verdict == readiness.Ready && !in:
			t.Errorf("ready %s is in no file", m.Alias)
		case m.Verdict == readiness.Blocked && in:
			t.Errorf("blocked %s is in a file", m.Alias)
		case m.Verdict == readiness.Blocked && !slices.ContainsFunc(res.Excluded, func(x batch.Excluded) bool { return x.ID == m.Source && x.Reason != "" }):
			t.Errorf("blocked %s is not listed with a reason", m.Alias)
		}
	}
	same := func(a, b string) {
		t.Helper()
		fa, fb := fileOf[a+"@northwind.com"], fileOf[b+"@northwind.com"]
		if fa == "" || fa != fb {
			t.Errorf("%s (%q) and %s (%q) should share a file", a, fa, b, fb)
		}
	}
	same("diane.duncan", "ethan.ellis")   // publicDelegates
	same("fiona.foster", "george.grant")  // msExchDelegateListLink
	same("alice.alvarez", "brian.brooks") // a chain ...
	same("brian.brooks", "chloe.cooper")  // ... kept whole
	same("salesdesk", "ben.chen")         // full access on a shared mailbox
	same("salesdesk", "hana.kim")
}
