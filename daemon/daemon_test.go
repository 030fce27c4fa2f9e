package daemon_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/daemon"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

type fixture struct {
	cfg *config.Config
	j   *journal.Store
	tgt *ldaptest.Dir
	ou  string
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	src := ldaptest.Open(t, "source")
	tgt := ldaptest.Open(t, "target")
	o, ou := ldaptest.Synthetic(t, src, tgt, n)
	c := ldaptest.SyncConfig(t, src, tgt, o.GroupDN(), ou)
	j, err := app.OpenJournal(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &fixture{cfg: c, j: j, tgt: tgt, ou: ou}
}

// runs returns the finished journal runs of a kind, oldest first.
func (f *fixture) runs(t *testing.T, kind string) []journal.Run {
	t.Helper()
	all, err := f.j.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []journal.Run
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Kind == kind && all[i].Outcome != journal.OutcomeRunning {
			out = append(out, all[i])
		}
	}
	return out
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fixture) objects(t *testing.T) int {
	t.Helper()
	res, err := f.tgt.Conn.Search(ldap.NewSearchRequest(f.ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Entries)
}

// A scheduled sync applies; the next scheduled sync journals a run that writes nothing.
func TestDaemon_ScheduledSyncAppliesThenIsANoop(t *testing.T) {
	f := newFixture(t, 5)
	f.cfg.Service.Apply = true
	f.cfg.Service.Jobs = map[string]string{"sync": "@every 1s"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- daemon.New(f.cfg, f.j, nil).Run(ctx) }()
	waitFor(t, "two sync runs", 30*time.Second, func() bool { return len(f.runs(t, "sync")) >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	runs := f.runs(t, "sync")
	first, _ := f.j.Changes(context.Background(), runs[0].ID)
	second, _ := f.j.Changes(context.Background(), runs[1].ID)
	if runs[0].Mode != "apply" || runs[0].Outcome != journal.OutcomeOK || len(first) != 5 {
		t.Errorf("first scheduled sync: %+v with %d changes, want 5 applied", runs[0], len(first))
	}
	if runs[1].Outcome != journal.OutcomeOK || len(second) != 0 {
		t.Errorf("second scheduled sync: %+v with %d changes, want none", runs[1], len(second))
	}
	if n := f.objects(t); n != 5 {
		t.Errorf("%d MailUsers in the target OU, want 5", n)
	}
}

// With apply: false (the default) the service only plans: runs are journaled as dry runs and
// nothing is written.
func TestDaemon_ReportOnlyByDefault(t *testing.T) {
	f := newFixture(t, 3)
	d := daemon.New(f.cfg, f.j, nil)
	if err := d.RunJob(context.Background(), "sync"); err != nil {
		t.Fatal(err)
	}
	runs := f.runs(t, "sync")
	if len(runs) != 1 || runs[0].Mode != "dry-run" {
		t.Fatalf("runs %+v, want one dry run", runs)
	}
	if n := f.objects(t); n != 0 {
		t.Errorf("%d objects written in report-only mode", n)
	}
}

// Overlapping triggers never overlap: while one job runs, the others are skipped.
func TestDaemon_JobsNeverOverlap(t *testing.T) {
	f := newFixture(t, 1)
	d := daemon.New(f.cfg, f.j, nil)
	var now, peak atomic.Int32
	build := d.Build
	d.Build = func(ctx context.Context) (*app.Rig, error) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(300 * time.Millisecond)
		return build(ctx)
	}
	var wg sync.WaitGroup
	var busy, ran atomic.Int32
	for _, job := range []string{"sync", "validate", "sync", "batches", "sync", "validate"} {
		wg.Go(func() {
			switch err := d.RunJob(context.Background(), job); {
			case errors.Is(err, daemon.ErrBusy):
				busy.Add(1)
			case err == nil:
				ran.Add(1)
			default:
				t.Errorf("%s: %v", job, err)
			}
		})
	}
	wg.Wait()
	if peak.Load() != 1 || ran.Load() < 1 || busy.Load() < 1 || ran.Load()+busy.Load() != 6 {
		t.Errorf("peak concurrency %d, ran %d, skipped %d", peak.Load(), ran.Load(), busy.Load())
	}
}

// A panic in a job is recovered, logged and journaled; the daemon goes on.
func TestDaemon_PanicIsRecoveredAndJournaled(t *testing.T) {
	f := newFixture(t, 1)
	d := daemon.New(f.cfg, f.j, nil)
	build := d.Build
	d.Build = func(context.Context) (*app.Rig, error) { panic("boom") }
	if err := d.RunJob(context.Background(), "validate"); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("RunJob: %v, want the panic as an error", err)
	}
	runs := f.runs(t, "validate")
	if len(runs) != 1 || runs[0].Outcome != journal.OutcomeFailed || !strings.Contains(runs[0].Error, "boom") {
		t.Fatalf("journal: %+v", runs)
	}
	d.Build = build
	if err := d.RunJob(context.Background(), "validate"); err != nil {
		t.Errorf("the next job after a panic: %v", err)
	}
}

// A second daemon on the same journal is refused and told who holds the lock and since when.
func TestDaemon_SecondInstanceRefused(t *testing.T) {
	f := newFixture(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := daemon.New(f.cfg, f.j, nil)
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	j2, err := journal.Open(context.Background(), f.cfg.Journal.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	var locked *journal.LockedError
	waitFor(t, "the first daemon to hold the lock", 10*time.Second, first.Ready)
	err = daemon.New(f.cfg, j2, nil).Run(ctx)
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), "xtmsyncd run on") || locked.Since.IsZero() {
		t.Fatalf("second instance: %v", err)
	}
	cancel()
	<-done
}

// The status endpoint serves /healthz, /readyz and /metrics in Prometheus format.
func TestDaemon_StatusEndpointAndMetrics(t *testing.T) {
	f := newFixture(t, 2)
	f.cfg.Service.Apply = true
	f.cfg.Service.StatusListen = "127.0.0.1:0"
	d := daemon.New(f.cfg, f.j, nil)
	if err := d.RunJob(context.Background(), "sync"); err != nil {
		t.Fatal(err)
	}
	if err := d.RunJob(context.Background(), "validate"); err != nil && !errors.Is(err, daemon.ErrBusy) {
		t.Logf("validate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the status endpoint", 10*time.Second, func() bool { return d.Addr() != "" })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + d.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	waitFor(t, "/readyz", 5*time.Second, func() bool { code, _ := get("/readyz"); return code == 200 })
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		mf := families[name]
		if mf == nil {
			t.Fatalf("%s not exported", name)
		}
	next:
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("%s%v: no such series", name, labels)
		return 0
	}
	if v := value("xtmsyncd_job_runs_total", map[string]string{"job": "sync", "outcome": "ok"}); v != 1 {
		t.Errorf("sync runs ok = %v", v)
	}
	if v := value("xtmsyncd_changes_total", map[string]string{"forest": "target", "action": "create", "outcome": "applied"}); v != 2 {
		t.Errorf("creates applied = %v", v)
	}
	if v := value("xtmsyncd_last_success_timestamp_seconds", map[string]string{"job": "sync"}); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v", v)
	}
	if v := value("xtmsyncd_objects_in_scope", nil); v != 2 {
		t.Errorf("objects in scope = %v", v)
	}
	if v := value("xtmsyncd_mailboxes", map[string]string{"verdict": "ready"}); v != 2 {
		t.Errorf("ready = %v", v)
	}
	if v := value("xtmsyncd_mailboxes", map[string]string{"verdict": "migrated"}); v != 0 {
		t.Errorf("migrated = %v, want 0 (the gauge is exported, and nothing has moved)", v)
	}
	if v := value("xtmsyncd_directory_read_seconds", map[string]string{"forest": "source"}); v < 1 {
		t.Errorf("source read latency samples = %v", v)
	}
}

// Scheduled validate and batches write their reports into reports_dir and keep the newest.
func TestDaemon_ReportsWithRetention(t *testing.T) {
	f := newFixture(t, 2)
	f.cfg.Service.Keep = 2
	f.cfg.Service.Apply = true
	d := daemon.New(f.cfg, f.j, nil)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	d.Now = func() time.Time { at = at.Add(time.Minute); return at }
	if err := d.RunJob(context.Background(), "sync"); err != nil { // the MailUsers must exist to be ready
		t.Fatal(err)
	}
	for range 3 {
		for _, job := range []string{"validate", "batches"} {
			if err := d.RunJob(context.Background(), job); err != nil {
				t.Fatalf("%s: %v", job, err)
			}
		}
	}
	names := func(glob string) []string {
		m, _ := filepath.Glob(filepath.Join(f.cfg.Service.ReportsDir, glob))
		return m
	}
	if n := len(names("validate-*.json")); n != 2 {
		t.Errorf("%d validate reports kept, want 2", n)
	}
	if n := len(names("validate-*.csv")); n != 2 {
		t.Errorf("%d validate CSVs kept, want 2", n)
	}
	dirs := names("batches-*")
	if len(dirs) != 2 {
		t.Fatalf("%d batch folders kept, want 2", len(dirs))
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "manifest.json")); err != nil {
		t.Errorf("batch folder without manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "batch-001.csv")); err != nil {
		t.Errorf("batch folder without batch-001.csv (2 ready mailboxes): %v", err)
	}
	if len(f.runs(t, "validate")) != 3 || len(f.runs(t, "batches")) != 3 {
		t.Errorf("every job run is a journal run")
	}
}
