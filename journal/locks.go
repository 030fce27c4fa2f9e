package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LockedError says who holds a lock, since when, and when it last proved alive.
type LockedError struct {
	Name      string
	Holder    string
	Since     time.Time
	Heartbeat time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another xtmsyncd holds the %q lock: %s, since %s (last heartbeat %s); stop it first, or wait for it to finish",
		e.Name, e.Holder, e.Since.Local().Format(time.RFC3339), e.Heartbeat.Local().Format(time.RFC3339))
}

// ErrLockLost is returned by Refresh when another holder took the lock over.
var ErrLockLost = errors.New("journal: lock lost")

// Lock is a held lock; Refresh it more often than the ttl given to AcquireLock.
type Lock struct {
	s      *Store
	name   string
	holder string
}

// AcquireLock takes the named lock for holder (e.g. "root@host pid 123"). A lock is taken
// over when it is abandoned: its holder ran on this host and its process is gone (at once), or
// its heartbeat is older than ttl (a holder on another host). When it is held, the error is a
// *LockedError.
func (s *Store) AcquireLock(ctx context.Context, name, holder string, ttl time.Duration) (*Lock, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("journal: lock %q: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	now := s.Now()
	var (
		h, since, beat, host string
		pid                  int
	)
	err = tx.QueryRowContext(ctx, `SELECT holder, since, heartbeat, host, pid FROM locks WHERE name = ?`, name).
		Scan(&h, &since, &beat, &host, &pid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("journal: lock %q: %w", name, err)
	default:
		b, _ := parseTime(beat)
		if now.Sub(b) < ttl && !goneHere(host, pid) {
			st, _ := parseTime(since)
			return nil, &LockedError{Name: name, Holder: h, Since: st, Heartbeat: b}
		}
	}
	myHost, myPID := self()
	if _, err := tx.ExecContext(ctx, `INSERT INTO locks (name, holder, since, heartbeat, host, pid) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, since = excluded.since, heartbeat = excluded.heartbeat,
			host = excluded.host, pid = excluded.pid`,
		name, holder, formatTime(now), formatTime(now), myHost, myPID); err != nil {
		return nil, fmt.Errorf("journal: lock %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("journal: lock %q: %w", name, err)
	}
	return &Lock{s: s, name: name, holder: holder}, nil
}

// Refresh renews the heartbeat; ErrLockLost when another holder has the lock now.
func (l *Lock) Refresh(ctx context.Context) error {
	res, err := l.s.db.ExecContext(ctx, `UPDATE locks SET heartbeat = ? WHERE name = ? AND holder = ?`,
		formatTime(l.s.Now()), l.name, l.holder)
	if err != nil {
		return fmt.Errorf("journal: refresh lock %q: %w", l.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrLockLost, l.name)
	}
	return nil
}

// Release gives the lock up (only if still ours).
func (l *Lock) Release(ctx context.Context) error {
	if _, err := l.s.db.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, l.name, l.holder); err != nil {
		return fmt.Errorf("journal: release lock %q: %w", l.name, err)
	}
	return nil
}

// WithLock runs fn holding the named lock, refreshing its heartbeat while fn runs and releasing
// it afterwards. When another holder has it, fn does not run and the error is a *LockedError.
func (s *Store) WithLock(ctx context.Context, name, holder string, ttl time.Duration, fn func() error) error {
	l, err := s.AcquireLock(ctx, name, holder, ttl)
	if err != nil {
		return err
	}
	hb, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 4)
		defer t.Stop()
		for {
			select {
			case <-hb.Done():
				return
			case <-t.C:
				_ = l.Refresh(hb)
			}
		}
	}()
	defer func() {
		stop()
		<-done
		_ = l.Release(context.WithoutCancel(ctx))
	}()
	return fn()
}
