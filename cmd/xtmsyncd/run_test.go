package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// The unit `service install` would write, checked without installing it.
func TestSystemdUnit(t *testing.T) {
	c := config.Default()
	c.Journal.Path = "/var/lib/xtmsyncd/journal.db"
	c.Service.ReportsDir = "/var/lib/xtmsyncd/reports"
	c.Service.CompletedDir = "/srv/xtm/completed"
	c.Service.StopTimeout = 45 * time.Second
	unit, err := SystemdUnit("/usr/local/bin/xtmsyncd", "/etc/xtmsyncd/xtmsyncd.yaml", &c, "xtmsyncd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ExecStart=/usr/local/bin/xtmsyncd run -config /etc/xtmsyncd/xtmsyncd.yaml\n",
		"User=xtmsyncd\n",     // a dedicated unprivileged user, not root
		"TimeoutStopSec=60\n", // the daemon's own stop bound plus a margin before systemd kills it
		"KillSignal=SIGTERM\n",
		"Restart=on-failure\n",
		"ReadWritePaths=/var/lib/xtmsyncd /var/lib/xtmsyncd/reports /srv/xtm/completed\n",
		"ProtectSystem=strict\n",
		"NoNewPrivileges=yes\n",
		"EnvironmentFile=-/etc/default/xtmsyncd\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "{{") {
		t.Errorf("unit has template markers left (kardianos would render them):\n%s", unit)
	}
	if _, err := SystemdUnit("/opt/my tools/xtmsyncd", "/etc/x.yaml", &c, "xtmsyncd"); err == nil {
		t.Error("a path with a space was accepted")
	}
	if _, err := SystemdUnit("/usr/bin/xtmsyncd", "/etc/x.yaml", &c, ""); err == nil || !strings.Contains(err.Error(), "-user") {
		t.Errorf("a unit with no account: %v; want a refusal naming -user", err)
	}
	// kardianos writes SystemdScript as the unit: the service config must carry exactly this unit
	// and run the daemon with the absolute config path.
	path := filepath.Join(t.TempDir(), "x.yaml")
	sc, err := serviceConfig(&c, path, "xtmsyncd")
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Option["SystemdScript"].(string); !strings.Contains(got, "run -config "+path) {
		t.Errorf("SystemdScript does not run the daemon with %s:\n%s", path, got)
	}
	if strings.Join(sc.Arguments, " ") != "run -config "+path {
		t.Errorf("arguments %q", sc.Arguments)
	}
}

// SIGTERM while the scheduled sync writes: the process stops within service.stop_timeout, the
// write in flight finishes, and the journal matches the directory (no pending change, no
// running run, one applied create per object written).
func TestRun_SIGTERMDuringASyncStopsCleanly(t *testing.T) {
	r := newBinaryRig(t, 150, func(c *config.Config) {
		c.Service.Apply = true
		c.Service.Jobs = map[string]string{"sync": "@every 1s"}
		c.Service.StopTimeout = 10 * time.Second
		c.Limits.MaxChanges = 1000
	})
	c, tgt, ou := r.cfg, r.tgt, r.cfg.Target.OU
	cmd := r.command("run")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	j, err := journal.Open(context.Background(), c.Journal.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	applied := func() int {
		runs, _ := j.Runs(context.Background(), 5)
		for _, r := range runs {
			if r.Outcome == journal.OutcomeRunning {
				n, _ := j.ChangeCounts(context.Background(), r.ID)
				return n[journal.StatusApplied]
			}
		}
		return 0
	}
	deadline := time.Now().Add(60 * time.Second)
	for applied() < 10 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the scheduled sync never started writing:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(c.Service.StopTimeout + 5*time.Second):
		cmd.Process.Kill()
		t.Fatalf("did not stop within %s:\n%s", c.Service.StopTimeout, logs.String())
	}
	t.Logf("stopped %s after SIGTERM", time.Since(sent).Round(time.Millisecond))

	runs, err := j.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, r := range runs {
		if r.Outcome == journal.OutcomeRunning {
			t.Errorf("run %d still says running", r.ID)
		}
		changes, _ := j.Changes(context.Background(), r.ID)
		for _, ch := range changes {
			switch ch.Status {
			case journal.StatusPending:
				t.Errorf("change %d (%s) is still pending: a write without an outcome", ch.ID, ch.DN)
			case journal.StatusApplied:
				creates++
			}
		}
	}
	res, err := tgt.Conn.Search(ldap.NewSearchRequest(ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != creates || creates == 0 || creates >= 150 {
		t.Errorf("%d objects in the target OU, %d applied creates journaled (want equal, and the run interrupted)", len(res.Entries), creates)
	}
}
