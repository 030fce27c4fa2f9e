package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Change statuses.
const (
	StatusPending = "pending"
	StatusApplied = "applied"
	StatusFailed  = "failed"
	// StatusUnknown: the write was sent and the connection dropped before the answer; recovery
	// resolves it against the directory (applied or not applied).
	StatusUnknown = "unknown"
	// StatusNotApplied: a pending or unknown write that the directory showed did not happen.
	StatusNotApplied = "not_applied"
)

// AttrValues describes one attribute touched by a change.
type AttrValues struct {
	Name   string   `json:"name"`
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
	Add    []string `json:"add,omitempty"`
	Delete []string `json:"delete,omitempty"`
}

// Change is one directory write within a run.
type Change struct {
	ID         int64
	RunID      int64
	ObjectGUID string // the target object's objectGUID (string form) if known, else ""
	Key        string // the ExchangeGUID the change is keyed by
	DN         string
	Forest     string       // "target" (default) or "source"
	Action     string       // "create", "update", "delete"
	Attrs      []AttrValues // stored as JSON
	IntentAt   time.Time
	OutcomeAt  *time.Time
	Status     string // "pending", "applied", "failed", "unknown", "not_applied"
	Error      string
	// Resolution says how recovery resolved a pending or unknown change (or learned a
	// create's objectGUID) against the directory, and when; "" when it never had to.
	Resolution string
}

// execer is what a write needs: the database, or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// RecordIntent journals c as "pending" with IntentAt = Now, before the write
// is attempted. It is committed when RecordIntent returns. c's ID,
// IntentAt, OutcomeAt, Status and Error are ignored.
func (s *Store) RecordIntent(ctx context.Context, c Change) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	id, err := s.insertIntent(ctx, s.db, c)
	if err != nil {
		return 0, fmt.Errorf("journal: record intent: %w", err)
	}
	return id, nil
}

// RecordOutcome marks a pending change "applied" (applyErr nil) or "failed"
// with applyErr's text (or "unknown" when applyErr wraps ErrOutcomeUnknown),
// and sets OutcomeAt = Now. A non-empty objectGUID
// replaces the stored one (a create learns it after the add). A change
// that is no longer pending fails with ErrFinalized.
func (s *Store) RecordOutcome(ctx context.Context, changeID int64, objectGUID string, applyErr error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.updateOutcome(ctx, s.db, changeID, objectGUID, applyErr)
}

// Outcome is the result of one journaled change's write, for RecordGroup.
type Outcome struct {
	ChangeID   int64
	ObjectGUID string // as for RecordOutcome: a non-empty one replaces the stored one
	Err        error  // nil: applied; wrapping ErrOutcomeUnknown: unknown
}

// ErrOutcomeUnknown marks an outcome error as "the write was sent and its answer lost": such a
// change is journaled with StatusUnknown, for recovery to resolve against the directory.
var ErrOutcomeUnknown = errors.New("journal: outcome unknown")

// statusOf is the status an outcome error gives a change.
func statusOf(applyErr error) string {
	switch {
	case applyErr == nil:
		return StatusApplied
	case errors.Is(applyErr, ErrOutcomeUnknown):
		return StatusUnknown
	}
	return StatusFailed
}

// RecordGroup is RecordOutcome of every outcome followed by RecordIntent of
// every change in next, committed in one transaction (one fsync): a writer
// journals the outcomes of its last few writes and the intents of its next
// few together. All rows are committed when it returns, or none is; each
// outcome is still journaled after its own write and each intent before
// its write. It returns next's IDs in order.
func (s *Store) RecordGroup(ctx context.Context, outcomes []Outcome, next []Change) ([]int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("journal: record %d outcomes and %d intents: %w", len(outcomes), len(next), err)
	}
	defer tx.Rollback() // a no-op after Commit
	for _, o := range outcomes {
		if err := s.updateOutcome(ctx, tx, o.ChangeID, o.ObjectGUID, o.Err); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(next))
	for i, c := range next {
		if ids[i], err = s.insertIntent(ctx, tx, c); err != nil {
			return nil, fmt.Errorf("journal: record intent for %s: %w", c.DN, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("journal: record %d outcomes and %d intents: %w", len(outcomes), len(next), err)
	}
	return ids, nil
}

// SetObjectGUIDs records the objectGUIDs of created objects, learned after their outcomes
// were journaled (one search for a whole chunk instead of a read after every add), in one
// transaction. Only an empty object_guid is filled in; it adds no row and changes no status.
func (s *Store) SetObjectGUIDs(ctx context.Context, guids map[int64]string) error {
	if len(guids) == 0 {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: set object GUIDs: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	for id, g := range guids {
		if _, err := tx.ExecContext(ctx, `UPDATE changes SET object_guid = ? WHERE id = ? AND object_guid = ''`, g, id); err != nil {
			return fmt.Errorf("journal: set object GUID of change %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: set object GUIDs: %w", err)
	}
	return nil
}

const insertIntentSQL = `INSERT INTO changes
	(run_id, object_guid, key, dn, forest, action, attrs, intent_at, status)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

const updateOutcomeSQL = `UPDATE changes
	SET status = ?, error = ?, outcome_at = ?,
		object_guid = CASE WHEN ? = '' THEN object_guid ELSE ? END
	WHERE id = ? AND status = ?`

// stmt returns the prepared statement st for db: itself on the database, bound to the
// transaction inside one.
func (s *Store) stmt(ctx context.Context, db execer, st *sql.Stmt) *sql.Stmt {
	if tx, ok := db.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st)
	}
	return st
}

func (s *Store) insertIntent(ctx context.Context, db execer, c Change) (int64, error) {
	if c.RunID == 0 || c.DN == "" || c.Action == "" {
		return 0, errors.New("run id, dn and action are required")
	}
	attrs, err := json.Marshal(c.Attrs)
	if err != nil {
		return 0, err
	}
	forest := c.Forest
	if forest == "" {
		forest = "target"
	}
	res, err := s.stmt(ctx, db, s.insertIntentStmt).ExecContext(ctx,
		c.RunID, c.ObjectGUID, c.Key, c.DN, forest, c.Action, string(attrs),
		formatTime(s.Now()), StatusPending)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *Store) updateOutcome(ctx context.Context, db execer, changeID int64, objectGUID string, applyErr error) error {
	status := statusOf(applyErr)
	res, err := s.stmt(ctx, db, s.updateOutcomeStmt).ExecContext(ctx,
		status, errText(applyErr), formatTime(s.Now()),
		objectGUID, objectGUID, changeID, StatusPending)
	if err != nil {
		return fmt.Errorf("journal: record outcome %d: %w", changeID, err)
	}
	return checkUpdated(ctx, db, res, "changes", "change", changeID)
}

// Changes returns the changes of a run in ID order.
func (s *Store) Changes(ctx context.Context, runID int64) ([]Change, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+changeColumns+`
		FROM changes WHERE run_id = ? ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("journal: changes of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("journal: changes of run %d: %w", runID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: changes of run %d: %w", runID, err)
	}
	return out, nil
}

// ChangeCounts returns the number of changes of a run per status. Statuses
// with no changes are absent.
func (s *Store) ChangeCounts(ctx context.Context, runID int64) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT status, COUNT(*) FROM changes WHERE run_id = ? GROUP BY status`, runID)
	if err != nil {
		return nil, fmt.Errorf("journal: change counts of run %d: %w", runID, err)
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("journal: change counts of run %d: %w", runID, err)
		}
		out[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: change counts of run %d: %w", runID, err)
	}
	return out, nil
}

const changeColumns = `id, run_id, object_guid, key, dn, forest,
		action, attrs, intent_at, outcome_at, status, error, resolution`

func scanChange(sc scanner) (Change, error) {
	var (
		c       Change
		attrs   string
		intent  string
		outcome sql.NullString
	)
	err := sc.Scan(&c.ID, &c.RunID, &c.ObjectGUID, &c.Key, &c.DN, &c.Forest, &c.Action,
		&attrs, &intent, &outcome, &c.Status, &c.Error, &c.Resolution)
	if err != nil {
		return Change{}, err
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attrs); err != nil {
		return Change{}, fmt.Errorf("change %d attrs: %w", c.ID, err)
	}
	if c.IntentAt, err = parseTime(intent); err != nil {
		return Change{}, err
	}
	if c.OutcomeAt, err = parseNullTime(outcome); err != nil {
		return Change{}, err
	}
	return c, nil
}
