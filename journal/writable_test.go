package journal

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writableStore opens a journal file holding one finished run and truncates its write-ahead log,
// so a test can see whether a write reached the disk.
func writableStore(t *testing.T) (*Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	id, err := s.StartRun(ctx, Run{Kind: "sync", Mode: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, id, OutcomeOK, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	return s, path
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// requireNotWritable checks that err wraps ErrNotWritable and says which file and what to do.
func requireNotWritable(t *testing.T, err error, path string, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("CheckWritable passed")
	}
	if !errors.Is(err, ErrNotWritable) {
		t.Errorf("error does not wrap ErrNotWritable: %v", err)
	}
	for _, want := range append([]string{path}, wants...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	t.Logf("CheckWritable: %v", err)
}

// A writable journal passes, and the check is a real write (the write-ahead log grows on disk)
// that changes nothing a reader sees.
func TestCheckWritable_IsARealWriteThatChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, path := writableStore(t)
	if n := walSize(t, path); n != 0 {
		t.Fatalf("WAL holds %d bytes after a truncating checkpoint", n)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	before, err := s.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("CheckWritable on a writable journal: %v", err)
	}
	if n := walSize(t, path); n == 0 {
		t.Error("CheckWritable wrote nothing to the write-ahead log: it proved nothing")
	}
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != 7 {
		t.Errorf("user_version = %d (%v), want 7 kept", v, err)
	}
	after, err := s.Runs(ctx, 0)
	if err != nil || len(after) != len(before) || after[0].ID != before[0].ID {
		t.Errorf("runs changed: %v -> %v (%v)", before, after, err)
	}

	mem, err := Open(ctx, memoryPath)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := mem.CheckWritable(ctx); err != nil {
		t.Errorf("CheckWritable in memory: %v", err)
	}
}

// A journal open read-only (SQLite's mode=ro: the one read-only case that holds for root, who
// ignores file modes) fails the check with SQLITE_READONLY and says so.
func TestCheckWritable_ReadOnly(t *testing.T) {
	_, path := writableStore(t)
	db, err := sql.Open("sqlite", fileDSN(path)+"&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro := &Store{db: db, now: time.Now}
	if _, err := ro.Runs(context.Background(), 0); err != nil {
		t.Fatalf("reading the read-only journal: %v", err)
	}
	requireNotWritable(t, ro.CheckWritable(context.Background()), path, "read-only", "write access")
}

// Another process holding the write lock for longer than the busy timeout (5 s) fails the check,
// which says so.
func TestCheckWritable_Locked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s busy timeout")
	}
	s, path := writableStore(t)
	other, err := sql.Open("sqlite", fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin() // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE runs SET actor = 'holding the lock'"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	requireNotWritable(t, s.CheckWritable(context.Background()), path, "write lock")
	t.Logf("refused after %s", time.Since(t0).Round(time.Millisecond))
}
