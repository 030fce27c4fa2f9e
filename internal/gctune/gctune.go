// Package gctune sets the pace of xtmsyncd's garbage collector.
//
// A plan at 100,000 mailboxes keeps about 55 MB live at its peak while it allocates about
// 1.5 GB of short-lived objects (decoded LDAP entries, mapped objects). With Go's default
// GOGC=100 the heap may grow to twice the live data before a collection; at GOGC=50 it grows
// to one and a half times. The run is bound by the directories, not the CPU, so xtmsyncd
// spends the extra collections (about 15% more CPU in the in-process benchmark) for a peak
// RSS about 35 MB lower. A GOGC set in the environment wins.
package gctune

import (
	"os"
	"runtime/debug"
)

// DefaultGOGC is the collector's target percentage unless GOGC is set.
const DefaultGOGC = 50

// Apply sets DefaultGOGC unless the environment sets GOGC, and reports whether it did.
func Apply() bool {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return false
	}
	debug.SetGCPercent(DefaultGOGC)
	return true
}
