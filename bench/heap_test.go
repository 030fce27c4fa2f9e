package bench

import (
	"runtime"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/plan"
)

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// TestHeapProfile100k reports the live heap of the inputs and of the plan at 100,000 mailboxes
// (run with -run HeapProfile -v; skipped in -short).
func TestHeapProfile100k(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement, not a check")
	}
	base := heapMB()
	src, tgt := population(100_000, 100_000)
	inputs := heapMB() - base
	srcOnly, _ := population(100_000, 0)
	sources := heapMB() - base - inputs
	runtime.KeepAlive(srcOnly)
	srcOnly = nil
	t.Logf("live heap: sources alone %.0f MB", sources)
	p := plan.Build(src, rules, tgt, plan.Options{OU: ou, Anchor: "mailNickname", OwnerAttr: rules.OwnerAttr, OwnerValue: rules.OwnerValue})
	withPlan := heapMB() - base
	t.Logf("live heap: inputs %.0f MB (sources and target entries), plan %.0f MB (%d changes)", inputs, withPlan-inputs, len(p.Changes))
	runtime.KeepAlive(src)
	runtime.KeepAlive(tgt)
	if len(p.Changes) != 100_000 {
		t.Fatalf("%d changes", len(p.Changes))
	}
}
