package journal

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two processes share one journal file: the second is refused and told who holds the lock and
// since when; a stale lock (crashed holder) is taken over; release frees it.
func TestLock_OneInstanceAtATime(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	a.SetNow(func() time.Time { return now })
	b.SetNow(func() time.Time { return now })

	la, err := a.AcquireLock(ctx, "apply", "root@host-a pid 10", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AcquireLock(ctx, "apply", "root@host-b pid 20", time.Minute)
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Holder != "root@host-a pid 10" || !locked.Since.Equal(now) {
		t.Fatalf("second instance: %v", err)
	}
	if !strings.Contains(err.Error(), "root@host-a pid 10") {
		t.Errorf("the refusal does not name the holder: %v", err)
	}
	// the holder keeps it alive; later the other may not take it
	now = now.Add(50 * time.Second)
	if err := la.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Second)
	if _, err := b.AcquireLock(ctx, "apply", "root@host-b pid 20", time.Minute); !errors.As(err, &locked) {
		t.Fatalf("a refreshed lock was taken over: %v", err)
	}
	// the holder dies: after ttl the lock is taken over, and the old holder learns it lost it
	now = now.Add(2 * time.Minute)
	lb, err := b.AcquireLock(ctx, "apply", "root@host-b pid 20", time.Minute)
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	if err := la.Refresh(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("old holder refresh: %v, want ErrLockLost", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AcquireLock(ctx, "apply", "root@host-a pid 11", time.Minute); err != nil {
		t.Errorf("after release: %v", err)
	}
}
