package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deadPID returns the pid of a process that has exited (and been reaped).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot start a child process: %v", err)
	}
	return cmd.ProcessState.Pid()
}

// A run left "running" by a process that is gone on this host becomes "crashed" at the next
// open; a run of a live process (this one) and a young run of another host stay running; an
// old run of another host that holds no lock is crashed too.
func TestRecovery_RunOfAGoneProcessBecomesCrashed(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t)
	host, pid := self()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s.SetNow(func() time.Time { return now })
	dead := startRun(t, s, Run{Kind: "sync", Mode: "apply", Host: host, PID: deadPID(t)})
	alive := startRun(t, s, Run{Kind: "sync", Mode: "apply", Host: host, PID: pid})
	otherOld := startRun(t, s, Run{Kind: "sync", Mode: "apply", Host: "elsewhere", PID: 42})
	now = now.Add(10 * time.Minute)
	otherYoung := startRun(t, s, Run{Kind: "sync", Mode: "apply", Host: "elsewhere", PID: 43})
	c, err := s.RecordIntent(ctx, Change{RunID: dead, DN: "CN=a,OU=x", Action: "create"})
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.RecoverCrashed(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, r := range got {
		ids[r.ID] = true
	}
	if !ids[dead] || !ids[otherOld] || ids[alive] || ids[otherYoung] || len(got) != 2 {
		t.Fatalf("crashed %v; want runs %d and %d", ids, dead, otherOld)
	}
	r, _ := s.Run(ctx, dead)
	if r.Outcome != OutcomeCrashed || r.FinishedAt == nil || !strings.Contains(r.Error, "is gone") ||
		!strings.Contains(r.Error, "1 writes had no outcome") {
		t.Errorf("crashed run: %+v", r)
	}
	for _, id := range []int64{alive, otherYoung} {
		if r, _ := s.Run(ctx, id); r.Outcome != OutcomeRunning {
			t.Errorf("run %d: %s, want running", id, r.Outcome)
		}
	}
	// the pending change is now unresolved work; a second recovery finds nothing new
	un, err := s.Unresolved(ctx)
	if err != nil || len(un) != 1 || un[0].ID != c {
		t.Fatalf("unresolved = %+v, %v", un, err)
	}
	if again, err := s.RecoverCrashed(ctx, 2*time.Minute); err != nil || len(again) != 0 {
		t.Errorf("second recovery: %+v, %v", again, err)
	}
}

// A run on another host that still refreshes its lock is alive, however old it is.
func TestRecovery_RunOfAnotherHostWithAFreshLockIsAlive(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s.SetNow(func() time.Time { return now })
	id := startRun(t, s, Run{Kind: "sync", Mode: "apply", Host: "elsewhere", PID: 42})
	if _, err := s.db.ExecContext(ctx, `INSERT INTO locks (name, holder, since, heartbeat, host, pid) VALUES ('apply', 'x', ?, ?, 'elsewhere', 42)`,
		formatTime(now), formatTime(now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour + 30*time.Second)
	if got, err := s.RecoverCrashed(ctx, 2*time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("recovered %+v, %v: the holder's heartbeat is 30 s old", got, err)
	}
	now = now.Add(5 * time.Minute)
	if got, err := s.RecoverCrashed(ctx, 2*time.Minute); err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("recovered %+v, %v: the heartbeat is 5 min old", got, err)
	}
}

// A lock whose holder ran on this host and is gone is taken over at once, not after the ttl.
func TestLock_DeadHolderOnThisHostIsTakenOverAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t)
	if _, err := s.AcquireLock(ctx, "apply", "xtmsyncd sync by root pid 1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLock(ctx, "apply", "second", time.Hour); err == nil {
		t.Fatal("a live holder's lock was taken over")
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE locks SET pid = ?`, deadPID(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLock(ctx, "apply", "second", time.Hour); err != nil {
		t.Fatalf("a dead holder's lock blocks: %v", err)
	}
	// another host's holder is never judged by pid: only its heartbeat counts
	if _, err := s.db.ExecContext(ctx, `UPDATE locks SET host = 'elsewhere', pid = ?`, deadPID(t)); err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := s.AcquireLock(ctx, "apply", "third", time.Hour); !errors.As(err, &locked) {
		t.Fatalf("another host's lock was taken over by pid: %v", err)
	}
}

// An outcome error marked ErrOutcomeUnknown journals the change as unknown, not failed.
func TestRecordOutcome_UnknownOutcomeHasItsOwnStatus(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t)
	run := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	a, _ := s.RecordIntent(ctx, Change{RunID: run, DN: "CN=a,OU=x", Action: "create"})
	b, _ := s.RecordIntent(ctx, Change{RunID: run, DN: "CN=b,OU=x", Action: "create"})
	if err := s.RecordOutcome(ctx, a, "", fmt.Errorf("add: %w: connection reset", ErrOutcomeUnknown)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOutcome(ctx, b, "", errors.New("add: constraint violation")); err != nil {
		t.Fatal(err)
	}
	cs, _ := s.Changes(ctx, run)
	if cs[0].Status != StatusUnknown || cs[1].Status != StatusFailed {
		t.Errorf("statuses %s, %s; want unknown, failed", cs[0].Status, cs[1].Status)
	}
}

// Resolve settles a change once: a second resolver (another process) changes nothing.
func TestResolve_SettlesAChangeOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openFile(t)
	run := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	id, _ := s.RecordIntent(ctx, Change{RunID: run, DN: "CN=a,OU=x", Action: "create"})
	if un, _ := s.Unresolved(ctx); len(un) != 0 {
		t.Fatalf("a running run's pending change is listed as unresolved: %+v", un)
	}
	if err := s.FinishRun(ctx, run, OutcomeFailed, nil, errors.New("stopped")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Resolve(ctx, id, StatusApplied, "g-1", "the object holds the run's values"); !ok || err != nil {
		t.Fatalf("resolve: %v, %v", ok, err)
	}
	if ok, err := s.Resolve(ctx, id, StatusNotApplied, "", "second opinion"); ok || err != nil {
		t.Fatalf("second resolve: %v, %v", ok, err)
	}
	cs, _ := s.Changes(ctx, run)
	if c := cs[0]; c.Status != StatusApplied || c.ObjectGUID != "g-1" || !strings.Contains(c.Resolution, "holds the run's values") || c.OutcomeAt == nil {
		t.Errorf("resolved change: %+v", c)
	}
	if un, _ := s.Unresolved(ctx); len(un) != 0 {
		t.Errorf("still unresolved: %+v", un)
	}
	if _, err := s.Resolve(ctx, id, StatusFailed, "", "x"); err == nil {
		t.Error("resolve to failed accepted")
	}
}

// A journal written before migration 0004 keeps its rows; a failed change whose error says
// "outcome unknown" becomes unknown.
func TestMigration0004_KeepsRowsAndMarksUnknownOutcomes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	for _, m := range ms[:3] {
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatal(err)
		}
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`)
	for _, m := range ms[:3] {
		mustExec(`INSERT INTO schema_migrations VALUES (?, '2026-01-01T00:00:00.000000000Z')`, m.version)
	}
	mustExec(`INSERT INTO runs (kind, mode, started_at, outcome) VALUES ('sync', 'apply', '2026-01-01T00:00:00.000000000Z', 'failed')`)
	mustExec(`INSERT INTO changes (run_id, dn, action, attrs, intent_at, status, error) VALUES
		(1, 'CN=a', 'create', '[]', '2026-01-01T00:00:00.000000000Z', 'failed', 'add: outcome unknown: the connection dropped'),
		(1, 'CN=b', 'create', '[]', '2026-01-01T00:00:00.000000000Z', 'failed', 'add: entry already exists'),
		(1, 'CN=c', 'update', '[]', '2026-01-01T00:00:00.000000000Z', 'applied', '')`)
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cs, err := s.Changes(ctx, 1)
	if err != nil || len(cs) != 3 {
		t.Fatalf("changes after migration: %+v, %v", cs, err)
	}
	if cs[0].Status != StatusUnknown || cs[1].Status != StatusFailed || cs[2].Status != StatusApplied || cs[2].Forest != "target" {
		t.Errorf("statuses after migration: %s %s %s (%s)", cs[0].Status, cs[1].Status, cs[2].Status, cs[2].Forest)
	}
}
