package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SetCursor stores (replacing any previous value) the incremental sync
// cookie for source.
func (s *Store) SetCursor(ctx context.Context, source string, cookie []byte) error {
	if source == "" {
		return errors.New("journal: set cursor: empty source")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO cursors (source, cookie, updated_at)
		VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET cookie = excluded.cookie, updated_at = excluded.updated_at`,
		source, cookie, formatTime(s.Now()))
	if err != nil {
		return fmt.Errorf("journal: set cursor %q: %w", source, err)
	}
	return nil
}

// Cursor returns the cookie stored for source, wrapping ErrNotFound if
// none was ever set.
func (s *Store) Cursor(ctx context.Context, source string) ([]byte, error) {
	var cookie []byte
	err := s.db.QueryRowContext(ctx,
		`SELECT cookie FROM cursors WHERE source = ?`, source).Scan(&cookie)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("journal: cursor %q: %w", source, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: cursor %q: %w", source, err)
	}
	return cookie, nil
}
