package batch

import (
	"errors"
	"strings"
	"testing"
)

// Issue 16 rule 6, batches: a migrated mailbox is in no batch and not excluded; it is listed
// as migrated (Result and manifest, with its own total), an edge to it does not group or block
// its delegate, whose reason says the delegate has already moved.
func TestBatch_MigratedNeitherBatchedNorBlocked(t *testing.T) {
	moved := Excluded{ID: dn("Moved"), Address: addr("Moved"), Reason: "migrated"}
	blocked := Excluded{ID: dn("Blocked"), Reason: "blocked: TARGET-EXCHANGEGUID"}
	r := mustPlan(t, items("A", "B"), []Edge{edge("A", "Moved", KindPublicDelegates), edge("B", "Blocked", KindDelegateListLink)},
		Options{Size: 10, Excluded: []Excluded{blocked}, Migrated: []Excluded{moved}})
	if len(r.Batches) != 1 || len(r.Batches[0].Members) != 2 {
		t.Fatalf("batches %+v, want A and B in one", r.Batches)
	}
	for _, b := range r.Batches {
		for _, m := range b.Members {
			if strings.EqualFold(m.ID, moved.ID) {
				t.Errorf("the migrated mailbox is in %s", b.Name)
			}
		}
	}
	if len(r.Excluded) != 1 || r.Excluded[0].ID != blocked.ID {
		t.Errorf("excluded %+v, want only the blocked one", r.Excluded)
	}
	if len(r.Migrated) != 1 || r.Migrated[0].ID != moved.ID {
		t.Errorf("migrated %+v, want the moved one", r.Migrated)
	}
	a := member(t, r, addr("A"))
	if len(a.Reasons) != 1 || !strings.Contains(a.Reasons[0], "delegate "+moved.ID+" has already moved") || strings.Contains(a.Reasons[0], "blocked") {
		t.Errorf("A's reasons %q, want its delegate named as already moved", a.Reasons)
	}
	b := member(t, r, addr("B"))
	if len(b.Reasons) != 1 || !strings.Contains(b.Reasons[0], "is not in this export (blocked or out of scope)") {
		t.Errorf("B's reasons %q, want its blocked delegate named", b.Reasons)
	}
	m := NewManifest(r)
	if m.Totals.Migrated != 1 || m.Totals.Excluded != 1 || m.Totals.Batched != 2 || m.Totals.Mailboxes != 4 {
		t.Errorf("totals %+v, want 2 batched + 1 excluded + 1 migrated = 4", m.Totals)
	}
	if len(m.Migrated) != 1 || m.Migrated[0].ID != moved.ID || m.Migrated[0].Reason != "migrated" {
		t.Errorf("manifest migrated %+v", m.Migrated)
	}
	if empty := NewManifest(mustPlan(t, items("A"), nil, Options{})); empty.Migrated == nil {
		t.Error("manifest migrated is null, want []")
	}

	// A migrated ID may be neither an item nor excluded.
	for name, opt := range map[string]Options{
		"item":     {Migrated: []Excluded{{ID: dn("A")}}},
		"excluded": {Migrated: []Excluded{moved}, Excluded: []Excluded{{ID: moved.ID, Reason: "x"}}},
	} {
		if _, err := Plan(items("A"), nil, opt); !errors.Is(err, ErrDuplicateID) {
			t.Errorf("migrated and %s: %v, want ErrDuplicateID", name, err)
		}
	}
}
