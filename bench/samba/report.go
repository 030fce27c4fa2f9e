//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// reportApply prints the medians of the raw tool's runs and of xtmsyncd's, whole sync (the plan
// included) and writes alone (the like-for-like figure: the raw tool replays a finished plan),
// and the target server's CPU during the raw tool's run and during xtmsyncd's writes.
func reportApply(what, tool string, n, conns int, raw, xs []runStats) {
	pick := func(rs []runStats, f func(runStats) time.Duration) []time.Duration {
		var out []time.Duration
		for _, r := range rs {
			out = append(out, f(r))
		}
		return out
	}
	rawT, rawCPU := pick(raw, func(r runStats) time.Duration { return r.wall }), pick(raw, func(r runStats) time.Duration { return r.cpu })
	syncT, writeT := pick(xs, func(r runStats) time.Duration { return r.wall }), pick(xs, func(r runStats) time.Duration { return r.writes })
	cpuT := pick(xs, func(r runStats) time.Duration { return r.cpu })
	var rss int64
	for _, r := range xs {
		rss = max(rss, r.rss)
	}
	mr, ms, mw := median(rawT), median(syncT), median(writeT)
	per := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("apply (N=%d %s, %d connections, %d runs each, alternating, target restored before each create run): %s median %s (%.0f/s) %s\n",
		n, what, conns, len(raw), tool, mr.Round(time.Millisecond), per(mr), durations(rawT))
	fmt.Printf("  xtmsyncd sync median %s (%.0f/s, peak RSS %d MB, plan included) %s: ratio %.2f\n",
		ms.Round(time.Millisecond), per(ms), rss/1024, durations(syncT), ms.Seconds()/mr.Seconds())
	fmt.Printf("  writes alone (journal and compare-and-set included) median %s (%.0f/s) %s: ratio %.2f\n",
		mw.Round(time.Millisecond), per(mw), durations(writeT), mw.Seconds()/mr.Seconds())
	if bs := blockRatios(rawT, writeT); len(bs) > 1 {
		fmt.Printf("  writes alone against the raw runs next to them (each block of raw, xtmsyncd, xtmsyncd, raw): median %.2f %s\n",
			median(bs).Seconds(), ratios(bs))
	}
	if mc := median(rawCPU); mc > 0 {
		fmt.Printf("  target Samba CPU: %s median %s %s, xtmsyncd's writes median %s %s: ratio %.2f\n",
			tool, mc.Round(10*time.Millisecond), durations(rawCPU), median(cpuT).Round(10*time.Millisecond), durations(cpuT),
			median(cpuT).Seconds()/mc.Seconds())
	}
	rawCl, xsCl := pick(raw, func(r runStats) time.Duration { return r.client }), pick(xs, func(r runStats) time.Duration { return r.client })
	if median(xsCl) > 0 {
		fmt.Printf("  client CPU (it competes with Samba for this machine's cores): %s median %s %s, xtmsyncd's writes median %s %s\n",
			tool, median(rawCl).Round(10*time.Millisecond), durations(rawCl), median(xsCl).Round(10*time.Millisecond), durations(xsCl))
	}
}

// blockRatios pairs the runs in time: the tools alternate raw, xtmsyncd, xtmsyncd, raw, so
// block b holds raw[2b:2b+2] and xs[2b:2b+2], and its ratio (xtmsyncd's mean over the raw
// tool's) is not moved by the directory getting slower or faster over minutes, as the medians
// of all runs are. The ratios are returned as durations of ratio seconds, for median.
func blockRatios(raw, xs []time.Duration) []time.Duration {
	mean := func(ds []time.Duration) float64 {
		var t time.Duration
		for _, d := range ds {
			t += d
		}
		return t.Seconds() / float64(len(ds))
	}
	var out []time.Duration
	for b := 0; 2*b < len(raw) && 2*b < len(xs); b++ {
		r, x := mean(raw[2*b:min(2*b+2, len(raw))]), mean(xs[2*b:min(2*b+2, len(xs))])
		out = append(out, time.Duration(x/r*float64(time.Second)))
	}
	return out
}

func ratios(rs []time.Duration) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.2f", r.Seconds()))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(10*time.Millisecond).String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// comparePlans alternates the raw read and xtmsyncd plan reps times and compares the medians:
// Samba's own time for the same search varies by a third from one run to the next.
func comparePlans(what string, reps int, raw func() time.Duration, plan func() (time.Duration, int64)) {
	var rs, ps []time.Duration
	var rss int64
	for range max(1, reps) {
		rs = append(rs, raw())
		d, r := plan()
		ps = append(ps, d)
		rss = max(rss, r)
	}
	slices.Sort(rs)
	slices.Sort(ps)
	mr, mp := rs[len(rs)/2], ps[len(ps)/2]
	fmt.Printf("plan (%s, %d runs each): xtmsyncd plan median %s (%s–%s, peak RSS %d MB), raw paged read of both forests with ldapsearch median %s (%s–%s): ratio %.2f\n",
		what, len(ps), mp.Round(time.Millisecond), ps[0].Round(time.Millisecond), ps[len(ps)-1].Round(time.Millisecond), rss/1024,
		mr.Round(time.Millisecond), rs[0].Round(time.Millisecond), rs[len(rs)-1].Round(time.Millisecond), mp.Seconds()/mr.Seconds())
}

// reportBare sets each update run against the bare modify loop (the drift) just before it:
// how much of a bare client's speed each tool keeps, with the directory's drift over minutes
// divided out. xtmsyncd's figure is its writes alone, the re-read and the journal included.
func reportBare(conns int, raw, xs []runStats, rawBare, xsBare []time.Duration) {
	per := func(rs []runStats, bare []time.Duration, f func(runStats) time.Duration) []time.Duration {
		var out []time.Duration
		for i, r := range rs {
			out = append(out, time.Duration(f(r).Seconds()/bare[i].Seconds()*float64(time.Second)))
		}
		return out
	}
	rr := per(raw, rawBare, func(r runStats) time.Duration { return r.wall })
	xr := per(xs, xsBare, func(r runStats) time.Duration { return r.writes })
	fmt.Printf("  bare modify loop on %d connections (the drift before each run; no re-read, no journal): median %s %s\n",
		conns, median(append(slices.Clone(rawBare), xsBare...)).Round(time.Millisecond), durations(append(slices.Clone(rawBare), xsBare...)))
	fmt.Printf("  each run over the bare loop just before it: ldapmodify median %.2f %s, xtmsyncd writes median %.2f %s: ratio %.2f\n",
		median(rr).Seconds(), ratios(rr), median(xr).Seconds(), ratios(xr), median(xr).Seconds()/median(rr).Seconds())
}
