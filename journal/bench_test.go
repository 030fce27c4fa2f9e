package journal

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkChainedWrite is the journal's share of one applied update: the outcome of the
// previous change and the intent of the next, in one fsync'd transaction on a file.
func BenchmarkChainedWrite(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runID, err := s.StartRun(ctx, Run{Kind: "sync", Mode: "apply"})
	if err != nil {
		b.Fatal(err)
	}
	change := func(i int) Change {
		return Change{RunID: runID, DN: fmt.Sprintf("CN=user%06d,OU=Cross-Tenant,DC=northwind,DC=test", i), Action: "update",
			Key: "4b473705-cdee-2252-606c-3d5c7b9ab9d8", ObjectGUID: "0e7d1b6c-3f1a-4c55-9a53-2f6b0c1e9d21",
			Attrs: []AttrValues{{Name: "displayName", Before: []string{"drifted"}, After: []string{fmt.Sprint("User ", i)}}}}
	}
	id, err := s.RecordIntent(ctx, change(0))
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if id, err = s.RecordOutcomeAndIntent(ctx, id, "0e7d1b6c-3f1a-4c55-9a53-2f6b0c1e9d21", nil, change(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChainedWriteTwoWriters is the same with two writers at once, each pausing a
// millisecond between journal writes as if for its LDAP write, as the engine's two workers do.
// journal-ms is the mean time of one journal write: 1.6 ms before Store serialised its writers
// (SQLite's busy handler sleeping on the write lock), 0.5 ms after.
func BenchmarkChainedWriteTwoWriters(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runID, err := s.StartRun(ctx, Run{Kind: "sync", Mode: "apply"})
	if err != nil {
		b.Fatal(err)
	}
	change := func(w, i int) Change {
		return Change{RunID: runID, DN: fmt.Sprintf("CN=user%d-%06d,OU=Cross-Tenant,DC=northwind,DC=test", w, i), Action: "update",
			Attrs: []AttrValues{{Name: "displayName", Before: []string{"drifted"}, After: []string{fmt.Sprint("User ", i)}}}}
	}
	var spent atomic.Int64
	var ops atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			id, err := s.RecordIntent(ctx, change(w, 0))
			if err != nil {
				b.Error(err)
				return
			}
			for i := 1; i <= b.N; i++ {
				t0 := time.Now()
				if id, err = s.RecordOutcomeAndIntent(ctx, id, "", nil, change(w, i)); err != nil {
					b.Error(err)
					return
				}
				spent.Add(int64(time.Since(t0)))
				ops.Add(1)
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(spent.Load())/float64(max(1, ops.Load()))/1e6, "journal-ms")
}
