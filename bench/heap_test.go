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

// BenchmarkLiveHeap100k reports the live heap, after a GC, of 100,000 source mailboxes, of their
// 100,000 target MailUsers and of the plan: where the memory of a full-scale plan goes.
func BenchmarkLiveHeap100k(b *testing.B) {
	for b.Loop() {
		base := heapMB()
		alone, _ := population(100_000, 0)
		sources := heapMB() - base
		runtime.KeepAlive(alone)
		alone = nil
		base = heapMB()
		src, tgt := population(100_000, 100_000)
		inputs := heapMB() - base
		p := plan.Build(src, rules, tgt, plan.Options{OU: ou, Anchor: "mailNickname", OwnerAttr: rules.OwnerAttr, OwnerValue: rules.OwnerValue})
		withPlan := heapMB() - base
		if len(p.Changes) != 100_000 {
			b.Fatalf("%d changes", len(p.Changes))
		}
		b.ReportMetric(sources, "sources-MB")
		b.ReportMetric(inputs-sources, "targets-MB")
		b.ReportMetric(withPlan-inputs, "plan-MB")
		runtime.KeepAlive(src)
		runtime.KeepAlive(tgt)
	}
}
