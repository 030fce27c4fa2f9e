package daemon_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"errors"
	"github.com/xtmsyncd/xtmsyncd/daemon"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// readyz GETs /readyz from the daemon's own listener.
func readyz(t *testing.T, d *daemon.Daemon) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve runs d with its status endpoint until the test ends.
func serve(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	waitFor(t, "the status endpoint", 10*time.Second, func() bool { return d.Addr() != "" && d.Ready() })
}

// /readyz answers 503, saying why, once service.not_ready_after_failures jobs in a row have
// failed (here: the target DC refuses connections), and 200 again after a job succeeds
// (issue 14, finding 6: it stayed 200 while every job failed).
func TestDaemon_ReadyzFailsAfterConsecutiveFailedJobs(t *testing.T) {
	f := newFixture(t, 2)
	f.cfg.Service.StatusListen = "127.0.0.1:0"
	if f.cfg.Service.NotReadyAfterFailures != 3 {
		t.Fatalf("default not_ready_after_failures = %d, want 3", f.cfg.Service.NotReadyAfterFailures)
	}
	down := *f.cfg
	down.Target.URL = "ldaps://127.0.0.1:1" // nothing listens: connection refused, as with a DC that is down
	var dcDown atomic.Bool
	d := daemon.New(f.cfg, f.j, nil)
	d.Build = func(ctx context.Context) (*app.Rig, error) {
		c := f.cfg
		if dcDown.Load() {
			c = &down
		}
		return app.Build(ctx, c, nil)
	}
	serve(t, d)
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Fatalf("/readyz before any job: %d %s", code, body)
	}

	dcDown.Store(true)
	for i := 1; i <= 3; i++ {
		if err := d.RunJob(context.Background(), "validate"); err == nil {
			t.Fatalf("job %d succeeded with the target down", i)
		}
		code, body := readyz(t, d)
		if i < 3 && code != http.StatusOK {
			t.Errorf("/readyz after %d failed jobs: %d %s, want 200 until 3", i, code, body)
		}
		if i == 3 {
			if code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz after 3 failed jobs: %d %s, want 503", code, body)
			}
			for _, want := range []string{"3 jobs in a row failed", "service.not_ready_after_failures", "validate", "127.0.0.1:1"} {
				if !strings.Contains(body, want) {
					t.Errorf("/readyz body does not say %q: %s", want, body)
				}
			}
			t.Logf("/readyz: %d %s", code, body)
		}
	}
	if runs := f.runs(t, "validate"); len(runs) != 3 || runs[2].Outcome != journal.OutcomeFailed {
		t.Errorf("journal: %+v, want 3 failed validate runs", runs)
	}

	dcDown.Store(false)
	if err := d.RunJob(context.Background(), "validate"); err != nil {
		t.Fatalf("job with the target back: %v", err)
	}
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Errorf("/readyz after a job succeeded: %d %s, want 200", code, body)
	}
}

// With service.not_ready_after_failures: 0, failed jobs never make /readyz fail.
func TestDaemon_ReadyzFailuresRuleOff(t *testing.T) {
	f := newFixture(t, 1)
	c := *f.cfg
	c.Service.StatusListen = "127.0.0.1:0"
	c.Service.NotReadyAfterFailures = 0
	d := daemon.New(&c, f.j, nil)
	d.Build = func(context.Context) (*app.Rig, error) { return nil, errTargetDown }
	serve(t, d)
	for range 4 {
		_ = d.RunJob(context.Background(), "validate")
	}
	if code, body := readyz(t, d); code != http.StatusOK {
		t.Errorf("/readyz with the rule off: %d %s", code, body)
	}
}

var errTargetDown = errors.New("target down (test)")
