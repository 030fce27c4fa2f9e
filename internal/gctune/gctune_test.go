package gctune

import (
	"os"
	"runtime/debug"
	"testing"
)

// Apply sets DefaultGOGC when the environment says nothing, and leaves an explicit GOGC alone.
func TestApply(t *testing.T) {
	t.Setenv("GOGC", "")
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	if Apply() {
		t.Error("Apply overrode an explicit GOGC")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d after an explicit GOGC, want it untouched (100)", got)
	}
	t.Setenv("GOGC", "x") // t.Setenv restores the variable; unset it for this case
	unsetenv(t, "GOGC")
	if !Apply() {
		t.Error("Apply did nothing without GOGC")
	}
	if got := debug.SetGCPercent(100); got != DefaultGOGC {
		t.Errorf("GC percent %d, want %d", got, DefaultGOGC)
	}
}
func unsetenv(t *testing.T, k string) {
	t.Helper()
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}
