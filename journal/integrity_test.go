package journal_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/journal"
)

// fillJournal creates a journal file at path holding one run of n applied changes, as the engine
// journals them, and closes it (SQLite checkpoints the WAL into the main file on the last close).
func fillJournal(t testing.TB, path string, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := journal.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	runID, err := s.StartRun(ctx, journal.Run{Kind: "sync", Mode: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	const group = 1000
	var prev []journal.Outcome
	for i := 0; i < n; i += group {
		next := make([]journal.Change, 0, group)
		for k := i; k < min(n, i+group); k++ {
			next = append(next, journal.Change{RunID: runID, Action: "update",
				DN:         fmt.Sprintf("CN=user-%06d,OU=Cross-Tenant,DC=northwind,DC=test", k),
				Key:        fmt.Sprintf("4b473705-cdee-2252-606c-%012d", k),
				ObjectGUID: fmt.Sprintf("0e7d1b6c-3f1a-4c55-9a53-%012d", k),
				Attrs: []journal.AttrValues{{Name: "displayName", Before: []string{"drifted"}, After: []string{fmt.Sprint("User ", k)}},
					{Name: "proxyAddresses", Add: []string{fmt.Sprintf("smtp:user-%06d@northwind.com", k)}}}})
		}
		ids, err := s.RecordGroup(ctx, prev, next)
		if err != nil {
			t.Fatal(err)
		}
		prev = prev[:0]
		for _, id := range ids {
			prev = append(prev, journal.Outcome{ChangeID: id})
		}
	}
	if _, err := s.RecordGroup(ctx, prev, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, runID, journal.OutcomeOK, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("%s-wal is still there after Close: the test needs every page in the main file", path)
	}
}

// pages returns the file's page size (from the SQLite header) and page count.
func pages(t testing.TB, path string) (size, count int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 100 || string(b[:16]) != "SQLite format 3\x00" {
		t.Fatalf("%s is not a SQLite file", path)
	}
	size = int(binary.BigEndian.Uint16(b[16:18]))
	if size == 1 {
		size = 65536
	}
	return size, len(b) / size
}

// overwritePage writes seeded garbage over page number page (1-based) of the file.
func overwritePage(t testing.TB, path string, page, size int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := make([]byte, size)
	r := rand.New(rand.NewPCG(14, uint64(page)))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(garbage, int64(page-1)*int64(size)); err != nil {
		t.Fatal(err)
	}
}

// integrityCheck runs PRAGMA integrity_check on the file with a plain connection (not the
// journal's), so the test knows the damage is real before it asks Open to find it.
func integrityCheck(t testing.TB, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return append(out, err.Error())
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		out = append(out, err.Error())
	}
	return out
}

// A journal whose middle page is garbage is refused at Open, with an error that names the file
// and says what to do, before any caller can plan or write with it (issue 14, finding 6).
func TestOpen_DamagedMiddlePageRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	fillJournal(t, path, 5000)
	size, count := pages(t, path)
	if count < 20 {
		t.Fatalf("only %d pages: the test needs a file of several pages", count)
	}
	if got := integrityCheck(t, path); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("the intact journal fails integrity_check: %v", got)
	}
	middle := count / 2
	overwritePage(t, path, middle, size)
	if got := integrityCheck(t, path); len(got) == 1 && got[0] == "ok" {
		t.Fatalf("page %d of %d overwritten, yet integrity_check says ok", middle, count)
	}

	s, err := journal.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open accepted a journal whose page %d of %d is garbage", middle, count)
	}
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Errorf("error does not wrap journal.ErrCorrupt: %v", err)
	}
	for _, want := range []string{path, "quick_check", "move the file aside", "mv " + path + " " + path + ".damaged", "restore the latest backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	t.Logf("Open: %v", err)
}

// A file that is not a SQLite database at all is refused the same way.
func TestOpen_NotADatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("this is not a journal\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := journal.Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a text file as a journal")
	}
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("error does not wrap journal.ErrCorrupt or name the file: %v", err)
	}
}

// An intact journal, a new one and an in-memory one open as before.
func TestOpen_IntactJournalPassesQuickCheck(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	fillJournal(t, path, 3000)
	for _, p := range []string{path, filepath.Join(t.TempDir(), "new.db"), ":memory:"} {
		s, err := journal.Open(ctx, p)
		if err != nil {
			t.Fatalf("Open %s: %v", p, err)
		}
		if _, err := s.Runs(ctx, 0); err != nil {
			t.Errorf("Runs on %s: %v", p, err)
		}
		s.Close()
	}
}

// BenchmarkOpen_QuickCheck measures Open (quick_check included) of a journal of 10,000 and
// 100,000 changes, and PRAGMA quick_check alone on the same file. Run with
// go test -run '^$' -bench Open_QuickCheck -benchtime 10x ./journal/
func BenchmarkOpen_QuickCheck(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		path := filepath.Join(b.TempDir(), "journal.db")
		t0 := time.Now()
		fillJournal(b, path, n)
		fi, _ := os.Stat(path)
		b.Logf("%d changes: %.1f MB, filled in %s", n, float64(fi.Size())/1e6, time.Since(t0).Round(time.Millisecond))
		b.Run(fmt.Sprintf("changes=%d/Open", n), func(b *testing.B) {
			for b.Loop() {
				s, err := journal.Open(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(fmt.Sprintf("changes=%d/quick_check", n), func(b *testing.B) {
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for b.Loop() {
				var res string
				if err := db.QueryRow("PRAGMA quick_check").Scan(&res); err != nil || res != "ok" {
					b.Fatalf("quick_check: %q %v", res, err)
				}
			}
		})
	}
}
