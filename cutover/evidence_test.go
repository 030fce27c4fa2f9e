package cutover_test

import (
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Rule 5 (issue 16): a move is completed only on positive evidence from both tenants: the
// target user has a mailbox and the source user, found and checked by a stable identifier, has
// none. Every other combination is not completed; an unknown answer that could decide is
// reported, never taken as "no mailbox".
func TestMoveCompletedOnlyOnPositiveEvidence_Verdicts(t *testing.T) {
	U, N, H := cutover.Unknown, cutover.NoMailbox, cutover.HasMailbox
	for _, tc := range []struct {
		target, source cutover.Answer
		row            bool   // a row is returned
		status         string // of that row
		completed      bool
		unknown        bool
	}{
		{N, U, false, "", false, false}, // not moved yet: nothing to say, the source is not asked
		{N, N, false, "", false, false},
		{N, H, false, "", false, false},
		{U, U, true, "Unknown", false, true},
		{U, N, true, "Unknown", false, true}, // a source without mailbox is not enough
		{U, H, true, "Unknown", false, true},
		{H, U, true, "Unknown", false, true}, // the bug: a failed source lookup was "completed"
		{H, H, true, "NotCompleted", false, false},
		{H, N, true, "Completed", true, false}, // the only completed move
	} {
		e := cutover.Evidence{SourceDN: "CN=Lara Newton,OU=Staff,DC=contoso,DC=test", Alias: "LaraN", ExchangeGUID: laraGUID,
			Target: cutover.Side{Answer: tc.target, Detail: "target detail", Fix: "target fix"},
			Source: cutover.Side{Answer: tc.source, Detail: "source detail", Fix: "source fix"}}
		c, ok := e.Completion()
		name := "target " + tc.target.String() + ", source " + tc.source.String()
		if ok != tc.row {
			t.Errorf("%s: row %v, want %v", name, ok, tc.row)
			continue
		}
		if !ok {
			continue
		}
		if c.Status != tc.status || c.Completed() != tc.completed || c.Unknown != tc.unknown || !c.HasStatus {
			t.Errorf("%s: %+v (completed %v), want status %s completed %v unknown %v", name, c, c.Completed(), tc.status, tc.completed, tc.unknown)
		}
		if c.ExchangeGUID != laraGUID || c.Identity != e.SourceDN || c.Row != 0 {
			t.Errorf("%s: row %+v does not name the mailbox", name, c)
		}
		if tc.unknown {
			side, fix := "target tenant: target detail", "target fix"
			if tc.target == H {
				side, fix = "source tenant: source detail", "source fix"
			}
			if !strings.Contains(c.Reason, side) || !strings.Contains(c.Reason, fix) {
				t.Errorf("%s: reason %q, want what failed (%s) and what to do (%s)", name, c.Reason, side, fix)
			}
		}
	}
}

// Rule 5: the zero value of an answer is Unknown, so evidence nobody filled in never completes.
func TestMoveCompletedOnlyOnPositiveEvidence_ZeroValueIsUnknown(t *testing.T) {
	var e cutover.Evidence
	e.Target.Answer = cutover.HasMailbox
	if c, ok := e.Completion(); !ok || c.Completed() || !c.Unknown {
		t.Errorf("source never asked: %+v, %v", c, ok)
	}
	if (cutover.Completion{Unknown: true, Status: "Completed", HasStatus: true}).Completed() {
		t.Error("an Unknown row with status Completed counts as completed")
	}
}

// Rule 5: the plan cuts over nothing for an unknown row, reports it by the source object with
// what failed and what to do, and lets it veto a "completed" row for the same mailbox (another
// file of the daemon's completed directory, say).
func TestMoveCompletedOnlyOnPositiveEvidence_UnknownIsReportedNotCutOver(t *testing.T) {
	m, other := lara(), maria()
	in := world(m, other)
	e := cutover.Evidence{SourceDN: m.DN, Alias: m.Alias, ExchangeGUID: guidString(m),
		Target: cutover.Side{Answer: cutover.HasMailbox, Detail: "found"},
		Source: cutover.Side{Answer: cutover.Unknown, Detail: "GET /users/laran@contoso.com: 429 TooManyRequests after 5 attempts",
			Fix: "re-run the cutover later"}}
	row, _ := e.Completion()
	in.Completed = append([]cutover.Completion{row}, completed(m, other)...)
	p := cutover.Plan(in, opts())
	if c := change(p, plan.ForestTarget, m.DN); c != nil {
		t.Errorf("cut over %s on an unknown outcome: %+v", m.Alias, c)
	}
	if c := change(p, plan.ForestTarget, other.DN); c == nil {
		t.Errorf("the other, completed, mailbox was not cut over: %+v", p.Changes)
	}
	w := warnings(p, "completion_unknown")
	if len(w) != 1 || w[0].Object != m.DN || !strings.Contains(w[0].Message, "LaraN") ||
		!strings.Contains(w[0].Message, "429") || !strings.Contains(w[0].Message, "re-run the cutover later") {
		t.Errorf("warnings %+v, want one completion_unknown naming %s, the 429 and the fix", p.Warnings, m.DN)
	}
}

// Rule 5: a target with a mailbox while the source still has one is not completed, and says so.
func TestMoveCompletedOnlyOnPositiveEvidence_BothMailboxesIsNotCompleted(t *testing.T) {
	m := lara()
	in := world(m)
	row, _ := cutover.Evidence{SourceDN: m.DN, ExchangeGUID: guidString(m),
		Target: cutover.Side{Answer: cutover.HasMailbox}, Source: cutover.Side{Answer: cutover.HasMailbox, Detail: "mailboxSettings 200"}}.Completion()
	in.Completed = []cutover.Completion{row}
	p := cutover.Plan(in, opts())
	if len(p.Changes) != 0 {
		t.Errorf("planned %+v", p.Changes)
	}
	if w := warnings(p, "completion_not_completed"); len(w) != 1 || w[0].Object != m.DN || !strings.Contains(w[0].Message, "licensed before") {
		t.Errorf("warnings %+v", p.Warnings)
	}
}
