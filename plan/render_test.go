package plan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const renderOU = "OU=Cross-Tenant,OU=Northwind,DC=northwind,DC=test"

// fixedPlan has one change of every action, an incremental proxyAddresses change, a removal,
// a multi-valued replace and warnings, with a fixed timestamp.
func fixedPlan() *plan.Plan {
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Kind:          "sync",
		GeneratedAt:   time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC),
		DryRun:        true,
		Source:        "ldaps://dc1.contoso.test DC=contoso,DC=test",
		Target:        renderOU,
		Changes: []plan.Change{
			{Action: plan.Create, Key: "2d11ddf7-cc1e-4769-8214-72e43234cd63", Source: "CN=Anna Berg,OU=Staff,OU=Contoso,DC=contoso,DC=test",
				DN: "CN=Anna Berg," + renderOU, Attrs: []plan.AttrChange{
					{Name: "cn", After: []string{"Anna Berg"}},
					{Name: "msExchMailboxGuid", After: []string{"2d11ddf7-cc1e-4769-8214-72e43234cd63"}},
					{Name: "objectClass", After: []string{"user"}},
					{Name: "proxyAddresses", After: []string{"SMTP:anna.berg@northwind.com", "smtp:aberg@northwindtraders.mail.onmicrosoft.com"}},
				}},
			{Action: plan.Update, Key: "eebbe14e-6682-42d5-8ee6-9cde14f4482b", Source: "CN=Maria Lopez,OU=Staff,OU=Contoso,DC=contoso,DC=test",
				DN: "CN=Maria Lopez," + renderOU, ObjectGUID: "0b6a1f0e-1111-4222-8333-444455556666", Attrs: []plan.AttrChange{
					{Name: "displayName", Before: []string{"Maria L."}, After: []string{"Maria Lopez"}},
					{Name: "msExchRemoteRecipientType", Before: []string{"4"}},
					{Name: "otherTelephone", Before: []string{"1"}, After: []string{"1", "2"}},
					{Name: "proxyAddresses",
						Before: []string{"SMTP:maria.lopez@northwind.com", "smtp:mlopez@contoso.com"},
						Delete: []string{"smtp:mlopez@contoso.com"},
						Add:    []string{"x500:/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=mlopez"}},
				}},
			{Action: plan.Delete, Key: "e6560f50-8b85-421d-a4fd-08b8f2dbfc6c", Source: "CN=Chloe Cooper,OU=Staff,OU=Contoso,DC=contoso,DC=test",
				DN: "CN=Chloe Cooper," + renderOU, ObjectGUID: "11111111-2222-4333-8444-555555555555"},
			{Action: plan.Conflict, Key: "167e7955-dab8-4aa9-800d-6bcc2cb9c329", Source: "CN=John Smith,OU=Staff,OU=Contoso,DC=contoso,DC=test",
				Reason: "alias_in_use", Problems: []mapper.Problem{{Code: "alias_in_use", Object: "CN=John Smith,OU=Staff,OU=Northwind,DC=northwind,DC=test",
					Attribute: "mailNickname", Found: "jsmith", Fix: "give the source mailbox another alias"}}},
			{Action: plan.Invalid, Source: "CN=Tom Blank,OU=Staff,OU=Contoso,DC=contoso,DC=test", Reason: "missing_exchange_guid",
				Problems: []mapper.Problem{{Code: "missing_exchange_guid", Object: "CN=Tom Blank,OU=Staff,OU=Contoso,DC=contoso,DC=test",
					Fix: "set msExchMailboxGuid on the source"}}},
			{Action: plan.Unchanged, Key: "ee03a792-c908-4aa2-8977-bd0568784a2f", Source: "CN=Ben Chen,OU=Staff,OU=Contoso,DC=contoso,DC=test",
				DN: "CN=Ben Chen," + renderOU},
		},
		Warnings: []plan.Warning{
			{Code: "nested_group", Object: "CN=XTM-Wave2,OU=Groups,OU=Contoso,DC=contoso,DC=test", Message: "a nested group in the scope group"},
		},
	}
	for _, c := range p.Changes {
		p.Summary.Add(c.Action)
	}
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (re-run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteText_Golden(t *testing.T) {
	for _, tc := range []struct {
		file string
		opt  plan.TextOptions
	}{
		{"plan.txt.golden", plan.TextOptions{}},
		{"plan-unchanged.txt.golden", plan.TextOptions{Unchanged: true}},
		{"plan-color.txt.golden", plan.TextOptions{Color: true, Unchanged: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := plan.WriteText(&b, fixedPlan(), tc.opt); err != nil {
				t.Fatalf("WriteText: %v", err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestWriteJSON_Golden(t *testing.T) {
	var b bytes.Buffer
	if err := plan.WriteJSON(&b, fixedPlan()); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	golden(t, "plan.json.golden", b.Bytes())
}

func TestWriteText_NoColorHasNoANSI(t *testing.T) {
	for _, unchanged := range []bool{false, true} {
		var b bytes.Buffer
		if err := plan.WriteText(&b, fixedPlan(), plan.TextOptions{Color: false, Unchanged: unchanged}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "\x1b") {
			t.Errorf("Color=false output holds an escape sequence:\n%q", b.String())
		}
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b, fixedPlan(), plan.TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\x1b[32m+\x1b[0m") {
		t.Errorf("Color=true output lacks the green create symbol:\n%q", b.String())
	}
}

func TestWriteText_UnchangedHiddenByDefault(t *testing.T) {
	var b bytes.Buffer
	if err := plan.WriteText(&b, fixedPlan(), plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Ben Chen") {
		t.Errorf("unchanged object listed without TextOptions.Unchanged:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "1 unchanged") {
		t.Errorf("summary lacks the unchanged count:\n%s", b.String())
	}
}

func TestWriteText_ZeroChangePlanSaysNoChanges(t *testing.T) {
	p := fixedPlan()
	var keep []plan.Change
	for _, c := range p.Changes {
		if !c.Action.Writes() {
			keep = append(keep, c)
		}
	}
	p.Changes, p.Summary = keep, plan.Summary{}
	for _, c := range p.Changes {
		p.Summary.Add(c.Action)
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No changes.") {
		t.Errorf("a plan without writes does not say No changes.:\n%s", b.String())
	}
	var empty bytes.Buffer
	if err := plan.WriteText(&empty, &plan.Plan{FormatVersion: plan.FormatVersion, Kind: "sync"}, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(empty.String(), "No changes.") {
		t.Errorf("an empty plan does not say No changes.:\n%s", empty.String())
	}
	var full bytes.Buffer
	if err := plan.WriteText(&full, fixedPlan(), plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(full.String(), "No changes.") {
		t.Errorf("a plan with writes says No changes.:\n%s", full.String())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, os.ErrClosed
	}
	f.n--
	return len(p), nil
}

func TestWriteText_ReportsWriteErrors(t *testing.T) {
	if err := plan.WriteText(&failWriter{n: 3}, fixedPlan(), plan.TextOptions{}); err == nil {
		t.Error("WriteText to a failing writer returned nil")
	}
	if err := plan.WriteJSON(&failWriter{}, fixedPlan()); err == nil {
		t.Error("WriteJSON to a failing writer returned nil")
	}
}

func TestReadJSON_RoundTrip(t *testing.T) {
	want := fixedPlan()
	var b bytes.Buffer
	if err := plan.WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := plan.ReadJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	if got.Hash() != want.Hash() {
		t.Error("round trip changes the plan hash")
	}
	var again bytes.Buffer
	if err := plan.WriteJSON(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), b.Bytes()) {
		t.Error("WriteJSON(ReadJSON(x)) != x")
	}
}

func TestReadJSON_RefusesOtherFormatVersions(t *testing.T) {
	var b bytes.Buffer
	if err := plan.WriteJSON(&b, fixedPlan()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{"2", "0", "", 1, nil} {
		doc["format_version"] = v
		raw, _ := json.Marshal(doc)
		if p, err := plan.ReadJSON(bytes.NewReader(raw)); err == nil {
			t.Errorf("ReadJSON accepted format_version %#v: %+v", v, p)
		}
	}
	delete(doc, "format_version")
	raw, _ := json.Marshal(doc)
	if _, err := plan.ReadJSON(bytes.NewReader(raw)); err == nil {
		t.Error("ReadJSON accepted a plan without format_version")
	}
	if _, err := plan.ReadJSON(strings.NewReader(`{"format_version": "1", "changes": [`)); err == nil {
		t.Error("ReadJSON accepted truncated JSON")
	}
}

// Rollback plans delete the objects a run created (plan.Delete counts as a write), and are
// rendered with WriteText, but the summary line has no place for deletes: a rollback of three
// creates reads "Plan: 0 to create, 0 to update, 0 unchanged, ..." and does not say "No changes.".
func TestWriteText_SummaryCountsDeletes(t *testing.T) {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Kind: "rollback", Source: "journal run 7", Target: renderOU}
	for _, cn := range []string{"A", "B", "C"} {
		p.Changes = append(p.Changes, plan.Change{Action: plan.Delete, DN: "CN=" + cn + "," + renderOU, Source: "journal change 1"})
		p.Summary.Add(plan.Delete)
	}
	var b bytes.Buffer
	if err := plan.WriteText(&b, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "3 to delete") {
		t.Errorf("the summary does not count the 3 deletes:\n%s", b.String())
	}
}
