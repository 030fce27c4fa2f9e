package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// Issue 16 rule 8 on the Samba forests, with the default limits (max_changes 500,
// max_change_percent 30): the first sync creates 100% of a 20-mailbox scope and passes; renaming
// 3 sources (15%) passes; renaming 15 (75%) is refused as ErrUnsafePlan with both measures and
// their numbers, journaled as refused, nothing written; --allow-large-plan writes it.
func TestLimits_MaxChangePercentOnSamba(t *testing.T) {
	const n = 20
	w, o := synthetic(t, n)
	if w.cfg.Limits.MaxChangePercent != 30 || w.cfg.Limits.MaxChanges != 500 {
		t.Fatalf("limits %+v, want the defaults 500 and 30%%", w.cfg.Limits)
	}
	p1, res1 := w.sync(t) // fatal if refused
	if p1.Summary.Create != n || res1.Applied != n {
		t.Fatalf("first sync: plan %+v, applied %d; want %d creates written", p1.Summary, res1.Applied, n)
	}
	target := map[string]string{}
	for _, c := range p1.Writable() {
		target[strings.ToLower(c.Source)] = c.DN
	}
	rename := func(from, to int, name string) {
		for i := from; i < to; i++ {
			modify(t, w.src, o.UserDN(i), func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{name + " " + o.Alias(i)}) })
		}
	}

	rename(0, 3, "Small")
	if p, res := w.sync(t); p.Summary.Update != 3 || res.Applied != 3 {
		t.Fatalf("3 of %d renamed: plan %+v, applied %d", n, p.Summary, res.Applied)
	}

	rename(0, 15, "Mass")
	r, p := w.plan(t)
	if p.Summary.Update != 15 {
		t.Fatalf("15 renamed: plan %+v", p.Summary)
	}
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	if !errors.Is(err, directory.ErrUnsafePlan) {
		t.Fatalf("apply of 15 updates of 20: %v, want ErrUnsafePlan", err)
	}
	for _, want := range []string{"the plan writes 15 objects, within limits.max_changes 500",
		"it changes 15 of 20 objects in scope (75%", "above limits.max_change_percent 30%", "--allow-large-plan"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if run, _ := w.j.Run(context.Background(), res.RunID); run.Outcome != journal.OutcomeRefused {
		t.Errorf("journal outcome %q, want refused", run.Outcome)
	}
	if got := read(t, w.tgt, target[strings.ToLower(o.UserDN(10))]).GetAttributeValue("displayName"); strings.HasPrefix(got, "Mass") {
		t.Errorf("a refused plan was written: displayName %q", got)
	}
	res2, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{AllowLarge: true})
	if err != nil || res2.Applied != 15 {
		t.Errorf("with --allow-large-plan: applied %d, %v", res2.Applied, err)
	}
}
