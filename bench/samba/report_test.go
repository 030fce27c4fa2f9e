//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

func secs(fs ...float64) []time.Duration {
	var out []time.Duration
	for _, f := range fs {
		out = append(out, time.Duration(f*float64(time.Second)))
	}
	return out
}

func TestBlockRatiosPairRunsInTime(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw, xs []time.Duration
		want    string
	}{
		// raw, x, x, raw | raw, x, x, raw: each block's mean over the raw mean
		{"two whole blocks", secs(4, 6, 8, 8), secs(5, 5, 6, 10), "[1.00 1.00]"},
		{"a slower directory in block two does not move block one", secs(4, 4, 40, 40), secs(2, 2, 20, 20), "[0.50 0.50]"},
		// -apply-reps 3: raw, x, x, raw, raw, x: the last block has one run of each
		{"odd runs end in a half block", secs(2, 2, 3), secs(3, 3, 6), "[1.50 2.00]"},
		{"no xtmsyncd runs", secs(2, 2), nil, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ratios(blockRatios(tc.raw, tc.xs)); got != tc.want {
				t.Errorf("blockRatios = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseStatCountsFieldsAfterTheCommandName(t *testing.T) {
	// session 9631 (field 6), utime 250 and stime 50 ticks (fields 14 and 15), cutime 30 and
	// cstime 10 (16 and 17); the command name holds a space and a ")".
	rest := "S 1 9631 9631 0 -1 4194560 81234 0 0 0 250 50 30 10 20 0 1 0 123 456789 1234"
	for _, comm := range []string{"(samba)", "(my samba)", "(a) b)"} {
		got, err := parseStat("9640 " + comm + " " + rest)
		if err != nil || got != (procStat{session: "9631", cpu: 3 * time.Second, children: 400 * time.Millisecond}) {
			t.Errorf("parseStat with %s = %+v, %v; want session 9631, cpu 3s, children 400ms", comm, got, err)
		}
	}
	for _, bad := range []string{"", "9631 samba S 1", "1 (x) S 1 2 3", "1 (x) " + strings.Replace(rest, "250", "x", 1)} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}
