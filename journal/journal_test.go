package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// clock returns a deterministic clock that advances by one second (plus a
// few nanoseconds, to exercise precision) per call, in a non-UTC zone.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second + 7)
		return t
	}
}

func openFile(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// onEachStore runs f as a subtest on a journal file and on an in-memory journal, each with a
// started run.
func onEachStore(t *testing.T, f func(t *testing.T, s *Store, runID int64)) {
	for _, name := range []string{"file", ":memory:"} {
		t.Run(name, func(t *testing.T) {
			path := name
			if name == "file" {
				path = filepath.Join(t.TempDir(), "journal.db")
			}
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			f(t, s, startRun(t, s, Run{Kind: "sync", Mode: "apply"}))
		})
	}
}

func startRun(t *testing.T, s *Store, r Run) int64 {
	t.Helper()
	id, err := s.StartRun(t.Context(), r)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return id
}

func pragma(t *testing.T, s *Store, name string) string {
	t.Helper()
	var v string
	if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenMigratesOnce(t *testing.T) {
	ctx := t.Context()
	s, path := openFile(t)
	v1, err := s.SchemaVersion(ctx)
	if err != nil || v1 == "" {
		t.Fatalf("SchemaVersion = %q, %v", v1, err)
	}
	if got := pragma(t, s, "journal_mode"); got != "wal" {
		t.Errorf("journal_mode = %q, want wal", got)
	}
	if got := pragma(t, s, "foreign_keys"); got != "1" {
		t.Errorf("foreign_keys = %q, want 1", got)
	}
	if got := pragma(t, s, "busy_timeout"); got != "5000" {
		t.Errorf("busy_timeout = %q, want 5000", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	v2, err := s2.SchemaVersion(ctx)
	if err != nil || v2 != v1 {
		t.Fatalf("SchemaVersion after reopen = %q, %v; want %q", v2, err, v1)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s2.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations rows = %d, want %d", n, len(ms))
	}
}

func TestOpenRefusesUnknownMigration(t *testing.T) {
	s, path := openFile(t)
	if _, err := s.db.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, applied_at) VALUES ('9999_future', 'x')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(t.Context(), path); err == nil {
		s2.Close()
		t.Fatal("Open succeeded on a database with an unknown migration")
	}
}

func TestFileMode(t *testing.T) {
	_, path := openFile(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("new file mode = %o, want 600", got)
	}

	loose := filepath.Join(t.TempDir(), "loose.db")
	if err := os.WriteFile(loose, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil { // defeat umask
		t.Fatal(err)
	}
	s, err := Open(t.Context(), loose)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if fi, err = os.Stat(loose); err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("existing file mode = %o, want 600", got)
	}
}

func TestMemory(t *testing.T) {
	s, err := Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	id := startRun(t, s, Run{Kind: "sync", Mode: "dry-run"})
	if _, err := s.Run(t.Context(), id); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunAndChangesRoundTrip(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	now := clock()
	want := clock() // replays the same sequence of times
	s.SetNow(now)

	parent := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	parentStart := want().UTC()
	run := Run{
		Kind: "rollback", Mode: "apply", Actor: "alice@host",
		ConfigHash: "c0ffee", PlanHash: "beef",
		Summary:     json.RawMessage(`{"planned":2}`),
		ParentRunID: parent,
	}
	runID := startRun(t, s, run)
	run.ID, run.StartedAt, run.Outcome = runID, want().UTC(), OutcomeRunning
	run.Host, run.PID = self() // StartRun records the process that runs it

	got, err := s.Run(ctx, runID)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Errorf("running run:\n got %+v\nwant %+v", got, run)
	}
	if p, err := s.Run(ctx, parent); err != nil || !p.StartedAt.Equal(parentStart) {
		t.Errorf("parent run = %+v, %v", p, err)
	}

	c1 := Change{
		RunID: runID, Key: "eg-1", DN: "CN=A,DC=x", Forest: "target", Action: "create",
		Attrs: []AttrValues{
			{Name: "mail", After: []string{"a@x"}},
			{Name: "proxyAddresses", Add: []string{"SMTP:a@x", "smtp:b@x"}},
		},
	}
	c2 := Change{
		RunID: runID, ObjectGUID: "guid-2", Key: "eg-2", DN: "CN=B,DC=x", Forest: "source", Action: "update",
		Attrs: []AttrValues{{Name: "mail", Before: []string{"old@x"}, After: []string{"new@x"}, Delete: []string{"old@x"}}},
	}
	for _, c := range []*Change{&c1, &c2} {
		id, err := s.RecordIntent(ctx, *c)
		if err != nil {
			t.Fatalf("RecordIntent: %v", err)
		}
		c.ID, c.IntentAt, c.Status = id, want().UTC(), StatusPending
	}
	if err := s.RecordOutcome(ctx, c1.ID, "guid-1", nil); err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	at := want().UTC()
	c1.ObjectGUID, c1.Status, c1.OutcomeAt = "guid-1", StatusApplied, &at

	changes, err := s.Changes(ctx, runID)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	if wantCh := []Change{c1, c2}; !reflect.DeepEqual(changes, wantCh) {
		t.Errorf("changes:\n got %+v\nwant %+v", changes, wantCh)
	}

	if err := s.FinishRun(ctx, runID, OutcomePartial, nil, errors.New("one left")); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	fin := want().UTC()
	run.FinishedAt, run.Outcome, run.Error = &fin, OutcomePartial, "one left"
	if got, err = s.Run(ctx, runID); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Errorf("finished run:\n got %+v\nwant %+v", got, run)
	}
	if err := s.FinishRun(ctx, runID, OutcomeOK, nil, nil); !errors.Is(err, ErrFinalized) {
		t.Errorf("second FinishRun = %v, want ErrFinalized", err)
	}
}

func TestFinishRunSummary(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	id := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	if err := s.FinishRun(ctx, id, OutcomeOK, json.RawMessage(`{"ok":1}`), nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Summary) != `{"ok":1}` || r.Error != "" || r.FinishedAt == nil {
		t.Errorf("run = %+v", r)
	}
	if err := s.FinishRun(ctx, id+1, OutcomeOK, nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun missing = %v, want ErrNotFound", err)
	}
	if err := s.FinishRun(ctx, id, OutcomeOK, json.RawMessage(`{`), nil); err == nil {
		t.Error("FinishRun accepted invalid JSON")
	}
}

func TestRecordOutcomeError(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	runID := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	id, err := s.RecordIntent(ctx, Change{RunID: runID, ObjectGUID: "g", DN: "CN=A", Action: "update"})
	if err != nil {
		t.Fatal(err)
	}
	applyErr := fmt.Errorf("modify: %w", errors.New("LDAP Result Code 50"))
	if err := s.RecordOutcome(ctx, id, "", applyErr); err != nil {
		t.Fatalf("RecordOutcome: %v", err)
	}
	cs, err := s.Changes(ctx, runID)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Changes = %v, %v", cs, err)
	}
	c := cs[0]
	if c.Status != StatusFailed || c.Error != applyErr.Error() || c.OutcomeAt == nil || c.ObjectGUID != "g" {
		t.Errorf("change = %+v", c)
	}
	counts, err := s.ChangeCounts(ctx, runID)
	if err != nil || !reflect.DeepEqual(counts, map[string]int{StatusFailed: 1}) {
		t.Errorf("ChangeCounts = %v, %v", counts, err)
	}
	if err := s.RecordOutcome(ctx, id, "", nil); !errors.Is(err, ErrFinalized) {
		t.Errorf("second RecordOutcome = %v, want ErrFinalized", err)
	}
	if err := s.RecordOutcome(ctx, id+1, "", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordOutcome missing = %v, want ErrNotFound", err)
	}
	if _, err := s.RecordIntent(ctx, Change{RunID: runID + 1, DN: "CN=A", Action: "update"}); err == nil {
		t.Error("RecordIntent accepted a missing run (foreign key)")
	}
}

func TestRunNotFound(t *testing.T) {
	s, _ := openFile(t)
	if _, err := s.Run(t.Context(), 42); !errors.Is(err, ErrNotFound) {
		t.Errorf("Run(42) = %v, want ErrNotFound", err)
	}
}

func TestConcurrentJournaling(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *Store, runID int64) {
		ctx := t.Context()

		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for g := range 2 {
			wg.Go(func() {
				for i := range 50 {
					id, err := s.RecordIntent(ctx, Change{RunID: runID,
						Key: fmt.Sprintf("k%d-%d", g, i), DN: "CN=x", Action: "create"})
					if err == nil {
						err = s.RecordOutcome(ctx, id, fmt.Sprintf("guid-%d-%d", g, i), nil)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		cs, err := s.Changes(ctx, runID)
		if err != nil || len(cs) != 100 {
			t.Fatalf("Changes: %d rows, %v", len(cs), err)
		}
		counts, err := s.ChangeCounts(ctx, runID)
		if err != nil || !reflect.DeepEqual(counts, map[string]int{StatusApplied: 100}) {
			t.Errorf("ChangeCounts = %v, %v", counts, err)
		}
	})
}

func TestSetNowDeterministic(t *testing.T) {
	s, _ := openFile(t)
	fixed := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	s.SetNow(func() time.Time { return fixed })
	id := startRun(t, s, Run{Kind: "sync", Mode: "apply"})
	if err := s.FinishRun(t.Context(), id, OutcomeOK, nil, nil); err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !r.StartedAt.Equal(fixed) || r.FinishedAt == nil || !r.FinishedAt.Equal(fixed) {
		t.Errorf("times = %v, %v; want %v", r.StartedAt, r.FinishedAt, fixed)
	}
}

func TestRunsNewestFirst(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	s.SetNow(clock())
	var ids []int64
	for _, kind := range []string{"sync", "cutover", "rollback"} {
		ids = append(ids, startRun(t, s, Run{Kind: kind, Mode: "apply"}))
	}
	all, err := s.Runs(ctx, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("Runs(0) = %d runs, %v", len(all), err)
	}
	for i, r := range all {
		if r.ID != ids[2-i] {
			t.Errorf("Runs[%d].ID = %d, want %d", i, r.ID, ids[2-i])
		}
	}
	two, err := s.Runs(ctx, 2)
	if err != nil || len(two) != 2 || two[0].Kind != "rollback" || two[1].Kind != "cutover" {
		t.Errorf("Runs(2) = %+v, %v", two, err)
	}
	if !two[0].StartedAt.After(two[1].StartedAt) {
		t.Errorf("newest run started %v, not after %v", two[0].StartedAt, two[1].StartedAt)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	ctx := t.Context()
	s, _ := openFile(t)
	if _, err := s.Cursor(ctx, "dirsync"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cursor missing = %v, want ErrNotFound", err)
	}
	for _, cookie := range [][]byte{{0, 1, 2, 0xff}, []byte("second")} {
		if err := s.SetCursor(ctx, "dirsync", cookie); err != nil {
			t.Fatalf("SetCursor: %v", err)
		}
		got, err := s.Cursor(ctx, "dirsync")
		if err != nil || string(got) != string(cookie) {
			t.Errorf("Cursor = %q, %v; want %q", got, err, cookie)
		}
	}
}

func TestTimeFormatSorts(t *testing.T) {
	a := formatTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	b := formatTime(time.Date(2025, 1, 1, 0, 0, 0, 500, time.UTC))
	if !(a < b) {
		t.Errorf("%q !< %q", a, b)
	}
	if _, err := time.Parse(time.RFC3339Nano, a); err != nil {
		t.Errorf("not RFC3339Nano: %v", err)
	}
}
