package journal

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version string
	sql     string
}

// migrations returns the embedded migrations in version (file name) order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		out = append(out, migration{version: version, sql: string(b)})
	}
	return out, nil
}

// migrate applies each embedded migration not yet recorded in
// schema_migrations, each in its own transaction. It refuses a database
// that records a migration this binary does not know (a newer schema).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`
	if _, err := s.db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err := s.checkKnown(ctx, ms); err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.apply(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.version, err)
		}
	}
	return nil
}

func (s *Store) checkKnown(ctx context.Context, ms []migration) error {
	known := make(map[string]bool, len(ms))
	for _, m := range ms {
		known[m.version] = true
	}
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return err
	}
	for _, v := range applied {
		if !known[v] {
			return fmt.Errorf("database has unknown migration %q (written by a newer version?)", v)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	var one int
	err = tx.QueryRowContext(ctx,
		`SELECT 1 FROM schema_migrations WHERE version = ?`, m.version).Scan(&one)
	if err == nil {
		return nil // already applied
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, formatTime(s.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) appliedVersions(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return out, nil
}

// SchemaVersion returns the latest applied migration version ("" if none).
func (s *Store) SchemaVersion(ctx context.Context) (string, error) {
	vs, err := s.appliedVersions(ctx)
	if err != nil {
		return "", err
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[len(vs)-1], nil
}
