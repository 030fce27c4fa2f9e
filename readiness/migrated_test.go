package readiness_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// movedTarget is the prepared MailUser of m after its move completed and cutover ran: a remote
// user mailbox, migrated (msExchRemoteRecipientType 4).
func movedTarget(t *testing.T, m directory.Mailbox) *directory.Entry {
	t.Helper()
	e := prepared(t, m)
	e.Set(directory.AttrRecipientTypeDetails, "2147483648")
	e.Set(directory.AttrRemoteRecipientType, "4")
	return e
}

// Issue 16 rule 6: a mailbox whose target is already the remote mailbox cutover made of its
// MailUser is migrated: no findings (not TARGET-IS-MAILBOX), not counted as blocked, its target
// named; and this holds after the cloud checks, which would otherwise see "a mailbox exists".
// A target that is a mailbox for another reason still blocks.
func TestEvaluate_MigratedIsNotBlocked(t *testing.T) {
	moved, onprem, stranger, ready := lara(), src("Maria Lopez", "MariaL", "maria.lopez"), src("anton Berg", "AntonB", "anton.berg"), src("Zoe Adams", "ZoeA", "zoe.adams")
	moved.Scope = ldapsrc.ScopeNone // out of the scope group now: irrelevant once moved
	moved.ELCMailboxFlags = "8"     // on hold now: irrelevant once moved
	moved.PublicDelegates = []string{ready.DN}
	tm, to, ts := movedTarget(t, moved), prepared(t, onprem), movedTarget(t, stranger)
	to.Set(directory.AttrRecipientTypeDetails, "1")                           // an on-premises mailbox in the target forest
	ts.Set(directory.AttrMailboxGUID, "0f0e0d0c-0b0a-4908-8706-050403020100") // a remote mailbox of someone else
	scope := &directory.Scope{Mailboxes: []directory.Mailbox{moved, onprem, stranger, ready}}
	rep := evaluate(scope, tm, to, ts, prepared(t, ready))

	byAlias := map[string]readiness.Result{}
	for _, r := range rep.Mailboxes {
		byAlias[r.Alias] = r
	}
	m := byAlias["LaraN"]
	if m.Verdict != readiness.Migrated || len(m.Findings) != 0 {
		t.Errorf("moved mailbox: %s %v, want migrated without findings", m.Verdict, checksOf(m))
	}
	if !strings.EqualFold(m.TargetDN, tm.DN) || m.TargetAddress == "" || len(m.Links) != 1 {
		t.Errorf("moved mailbox: target %q address %q links %v; want its target, address and delegate", m.TargetDN, m.TargetAddress, m.Links)
	}
	if r := byAlias["MariaL"]; r.Verdict != readiness.Blocked || !slices.Contains(checksOf(r), readiness.TargetIsMailbox) {
		t.Errorf("on-premises mailbox in the target: %s %v, want blocked by %s", r.Verdict, checksOf(r), readiness.TargetIsMailbox)
	}
	if r := byAlias["AntonB"]; r.Verdict != readiness.Blocked {
		t.Errorf("someone else's remote mailbox: %s %v, want blocked", r.Verdict, checksOf(r))
	}
	if r := byAlias["ZoeA"]; r.Verdict != readiness.Ready {
		t.Errorf("clean mailbox: %s %v", r.Verdict, checksOf(r))
	}
	want := readiness.Summary{Total: 4, Ready: 1, Blocked: 2, Migrated: 1}
	if rep.Summary != want {
		t.Errorf("summary %+v, want %+v", rep.Summary, want)
	}
	for _, c := range rep.Checks {
		if c.ID == readiness.TargetIsMailbox && c.Failed != 1 {
			t.Errorf("%s failed %d, want 1 (the moved mailbox is not counted)", c.ID, c.Failed)
		}
	}

	// The tenants: the moved target has a mailbox (that is the point), the source none.
	k := strings.ToLower(moved.DN)
	readiness.ApplyCloud(rep, &readiness.Cloud{
		Target: map[string]readiness.CloudUser{k: {Asked: true, Found: true, Synced: true, HasMailbox: true, ExchangePlan: "EXCHANGE_S_ENTERPRISE"}},
		Source: map[string]readiness.CloudUser{k: {Asked: true, Found: true}},
	})
	for _, r := range rep.Mailboxes {
		if r.Alias == "LaraN" && (r.Verdict != readiness.Migrated || len(r.Findings) != 0) {
			t.Errorf("after the cloud checks: %s %v, want migrated without findings", r.Verdict, checksOf(r))
		}
	}
	if rep.Summary != want {
		t.Errorf("summary after the cloud checks %+v, want %+v", rep.Summary, want)
	}

	// Every output lists it as migrated.
	var js bytes.Buffer
	if err := readiness.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Summary   map[string]int `json:"summary"`
		Mailboxes []struct {
			Alias, Verdict string
			TargetDN       string `json:"target_dn"`
		} `json:"mailboxes"`
	}
	if err := json.Unmarshal(js.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Summary["migrated"] != 1 || raw.Summary["blocked"] != 2 {
		t.Errorf("JSON summary %v", raw.Summary)
	}
	for _, r := range raw.Mailboxes {
		if r.Alias == "LaraN" && (r.Verdict != "migrated" || r.TargetDN == "") {
			t.Errorf("JSON row %+v", r)
		}
	}
	var cs bytes.Buffer
	if err := readiness.WriteCSV(&cs, rep); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cs).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int { return slices.Index(readiness.CSVHeader, name) }
	var rows [][]string
	for _, r := range recs[1:] {
		if r[col("alias")] == "LaraN" {
			rows = append(rows, r)
		}
	}
	if len(rows) != 1 || rows[0][col("verdict")] != "migrated" || rows[0][col("check")] != "" {
		t.Errorf("CSV rows of the moved mailbox %q, want one migrated row without a check", rows)
	}
	var txt bytes.Buffer
	if err := readiness.WriteText(&txt, rep, false); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	if !strings.HasPrefix(out, "xtmsyncd validate: 4 mailboxes: 1 ready, 0 with warnings, 2 blocked, 1 migrated") ||
		!strings.Contains(out, "1 migrated (already moved, listed with --all)") || strings.Contains(out, moved.DN) {
		t.Errorf("text without all:\n%s", out)
	}
	txt.Reset()
	if err := readiness.WriteText(&txt, rep, true); err != nil {
		t.Fatal(err)
	}
	if l := lineWith(txt.String(), "migrated LaraN"); !strings.Contains(l, moved.DN) {
		t.Errorf("text with all: no migrated line for LaraN:\n%s", txt.String())
	}
}
