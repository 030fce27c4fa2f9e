package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run outcomes.
const (
	OutcomeRunning = "running"
	OutcomeOK      = "ok"
	OutcomePartial = "partial"
	OutcomeFailed  = "failed"
	OutcomeRefused = "refused"
	// OutcomeCrashed: the run was left "running" by a process that is gone (see RecoverCrashed).
	OutcomeCrashed = "crashed"
)

// Run is one invocation of a journaled operation.
type Run struct {
	ID          int64
	Kind        string          // "sync", "cutover", "rollback", ...
	Mode        string          // "dry-run" or "apply"
	Actor       string          // who: user@host
	ConfigHash  string          // sha256 hex of the config file
	PlanHash    string          // sha256 hex of the plan JSON
	Summary     json.RawMessage // summary JSON (may be nil)
	StartedAt   time.Time
	FinishedAt  *time.Time
	Outcome     string // "running", "ok", "partial", "failed", "refused"
	Error       string
	ParentRunID int64  // e.g. the run a rollback inverts; 0 if none
	Host        string // the host of the process that ran it
	PID         int    // that process's id
	// SourceDC and TargetDC are the domain controllers the run's connections went to (JSON
	// of ldapconn.DC; "" when the run touched no directory or predates migration 0005).
	SourceDC, TargetDC string
}

// StartRun inserts r with Outcome "running" and StartedAt = Now, ignoring
// r's ID, StartedAt, FinishedAt, Outcome and Error. Host and PID default to
// this process's. It returns the new ID.
func (s *Store) StartRun(ctx context.Context, r Run) (int64, error) {
	if r.Kind == "" || r.Mode == "" {
		return 0, errors.New("journal: start run: kind and mode are required")
	}
	summary, err := nullJSON(r.Summary)
	if err != nil {
		return 0, fmt.Errorf("journal: start run: %w", err)
	}
	parent := sql.NullInt64{Int64: r.ParentRunID, Valid: r.ParentRunID != 0}
	if r.Host == "" && r.PID == 0 {
		r.Host, r.PID = self()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs
		(kind, mode, actor, config_hash, plan_hash, summary, started_at, outcome, parent_run_id, host, pid, source_dc, target_dc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Kind, r.Mode, r.Actor, r.ConfigHash, r.PlanHash, summary,
		formatTime(s.Now()), OutcomeRunning, parent, r.Host, r.PID, r.SourceDC, r.TargetDC)
	if err != nil {
		return 0, fmt.Errorf("journal: start run: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("journal: start run: %w", err)
	}
	return id, nil
}

// FinishRun sets the run's outcome, FinishedAt = Now and the error text of
// runErr (empty if nil). A nil summary keeps the summary given to StartRun.
// Finishing an already finished run fails with ErrFinalized.
func (s *Store) FinishRun(ctx context.Context, runID int64, outcome string, summary json.RawMessage, runErr error) error {
	if outcome == "" || outcome == OutcomeRunning {
		return fmt.Errorf("journal: finish run %d: invalid outcome %q", runID, outcome)
	}
	sum, err := nullJSON(summary)
	if err != nil {
		return fmt.Errorf("journal: finish run %d: %w", runID, err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs
		SET outcome = ?, finished_at = ?, error = ?, summary = COALESCE(?, summary)
		WHERE id = ? AND finished_at IS NULL`,
		outcome, formatTime(s.Now()), errText(runErr), sum, runID)
	if err != nil {
		return fmt.Errorf("journal: finish run %d: %w", runID, err)
	}
	return s.checkUpdated(ctx, res, "runs", "run", runID)
}

// Run returns the run with the given ID, wrapping ErrNotFound if missing.
func (s *Store) Run(ctx context.Context, id int64) (Run, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("journal: run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("journal: run %d: %w", id, err)
	}
	return r, nil
}

// Runs returns up to limit runs, newest first; limit <= 0 means all.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+runColumns+` FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("journal: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("journal: runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: runs: %w", err)
	}
	return out, nil
}

const runColumns = `id, kind, mode, actor, config_hash, plan_hash, summary,
	started_at, finished_at, outcome, error, parent_run_id, host, pid, source_dc, target_dc`

type scanner interface {
	Scan(dest ...any) error
}

func scanRun(sc scanner) (Run, error) {
	var (
		r        Run
		summary  sql.NullString
		started  string
		finished sql.NullString
		parent   sql.NullInt64
	)
	err := sc.Scan(&r.ID, &r.Kind, &r.Mode, &r.Actor, &r.ConfigHash, &r.PlanHash,
		&summary, &started, &finished, &r.Outcome, &r.Error, &parent, &r.Host, &r.PID, &r.SourceDC, &r.TargetDC)
	if err != nil {
		return Run{}, err
	}
	if summary.Valid {
		r.Summary = json.RawMessage(summary.String)
	}
	if r.StartedAt, err = parseTime(started); err != nil {
		return Run{}, err
	}
	if r.FinishedAt, err = parseNullTime(finished); err != nil {
		return Run{}, err
	}
	r.ParentRunID = parent.Int64
	return r, nil
}

// nullJSON validates raw and maps nil/empty to SQL NULL.
func nullJSON(raw json.RawMessage) (sql.NullString, error) {
	if len(raw) == 0 {
		return sql.NullString{}, nil
	}
	if !json.Valid(raw) {
		return sql.NullString{}, errors.New("summary is not valid JSON")
	}
	return sql.NullString{String: string(raw), Valid: true}, nil
}

// checkUpdated turns a zero-row guarded UPDATE into ErrNotFound or
// ErrFinalized, depending on whether the row exists.
func (s *Store) checkUpdated(ctx context.Context, res sql.Result, table, what string, id int64) error {
	return checkUpdated(ctx, s.db, res, table, what, id)
}

// checkUpdated is Store.checkUpdated on db, which may be a transaction: a
// transaction must look through itself (an in-memory journal has one
// connection, which the transaction holds).
func checkUpdated(ctx context.Context, db execer, res sql.Result, table, what string, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("journal: %s %d: %w", what, id, err)
	}
	if n > 0 {
		return nil
	}
	var one int
	err = db.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("journal: %s %d: %w", what, id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("journal: %s %d: %w", what, id, err)
	default:
		return fmt.Errorf("journal: %s %d: %w", what, id, ErrFinalized)
	}
}
