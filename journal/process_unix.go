//go:build !windows

package journal

import (
	"errors"
	"syscall"
)

// processExists: signal 0 checks for the process without touching it. EPERM means it exists
// and belongs to someone else.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
