package app_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// objectGUIDs returns the objectGUIDs of the MailUsers in the world's target OU.
func (w *world) objectGUIDs(t *testing.T) map[string]bool {
	t.Helper()
	res, err := w.tgt.Conn.Search(ldap.NewSearchRequest(w.cfg.Target.OU, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{directory.AttrObjectGUID}, nil))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range res.Entries {
		g, _ := directory.GUIDFromAD(e.GetRawAttributeValue(directory.AttrObjectGUID))
		out[g.String()] = true
	}
	return out
}

func (w *world) rollback(t *testing.T, run int64) (*plan.Plan, engine.Result, error) {
	t.Helper()
	r := w.rig(t)
	p, err := r.PlanRollback(context.Background(), w.j, run)
	if err != nil {
		return nil, engine.Result{}, err
	}
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "rollback", Actor: "test", ParentRunID: run}, p, engine.Options{})
	if err != nil && !errors.Is(err, engine.ErrPartial) {
		t.Fatalf("rollback %d: %v", run, err)
	}
	return p, res, nil
}

// Rollback by identity: run 1 is rolled back; another journal's sync creates the same
// MailUsers again (identical values, new objectGUIDs); a second rollback of run 1 is refused,
// and even with the refusal out of the way (objects deleted by hand and re-created) rollback
// touches none of them: they are not the objects run 1 wrote.
func TestRollback_ObjectsRecreatedByAnotherJournalSurvive(t *testing.T) {
	const n = 12
	w, _ := synthetic(t, n)
	_, res := w.sync(t)
	if res.Applied != n {
		t.Fatalf("first sync: %+v", res)
	}
	first := w.objectGUIDs(t)
	if _, rb, err := w.rollback(t, res.RunID); err != nil || rb.Applied != n || len(w.objectGUIDs(t)) != 0 {
		t.Fatalf("rollback of run %d: %+v, %v; %d objects left", res.RunID, rb, err, len(w.objectGUIDs(t)))
	}

	other := *w
	other.cfg = func() *config.Config { c := *w.cfg; c.Journal.Path = filepath.Join(t.TempDir(), "other.db"); return &c }()
	oj, err := app.OpenJournal(context.Background(), other.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer oj.Close()
	other.j = oj
	if _, res2 := other.sync(t); res2.Applied != n {
		t.Fatalf("the other journal's sync: %+v", res2)
	}
	again := w.objectGUIDs(t)
	for g := range again {
		if first[g] {
			t.Fatalf("Samba reused objectGUID %s", g)
		}
	}
	_, _, err = w.rollback(t, res.RunID)
	if !errors.Is(err, app.ErrAlreadyRolledBack) || !strings.Contains(err.Error(), "journal show") {
		t.Fatalf("second rollback of run %d: %v, want ErrAlreadyRolledBack", res.RunID, err)
	}
	if got := w.objectGUIDs(t); len(got) != n {
		t.Fatalf("the refused rollback deleted %d objects", n-len(got))
	}

	// A third journal: run 1 there created the objects; they are deleted by hand and another
	// journal re-creates them. Rollback of run 1 must not take the new ones for its own.
	w3, _ := synthetic(t, n)
	_, r1 := w3.sync(t)
	for _, c := range mustChanges(t, w3.j, r1.RunID) {
		if err := w3.tgt.Conn.Del(ldap.NewDelRequest(c.DN, nil)); err != nil {
			t.Fatal(err)
		}
	}
	other3 := *w3
	other3.cfg = func() *config.Config {
		c := *w3.cfg
		c.Journal.Path = filepath.Join(t.TempDir(), "other3.db")
		return &c
	}()
	if other3.j, err = app.OpenJournal(context.Background(), other3.cfg); err != nil {
		t.Fatal(err)
	}
	defer other3.j.Close()
	other3.sync(t)
	p, rb, err := w3.rollback(t, r1.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Applied != 0 || p.Summary.Delete != 0 || p.Summary.Conflict != n || len(w3.objectGUIDs(t)) != n {
		t.Fatalf("rollback of objects re-created by another journal: %+v, summary %+v, %d objects left", rb, p.Summary, len(w3.objectGUIDs(t)))
	}
	for _, c := range p.Changes {
		if c.Reason != "not_the_same_object" || len(c.Problems) != 1 || c.Problems[0].Fix == "" {
			t.Errorf("%s: %s %+v, want not_the_same_object with a fix", c.DN, c.Reason, c.Problems)
		}
	}
}

func mustChanges(t *testing.T, j *journal.Store, run int64) []journal.Change {
	t.Helper()
	cs, err := j.Changes(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Writes whose answers were lost (outcome unknown) but that the directory took are rolled back:
// recovery reads each object, proves the write happened (the run's values, created within the
// write's window), journals it applied with its objectGUID, and the rollback deletes it.
func TestRollback_OutcomeUnknownWritesThatHappenedAreUndone(t *testing.T) {
	const n = 48
	w, _ := synthetic(t, n)
	proxy := ldaptest.NewProxy(t, w.tgt)
	w.cfg.Target.URL = proxy.Config(w.tgt).URL
	w.cfg.Target.Timeout = 2 * time.Second

	r, p := w.plan(t)
	var once sync.Once
	r.Engine.Progress = func(done, total int) {
		if done >= 8 {
			once.Do(proxy.Mute)
		}
	}
	res, _ := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	cs := mustChanges(t, w.j, res.RunID)
	unknown := 0
	for _, c := range cs {
		if c.Status == journal.StatusUnknown {
			unknown++
		}
	}
	if unknown == 0 {
		t.Fatalf("no write of unknown outcome: %+v", res)
	}
	written := w.objectGUIDs(t)
	t.Logf("run %d: %d applied, %d unknown; %d objects in the OU", res.RunID, res.Applied, unknown, len(written))

	proxy.Unmute() // the DC answers again
	rp, rb, err := w.rollback(t, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mustChanges(t, w.j, res.RunID) {
		switch {
		case c.Status == journal.StatusUnknown || c.Status == journal.StatusPending:
			t.Errorf("change %d (%s) still %s after recovery: %s", c.ID, c.DN, c.Status, c.Resolution)
		case c.Resolution != "" && c.Status == journal.StatusApplied && c.ObjectGUID == "":
			t.Errorf("change %d settled applied without its objectGUID", c.ID)
		}
	}
	if left := w.objectGUIDs(t); len(left) != 0 {
		t.Errorf("%d of the %d objects the run wrote survived its rollback (plan %+v, result %+v)", len(left), len(written), rp.Summary, rb)
	}
}
