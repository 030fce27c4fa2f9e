package journal

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// One transaction: the outcome of the first change and the intent of the next are both there
// afterwards, exactly as RecordOutcome then RecordIntent would leave them.
func TestRecordOutcomeAndIntent(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	s.SetNow(clock())
	runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	first, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=A", Action: "create", Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.RecordOutcomeAndIntent(ctx, first, "guid-a", nil,
		Change{RunID: runID, DN: "CN=B", Action: "update", Forest: "source", Attrs: []AttrValues{{Name: "displayName", Before: []string{"x"}, After: []string{"y"}}}})
	if err != nil {
		t.Fatalf("RecordOutcomeAndIntent: %v", err)
	}
	applyErr := errors.New("stale plan")
	if err := s.RecordOutcome(ctx, next, "", applyErr); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Changes(ctx, runID)
	if err != nil || len(cs) != 2 {
		t.Fatalf("Changes = %+v, %v", cs, err)
	}
	a, b := cs[0], cs[1]
	if a.ID != first || a.Status != StatusApplied || a.ObjectGUID != "guid-a" || a.OutcomeAt == nil {
		t.Errorf("first change %+v", a)
	}
	if b.ID != next || b.DN != "CN=B" || b.Forest != "source" || b.Status != StatusFailed || b.Error != "stale plan" ||
		len(b.Attrs) != 1 || b.Attrs[0].After[0] != "y" {
		t.Errorf("next change %+v", b)
	}
	if !a.OutcomeAt.Before(b.IntentAt) && !a.OutcomeAt.Equal(b.IntentAt) {
		t.Errorf("outcome of the first at %v, intent of the next at %v", a.OutcomeAt, b.IntentAt)
	}
}

// Neither row is written when either half fails.
func TestRecordOutcomeAndIntentIsAllOrNothing(t *testing.T) {
	for _, name := range []string{"file", ":memory:"} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			path := name
			if name == "file" {
				path = filepath.Join(t.TempDir(), "journal.db")
			}
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
			id, err := s.RecordIntent(ctx, Change{RunID: runID, DN: "CN=A", Action: "update"})
			if err != nil {
				t.Fatal(err)
			}
			// the next intent is invalid: the outcome is not recorded either
			if _, err := s.RecordOutcomeAndIntent(ctx, id, "g", nil, Change{RunID: runID, Action: "update"}); err == nil {
				t.Fatal("an intent without a DN was accepted")
			}
			// the outcome is of a missing change: the intent is not recorded
			if _, err := s.RecordOutcomeAndIntent(ctx, id+100, "g", nil, Change{RunID: runID, DN: "CN=B", Action: "update"}); !errors.Is(err, ErrNotFound) {
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
			if _, err := s.RecordOutcomeAndIntent(ctx, id, "g", nil, Change{RunID: runID, DN: "CN=C", Action: "update"}); !errors.Is(err, ErrFinalized) {
				t.Errorf("outcome of a finalized change: %v, want ErrFinalized", err)
			}
			if cs, _ := s.Changes(ctx, runID); len(cs) != 1 {
				t.Errorf("%d changes, want the one", len(cs))
			}
		})
	}
}

// Chains of outcome-and-intent from several goroutines, as the apply workers run them.
func TestRecordOutcomeAndIntentConcurrently(t *testing.T) {
	for _, name := range []string{"file", ":memory:"} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			path := name
			if name == "file" {
				path = filepath.Join(t.TempDir(), "journal.db")
			}
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
			const workers, each = 4, 25
			var wg sync.WaitGroup
			for g := range workers {
				wg.Go(func() {
					id, err := s.RecordIntent(ctx, Change{RunID: runID, DN: fmt.Sprintf("CN=%d-0", g), Action: "update"})
					for i := 1; i < each && err == nil; i++ {
						id, err = s.RecordOutcomeAndIntent(ctx, id, "", nil, Change{RunID: runID, DN: fmt.Sprintf("CN=%d-%d", g, i), Action: "update"})
					}
					if err == nil {
						err = s.RecordOutcome(ctx, id, "", nil)
					}
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			counts, err := s.ChangeCounts(ctx, runID)
			if err != nil || counts[StatusApplied] != workers*each || len(counts) != 1 {
				t.Errorf("ChangeCounts = %v, %v; want %d applied", counts, err, workers*each)
			}
		})
	}
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
