package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RecoverCrashed finishes, as "crashed", every run left "running" by a process that is gone:
// one on this host whose pid no longer exists, or one on another host that holds no lock with
// a heartbeat younger than ttl and started more than ttl ago. Its pending changes stay pending
// until Unresolved and Resolve settle them against the directory. It returns the runs it
// marked (their Outcome and Error as now stored).
func (s *Store) RecoverCrashed(ctx context.Context, ttl time.Duration) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE outcome = ? ORDER BY id`, OutcomeRunning)
	if err != nil {
		return nil, fmt.Errorf("journal: recover crashed runs: %w", err)
	}
	var running []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("journal: recover crashed runs: %w", err)
		}
		running = append(running, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: recover crashed runs: %w", err)
	}
	now := s.Now()
	var out []Run
	for _, r := range running {
		why, crashed, err := s.gone(ctx, r, now, ttl)
		if err != nil {
			return out, err
		}
		if !crashed {
			continue
		}
		pending, err := s.ChangeCounts(ctx, r.ID)
		if err != nil {
			return out, err
		}
		msg := fmt.Sprintf("crashed: %s; found at %s. %d writes had no outcome: the next command that reaches the directory resolves them (see each change's resolution)",
			why, now.Local().Format(time.RFC3339), pending[StatusPending]+pending[StatusUnknown])
		res, err := s.db.ExecContext(ctx, `UPDATE runs SET outcome = ?, finished_at = ?, error = ? WHERE id = ? AND outcome = ?`,
			OutcomeCrashed, formatTime(now), msg, r.ID, OutcomeRunning)
		if err != nil {
			return out, fmt.Errorf("journal: mark run %d crashed: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			r.Outcome, r.Error, r.FinishedAt = OutcomeCrashed, msg, &now
			out = append(out, r)
		}
	}
	return out, nil
}

// gone says whether the process of a running run is gone, and how that is known.
func (s *Store) gone(ctx context.Context, r Run, now time.Time, ttl time.Duration) (string, bool, error) {
	if r.PID <= 0 || r.Host == "" {
		return "", false, nil // written before runs recorded their process: only a person can tell
	}
	if goneHere(r.Host, r.PID) {
		return fmt.Sprintf("its process (pid %d on %s) is gone", r.PID, r.Host), true, nil
	}
	if me, _ := self(); r.Host == me {
		return "", false, nil // alive here
	}
	if now.Sub(r.StartedAt) < ttl {
		return "", false, nil
	}
	var beat string
	err := s.db.QueryRowContext(ctx, `SELECT heartbeat FROM locks WHERE host = ? AND pid = ?`, r.Host, r.PID).Scan(&beat)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Sprintf("its process (pid %d on %s) holds no lock and started %s ago", r.PID, r.Host, now.Sub(r.StartedAt).Round(time.Second)), true, nil
	case err != nil:
		return "", false, fmt.Errorf("journal: lock of run %d: %w", r.ID, err)
	}
	b, _ := parseTime(beat)
	if now.Sub(b) >= ttl {
		return fmt.Sprintf("its process (pid %d on %s) last proved alive at %s", r.PID, r.Host, b.Local().Format(time.RFC3339)), true, nil
	}
	return "", false, nil
}

// Unresolved returns, oldest first, the changes of finished (or crashed) runs that recovery
// must settle against the directory: writes with no outcome (pending: the process died between
// the write and its outcome) or an unknown one (the connection dropped after the write was
// sent), and applied creates whose objectGUID was never read back.
func (s *Store) Unresolved(ctx context.Context) ([]Change, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+changeColumns+` FROM changes
		WHERE resolution = '' AND (status IN ('pending', 'unknown') OR (status = 'applied' AND action = 'create' AND object_guid = ''))
		AND run_id IN (SELECT id FROM runs WHERE outcome != ?)
		ORDER BY id`, OutcomeRunning)
	if err != nil {
		return nil, fmt.Errorf("journal: unresolved changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("journal: unresolved changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: unresolved changes: %w", err)
	}
	return out, nil
}

// Resolve records what the directory showed of an unresolved change: its status now (applied,
// not_applied, or unknown when the directory cannot tell), the objectGUID it learned (""
// keeps the stored one) and why, stamped with the time. A change already resolved is left as
// it is (another process got there first); the bool says whether this call resolved it.
func (s *Store) Resolve(ctx context.Context, changeID int64, status, objectGUID, why string) (bool, error) {
	switch status {
	case StatusApplied, StatusNotApplied, StatusUnknown:
	default:
		return false, fmt.Errorf("journal: resolve change %d: status %q", changeID, status)
	}
	now := s.Now()
	note := "resolved " + now.Local().Format(time.RFC3339) + ": " + strings.TrimSpace(why)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	res, err := s.db.ExecContext(ctx, `UPDATE changes
		SET status = ?, resolution = ?, outcome_at = COALESCE(outcome_at, ?),
			object_guid = CASE WHEN ? = '' THEN object_guid ELSE ? END
		WHERE id = ? AND resolution = ''`,
		status, note, formatTime(now), objectGUID, objectGUID, changeID)
	if err != nil {
		return false, fmt.Errorf("journal: resolve change %d: %w", changeID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CreatedAt returns the objectGUIDs that other runs' applied creates recorded at dn: an object
// at dn with one of them is theirs, not the run being resolved.
func (s *Store) CreatedAt(ctx context.Context, dn string, exceptRun int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT object_guid FROM changes
		WHERE dn = ? AND action = 'create' AND status = 'applied' AND object_guid != '' AND run_id != ?`, dn, exceptRun)
	if err != nil {
		return nil, fmt.Errorf("journal: creates at %s: %w", dn, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("journal: creates at %s: %w", dn, err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// RollbacksOf returns the rollback runs that applied the inverse of run (mode "apply", parent
// run), oldest first.
func (s *Store) RollbacksOf(ctx context.Context, run int64) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE kind = 'rollback' AND mode = 'apply' AND parent_run_id = ? ORDER BY id`, run)
	if err != nil {
		return nil, fmt.Errorf("journal: rollbacks of run %d: %w", run, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("journal: rollbacks of run %d: %w", run, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
