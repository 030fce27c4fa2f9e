// Package journal records every change xtmsyncd makes to the directory in a
// SQLite database: runs, the per-object changes within them (intent before
// the write, outcome after it) and incremental sync cursors.
//
// The package is standalone: it stores plain data and imports no other
// project package. A Store is safe for concurrent use by several goroutines.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned (wrapped) when a requested run, change or cursor
// does not exist.
var ErrNotFound = errors.New("journal: not found")

// ErrFinalized is returned (wrapped) when finishing a run that has already
// finished, or recording the outcome of a change that is no longer pending.
var ErrFinalized = errors.New("journal: entry already finalized")

// memoryPath is the path that selects a private in-memory database.
const memoryPath = ":memory:"

// Store is the SQLite journal.
type Store struct {
	db *sql.DB
	// wmu serialises this process's change writes. Two of the engine's workers committing at
	// once would otherwise meet on SQLite's write lock, whose busy handler sleeps at least a
	// millisecond: measured, the median journal write went from 0.4 ms to 1.6 ms with two
	// writers. Waiting on a Go mutex costs microseconds. Other processes still meet the
	// busy timeout, which is rare (runs are serialised by the apply lock).
	wmu sync.Mutex

	mu  sync.RWMutex
	now func() time.Time

	// The two statements every write runs, prepared once: modernc's SQLite parses a statement
	// again on every Exec otherwise.
	insertIntentStmt, updateOutcomeStmt *sql.Stmt
}

// Open opens (creating with file mode 0600 if needed) the journal at path
// and applies any pending embedded migrations. An existing file whose mode
// is more permissive than 0600 is chmod-ed to 0600. The path ":memory:"
// opens a private in-memory journal, which lives as long as the Store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("journal: open: empty path")
	}
	dsn := memoryDSN()
	if path != memoryPath {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("journal: open %s: %w", path, err)
		}
		if err := prepareFile(abs); err != nil {
			return nil, fmt.Errorf("journal: open %s: %w", path, err)
		}
		dsn = fileDSN(abs)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	if path == memoryPath {
		// Each connection to ":memory:" is a distinct database, so keep
		// exactly one connection alive for the Store's lifetime.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	s := &Store{db: db, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	if s.insertIntentStmt, err = db.PrepareContext(ctx, insertIntentSQL); err == nil {
		s.updateOutcomeStmt, err = db.PrepareContext(ctx, updateOutcomeSQL)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: prepare: %w", path, err)
	}
	return s, nil
}

// Close closes the underlying database.
func (s *Store) Close() error {
	s.insertIntentStmt.Close()
	s.updateOutcomeStmt.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// SetNow overrides the clock (tests). A nil now restores time.Now.
func (s *Store) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// Now returns the current time according to the Store's clock, in UTC.
func (s *Store) Now() time.Time {
	s.mu.RLock()
	now := s.now
	s.mu.RUnlock()
	return now().UTC()
}

// pragmas are applied to every connection. _txlock=immediate makes
// transactions take the write lock up front, so they wait on busy_timeout
// instead of failing with SQLITE_BUSY when upgrading a read lock.
const pragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"

func memoryDSN() string {
	return "file::memory:?" + pragmas
}

func fileDSN(abs string) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + pragmas + "&_pragma=journal_mode(WAL)"
}

// prepareFile creates path with mode 0600 if missing and tightens the mode
// of the database and its WAL side files if they are more permissive.
func prepareFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&^0o600 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
