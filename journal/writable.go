package journal

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotWritable is returned (wrapped) by CheckWritable when the journal cannot commit a write.
var ErrNotWritable = errors.New("journal: not writable")

// CheckWritable proves that the journal accepts a write now: it takes SQLite's write lock (as
// every journal write does, waiting at most the busy timeout), rewrites the database header's
// user_version with the value it holds, and commits, which appends a page to the write-ahead
// log and syncs it to disk. Nothing visible changes. Call it before planning a command that
// writes, so that a read-only, full or locked journal is reported before a plan is printed or
// a directory is touched, not after.
//
// It cannot prove that the disk has room for every change of the run to come: a disk with a
// few kilobytes free passes. The error wraps ErrNotWritable and names the file, what SQLite
// said and what to do.
func (s *Store) CheckWritable(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.rewriteHeader(ctx)
	if err == nil {
		return nil
	}
	path := s.file(ctx)
	var fix string
	switch sqliteCode(err) {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		fix = "another process holds the journal's write lock; wait for it to finish (xtmsyncd journal show), or stop it"
	case 8: // SQLITE_READONLY
		fix = "the journal is open read-only: give the account xtmsyncd runs as write access to the file and its directory (SQLite creates " +
			path + "-wal and -shm next to it), and check that the file system is not mounted read-only"
	case 13: // SQLITE_FULL
		fix = "the disk holding the journal is full: free space on it, or move the journal (journal.path) to a disk with room"
	case 14: // SQLITE_CANTOPEN
		fix = "SQLite cannot create or open the journal's -wal or -shm file: give the account write access to the journal's directory"
	default: // SQLITE_IOERR and anything else
		fix = "the operating system refused the write: check free space, quotas and file size limits (ulimit -f) on the journal's disk, " +
			"that the file system is not read-only, and the kernel log for disk errors"
	}
	return fmt.Errorf("%w: %s: a test write failed (%v): %s", ErrNotWritable, path, err, fix)
}

// rewriteHeader commits a write of user_version's own value.
func (s *Store) rewriteHeader(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock=immediate): takes the write lock
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	var v int64
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		return err
	}
	return tx.Commit()
}

// file returns the path of the main database file ("" in memory).
func (s *Store) file(ctx context.Context) string {
	var seq int
	var name, file string
	if err := s.db.QueryRowContext(ctx, "SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'").Scan(&seq, &name, &file); err != nil {
		return "the journal"
	}
	if file == "" {
		return "the in-memory journal"
	}
	return file
}

// sqliteCode returns the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code() & 0xff
	}
	return 0
}
