package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"gopkg.in/yaml.v3"
)

// binaryRig runs the real binary against the test forests with a config of its own.
type binaryRig struct {
	t       *testing.T
	bin     string
	cfgPath string
	cfg     *config.Config
	env     []string
	tgt     *ldaptest.Dir
}

// testConfig gives the test n synthetic mailboxes, an empty target OU and a config file for
// them (tune changes it before it is written); the password comes from $XTM_TEST_PW.
func testConfig(t *testing.T, n int, tune ...func(*config.Config)) (c *config.Config, path string, src, tgt *ldaptest.Dir) {
	t.Helper()
	src = ldaptest.Open(t, "source")
	tgt = ldaptest.Open(t, "target")
	o, ou := ldaptest.Synthetic(t, src, tgt, n)
	c = ldaptest.SyncConfig(t, src, tgt, o.GroupDN(), ou)
	c.Source.BindPassword = "${XTM_TEST_PW}"
	c.Target.BindPassword = "${XTM_TEST_PW}"
	c.Limits.MaxChanges = 10 * n
	for _, f := range tune {
		f(c)
	}
	raw, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, writeFile(t, "xtmsyncd.yaml", string(raw)), src, tgt
}

// newBinaryRig is testConfig with the binary built.
func newBinaryRig(t *testing.T, n int, tune ...func(*config.Config)) *binaryRig {
	t.Helper()
	c, path, src, tgt := testConfig(t, n, tune...)
	r := &binaryRig{t: t, cfg: c, tgt: tgt, cfgPath: path, bin: filepath.Join(t.TempDir(), "xtmsyncd"),
		env: append(os.Environ(), "XTM_TEST_PW="+src.Config.Password().Reveal())}
	if out, err := exec.Command("go", "build", "-o", r.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return r
}

func (r *binaryRig) command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, append(args, "-config", r.cfgPath)...)
	cmd.Env = r.env
	return cmd
}

// run runs the binary to its end and returns its exit code and stderr.
func (r *binaryRig) run(args ...string) (int, string) {
	r.t.Helper()
	cmd := r.command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("xtmsyncd %s → exit %d in %s\n%s", strings.Join(args, " "), code, time.Since(t0).Round(time.Millisecond), tail(stderr.String(), 1500))
	return code, stderr.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// objects returns the objectGUIDs of the MailUsers in the target OU.
func (r *binaryRig) objects() map[string]bool {
	r.t.Helper()
	res, err := r.tgt.Conn.SearchWithPaging(ldap.NewSearchRequest(r.cfg.Target.OU, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{directory.AttrObjectGUID, directory.AttrMailboxGUID}, nil), 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]bool{}
	keys := map[string]bool{}
	for _, e := range res.Entries {
		g, err := directory.GUIDFromAD(e.GetRawAttributeValue(directory.AttrObjectGUID))
		if err != nil {
			r.t.Fatal(err)
		}
		out[g.String()] = true
		k := string(e.GetRawAttributeValue(directory.AttrMailboxGUID))
		if keys[k] {
			r.t.Errorf("two MailUsers carry one ExchangeGUID (%s)", e.DN)
		}
		keys[k] = true
	}
	return out
}

func (r *binaryRig) journal() *journal.Store {
	r.t.Helper()
	j, err := journal.Open(context.Background(), r.cfg.Journal.Path) // journal.Open: no recovery, what the file holds
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { j.Close() })
	return j
}

func count(cs []journal.Change, action, status string) int {
	n := 0
	for _, c := range cs {
		if c.Action == action && c.Status == status {
			n++
		}
	}
	return n
}

// kill -9 in the middle of sync --confirm, a re-run, then rollback of the killed run: the
// re-run is not blocked by the dead process's lock, finds the killed run crashed and settles its
// pending writes first; the rollback deletes exactly the objects the killed run created (by
// objectGUID), never one the re-run created with identical values; a second rollback of the same
// run is refused and deletes nothing.
func TestCrash_KillDuringSyncThenRerunThenRollback(t *testing.T) {
	const n = 400
	r := newBinaryRig(t, n)
	j := r.journal()
	ctx := context.Background()

	cmd := r.command("sync", "--confirm")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		runs, _ := j.Runs(ctx, 1)
		if len(runs) == 1 {
			if cs, _ := j.ChangeCounts(ctx, runs[0].ID); cs[journal.StatusApplied] >= n/3 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the sync never wrote a third of the objects:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup of any kind
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// What the crash left: a run that says running, writes with no outcome, a lock of a dead pid.
	run1, err := j.Run(ctx, 1)
	if err != nil || run1.Outcome != journal.OutcomeRunning {
		t.Fatalf("run 1 after kill -9: %+v, %v", run1, err)
	}
	before, _ := j.Changes(ctx, 1)
	pendingBefore := count(before, "create", journal.StatusPending)
	t.Logf("after kill -9: %d applied, %d pending, %d objects in the OU", count(before, "create", journal.StatusApplied), pendingBefore, len(r.objects()))

	// The re-run: not blocked by the dead holder's lock, recovers, converges.
	t0 := time.Now()
	code, stderr := r.run("sync", "--confirm")
	if code != 0 {
		t.Fatalf("re-run: exit %d", code)
	}
	if took := time.Since(t0); took > app.ApplyLockTTL*9/10 {
		t.Errorf("the re-run took %s: the dead process's lock held it up", took)
	}
	if pendingBefore > 0 && !strings.Contains(stderr, "recovery: ") {
		t.Errorf("the re-run did not say what it recovered:\n%s", stderr)
	}
	run1, _ = j.Run(ctx, 1)
	if run1.Outcome != journal.OutcomeCrashed || !strings.Contains(run1.Error, "is gone") {
		t.Errorf("run 1 after recovery: %s %q", run1.Outcome, run1.Error)
	}
	after1, _ := j.Changes(ctx, 1)
	mine := map[string]bool{} // the objects run 1 created, by objectGUID
	for _, c := range after1 {
		switch c.Status {
		case journal.StatusPending, journal.StatusUnknown:
			t.Errorf("change %d (%s) left %s after recovery", c.ID, c.DN, c.Status)
		case journal.StatusApplied:
			if c.ObjectGUID == "" {
				t.Errorf("applied create %d (%s) has no objectGUID after recovery", c.ID, c.DN)
			}
			mine[c.ObjectGUID] = true
		}
		if c.Status == journal.StatusNotApplied && c.Resolution == "" {
			t.Errorf("change %d is not applied with no resolution", c.ID)
		}
	}
	after2, _ := j.Changes(ctx, 2)
	theirs := map[string]bool{}
	for _, c := range after2 {
		if c.Status == journal.StatusApplied && c.Action == "create" {
			theirs[c.ObjectGUID] = true
		}
	}
	all := r.objects()
	if len(all) != n || len(mine)+len(theirs) != n {
		t.Fatalf("%d objects in the OU; run 1 created %d, the re-run %d (want %d in all)", len(all), len(mine), len(theirs), n)
	}

	// Rollback of the killed run: exactly its objects go.
	if code, _ := r.run("rollback", "1", "--confirm"); code != 0 && code != ExitPartial {
		t.Fatalf("rollback 1: exit %d", code)
	}
	left := r.objects()
	for g := range mine {
		if left[g] {
			t.Errorf("object %s that run 1 created survived its rollback", g)
		}
	}
	for g := range theirs {
		if !left[g] {
			t.Errorf("object %s that only the re-run created was deleted by the rollback of run 1", g)
		}
	}
	if len(left) != len(theirs) {
		t.Errorf("%d objects left, want the re-run's %d", len(left), len(theirs))
	}

	// A second rollback of run 1 is refused and deletes nothing.
	code, stderr = r.run("rollback", "1", "--confirm")
	if code == 0 || !strings.Contains(stderr, "already rolled back") {
		t.Errorf("second rollback of run 1: exit %d:\n%s", code, stderr)
	}
	if got := r.objects(); len(got) != len(left) {
		t.Errorf("the second rollback deleted %d objects", len(left)-len(got))
	}
	runs, _ := j.Runs(ctx, 0)
	kinds := []string{}
	for _, r := range runs {
		kinds = append(kinds, r.Kind+":"+r.Outcome)
	}
	slices.Reverse(kinds)
	t.Logf("runs: %v", kinds)
}

// A live holder's lock refuses a second writer with who holds it, and no made-up run line.
func TestSync_LockRefusalNamesTheHolderAndNoRun(t *testing.T) {
	c, cfgPath, src, _ := testConfig(t, 3)
	t.Setenv("XTM_TEST_PW", src.Config.Password().Reveal())
	j, err := app.OpenJournal(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.AcquireLock(context.Background(), app.LockApply, "xtmsyncd sync by admin@other pid 4242", app.ApplyLockTTL); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain(t, "sync", "--confirm", "-config", cfgPath)
	if code != ExitError || !strings.Contains(stderr, "admin@other pid 4242") || strings.Contains(stderr, "run 0") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// A journal that cannot take the run fails the command before any plan is shown.
func TestSync_UnwritableJournalFailsBeforeThePlan(t *testing.T) {
	journalDir := t.TempDir()
	_, cfgPath, src, _ := testConfig(t, 3, func(c *config.Config) {
		c.Journal.Path = journalDir // a directory: SQLite cannot open it as a database
	})
	t.Setenv("XTM_TEST_PW", src.Config.Password().Reveal())
	for _, args := range [][]string{{"sync"}, {"sync", "--confirm"}} {
		code, stdout, stderr := runMain(t, append(args, "-config", cfgPath)...)
		if code != ExitError || stdout != "" || !strings.Contains(stderr, "journal") {
			t.Errorf("%v: exit %d, stdout %d bytes:\n%s", args, code, len(stdout), stderr)
		}
	}
}
