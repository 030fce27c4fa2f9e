package journal

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchChange is one update as the engine journals it.
func benchChange(runID int64, w, i int) Change {
	return Change{RunID: runID, DN: fmt.Sprintf("CN=user%d-%06d,OU=Cross-Tenant,DC=northwind,DC=test", w, i), Action: "update",
		Key: "4b473705-cdee-2252-606c-3d5c7b9ab9d8", ObjectGUID: "0e7d1b6c-3f1a-4c55-9a53-2f6b0c1e9d21",
		Attrs: []AttrValues{{Name: "displayName", Before: []string{"drifted"}, After: []string{fmt.Sprint("User ", i)}}}}
}

// benchStore opens a journal file with a started run; it is closed when b ends.
func benchStore(b *testing.B) (*Store, int64) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	runID, err := s.StartRun(b.Context(), Run{Kind: "sync", Mode: "apply"})
	if err != nil {
		b.Fatal(err)
	}
	return s, runID
}

// BenchmarkGroupedWrite is the journal's share of applied updates in groups of 1 (one
// transaction per write, as the engine did before it grouped) and of 8 (the engine's group
// with journal.Store): the outcomes of the last group and the intents of the next, in one
// fsync'd transaction on a file. ns/op is per write.
func BenchmarkGroupedWrite(b *testing.B) {
	for _, size := range []int{1, 8} {
		b.Run(fmt.Sprintf("group=%d", size), func(b *testing.B) {
			ctx := b.Context()
			s, runID := benchStore(b)
			var prev []Outcome
			i := 0
			for b.Loop() {
				if i%size != 0 {
					i++
					continue // this write's intent was journaled with its group
				}
				next := make([]Change, size)
				for k := range next {
					next[k] = benchChange(runID, 0, i+k)
				}
				ids, err := s.RecordGroup(ctx, prev, next)
				if err != nil {
					b.Fatal(err)
				}
				prev = prev[:0]
				for _, id := range ids {
					prev = append(prev, Outcome{ChangeID: id, ObjectGUID: "0e7d1b6c-3f1a-4c55-9a53-2f6b0c1e9d21"})
				}
				i++
			}
		})
	}
}

// BenchmarkGroupedWriteTwoWriters is groups of 8 with two writers at once, each pausing a
// millisecond per write as if for its LDAP write, as the engine's two workers do. journal-ms
// is the mean time of one commit (a group of 8 writes).
func BenchmarkGroupedWriteTwoWriters(b *testing.B) {
	ctx := b.Context()
	s, runID := benchStore(b)
	const size = 8
	var spent, ops atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			var prev []Outcome
			for i := 0; i < b.N; i += size {
				next := make([]Change, size)
				for k := range next {
					next[k] = benchChange(runID, w, i+k)
				}
				t0 := time.Now()
				ids, err := s.RecordGroup(ctx, prev, next)
				if err != nil {
					b.Error(err)
					return
				}
				spent.Add(int64(time.Since(t0)))
				ops.Add(1)
				prev = prev[:0]
				for _, id := range ids {
					prev = append(prev, Outcome{ChangeID: id})
				}
				time.Sleep(size * time.Millisecond)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(spent.Load())/float64(max(1, ops.Load()))/1e6, "journal-ms")
}
