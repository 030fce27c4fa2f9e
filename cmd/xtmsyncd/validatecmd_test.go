package main

import (
	"errors"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Issue 16 rule 6, the exit code: validate exits 5 only when a mailbox is blocked; migrated
// mailboxes (already moved) are not counted as blocked.
func TestValidate_MigratedIsNotBlockedInTheExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		sum  readiness.Summary
		want int
	}{
		{"all migrated", readiness.Summary{Total: 3, Migrated: 3}, ExitOK},
		{"ready, warnings and migrated", readiness.Summary{Total: 3, Ready: 1, Warning: 1, Migrated: 1}, ExitOK},
		{"one blocked among migrated", readiness.Summary{Total: 3, Blocked: 1, Migrated: 2}, ExitBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateOutcome(&readiness.Report{Summary: tc.sum})
			var ee exitError
			switch {
			case tc.want == ExitOK && err != nil:
				t.Errorf("exit error %v, want none", err)
			case tc.want != ExitOK && (!errors.As(err, &ee) || ee.code != tc.want):
				t.Errorf("exit error %v, want code %d", err, tc.want)
			}
		})
	}
}
