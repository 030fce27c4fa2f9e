//go:build unix

package journal

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// A full disk, simulated with the file size limit (RLIMIT_FSIZE, which binds root too; the
// write fails with EFBIG where a full disk gives ENOSPC): the journal opens and reads, the
// check fails, and passes again once the limit is lifted.
func TestCheckWritable_DiskFull(t *testing.T) {
	ctx := context.Background()
	s, path := writableStore(t) // the WAL is empty: the next write must grow it
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	lim := old
	lim.Cur = 1024 // the WAL header and one page do not fit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	err := s.CheckWritable(ctx)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatalf("restore RLIMIT_FSIZE: %v", rerr)
	}
	if _, rerr := s.Runs(ctx, 0); rerr != nil {
		t.Errorf("reading the journal: %v", rerr)
	}
	requireNotWritable(t, err, path, "free space")
	if err := s.CheckWritable(ctx); err != nil {
		t.Errorf("CheckWritable once the limit is lifted: %v", err)
	}
}

// The journal's write-ahead log made immutable (chattr +i, which binds root too) after the
// journal opened: the check fails. Skipped where chattr or the file system does not support it.
func TestCheckWritable_ImmutableWAL(t *testing.T) {
	s, path := writableStore(t)
	wal := path + "-wal"
	if out, err := exec.Command("chattr", "+i", wal).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v %s", wal, err, out)
	}
	defer func() {
		if out, err := exec.Command("chattr", "-i", wal).CombinedOutput(); err != nil {
			t.Errorf("chattr -i %s: %v %s", wal, err, out)
		}
	}()
	requireNotWritable(t, s.CheckWritable(context.Background()), path)
}
