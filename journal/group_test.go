package journal

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// One transaction: the outcomes of the first changes and the intents of the next are all there
// afterwards, exactly as RecordOutcome then RecordIntent would leave them.
func TestRecordGroup(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	s.SetNow(clock())
	runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	a, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=A", Action: "create", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=B", Action: "update"})
	if err != nil {
		t.Fatal(err)
	}
	stale := errors.New("stale plan")
	next, err := s.RecordGroup(ctx, []Outcome{{ChangeID: a, ObjectGUID: "guid-a"}, {ChangeID: b, Err: stale}}, []Change{
		{RunID: runID, DN: "CN=C", Action: "update", Forest: "source", Attrs: []AttrValues{{Name: "displayName", Before: []string{"x"}, After: []string{"y"}}}},
		{RunID: runID, DN: "CN=D", Action: "update"},
	})
	if err != nil || len(next) != 2 {
		t.Fatalf("RecordGroup = %v, %v", next, err)
	}
	cs, err := s.Changes(ctx, runID)
	if err != nil || len(cs) != 4 {
		t.Fatalf("Changes = %+v, %v", cs, err)
	}
	if cs[0].ID != a || cs[0].Status != StatusApplied || cs[0].ObjectGUID != "guid-a" || cs[0].OutcomeAt == nil {
		t.Errorf("first change %+v", cs[0])
	}
	if cs[1].ID != b || cs[1].Status != StatusFailed || cs[1].Error != "stale plan" {
		t.Errorf("second change %+v", cs[1])
	}
	c, d := cs[2], cs[3]
	if c.ID != next[0] || c.DN != "CN=C" || c.Forest != "source" || c.Status != StatusPending || len(c.Attrs) != 1 || c.Attrs[0].After[0] != "y" {
		t.Errorf("third change %+v", c)
	}
	if d.ID != next[1] || d.DN != "CN=D" || d.Status != StatusPending {
		t.Errorf("fourth change %+v", d)
	}
	if c.IntentAt.Before(*cs[1].OutcomeAt) {
		t.Errorf("outcome of the second at %v, intent of the third at %v", cs[1].OutcomeAt, c.IntentAt)
	}
	// the empty group commits nothing and fails nothing
	if ids, err := s.RecordGroup(ctx, nil, nil); err != nil || len(ids) != 0 {
		t.Errorf("empty group = %v, %v", ids, err)
	}
}

// No row is written when any part fails.
func TestRecordGroupIsAllOrNothing(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *Store, runID int64) {
		ctx := t.Context()
		id, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=A", Action: "update"})
		if err != nil {
			t.Fatal(err)
		}
		ok := Change{RunID: runID, DN: "CN=B", Action: "update"}
		// the second intent is invalid: neither the outcome nor the first intent is recorded
		if _, err := s.RecordGroup(ctx, []Outcome{{ChangeID: id, ObjectGUID: "g"}}, []Change{ok, {RunID: runID, Action: "update"}}); err == nil {
			t.Fatal("an intent without a DN was accepted")
		}
		// one outcome is of a missing change: nothing is recorded
		if _, err := s.RecordGroup(ctx, []Outcome{{ChangeID: id}, {ChangeID: id + 100}}, []Change{ok}); !errors.Is(err, ErrNotFound) {
			t.Errorf("outcome of a missing change: %v, want ErrNotFound", err)
		}
		cs, err := s.Changes(ctx, runID)
		if err != nil || len(cs) != 1 || cs[0].Status != StatusPending || cs[0].ObjectGUID != "" {
			t.Fatalf("after two failed calls: %+v, %v", cs, err)
		}
		if err := s.RecordOutcome(ctx, id, "", nil); err != nil {
			t.Fatal(err)
		}
		// the outcome is of a finalized change: the intent is not recorded
		if _, err := s.RecordGroup(ctx, []Outcome{{ChangeID: id}}, []Change{ok}); !errors.Is(err, ErrFinalized) {
			t.Errorf("outcome of a finalized change: %v, want ErrFinalized", err)
		}
		if cs, _ := s.Changes(ctx, runID); len(cs) != 1 {
			t.Errorf("%d changes, want the one", len(cs))
		}
	})
}

// Groups of outcomes and intents from several goroutines, as the apply workers run them.
func TestRecordGroupConcurrently(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *Store, runID int64) {
		ctx := t.Context()
		const workers, groups, size = 4, 10, 3
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				var prev []Outcome
				for g := range groups + 1 {
					var next []Change
					for i := range size {
						if g < groups {
							next = append(next, Change{RunID: runID, DN: fmt.Sprintf("CN=%d-%d-%d", w, g, i), Action: "update"})
						}
					}
					ids, err := s.RecordGroup(ctx, prev, next)
					if err != nil {
						t.Error(err)
						return
					}
					prev = nil
					for _, id := range ids {
						prev = append(prev, Outcome{ChangeID: id})
					}
				}
			})
		}
		wg.Wait()
		counts, err := s.ChangeCounts(ctx, runID)
		if err != nil || counts[StatusApplied] != workers*groups*size || len(counts) != 1 {
			t.Errorf("ChangeCounts = %v, %v; want %d applied", counts, err, workers*groups*size)
		}
	})
}

// SetObjectGUIDs fills in the objectGUID of created objects afterwards, never overwriting one,
// and adds no row.
func TestSetObjectGUIDs(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	a, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=A", Action: "create"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=B", Action: "update", ObjectGUID: "guid-b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b} {
		if err := s.RecordOutcome(ctx, id, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetObjectGUIDs(ctx, map[int64]string{a: "guid-a", b: "other"}); err != nil {
		t.Fatalf("SetObjectGUIDs: %v", err)
	}
	cs, err := s.Changes(ctx, runID)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Changes = %+v, %v", cs, err)
	}
	if cs[0].ObjectGUID != "guid-a" || cs[0].Status != StatusApplied {
		t.Errorf("created change %+v, want guid-a and applied", cs[0])
	}
	if cs[1].ObjectGUID != "guid-b" {
		t.Errorf("an existing objectGUID was overwritten: %+v", cs[1])
	}
}
