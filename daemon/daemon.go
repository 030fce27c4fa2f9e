// Package daemon runs xtmsyncd's jobs on schedules: sync, validate reports, batch exports and
// cutover from a watched folder. Jobs never overlap, a panic is recovered and journaled, every
// job run is a journal run, only one daemon runs per journal, and a stop lets the write in
// flight finish and be journaled. Writes happen only with service.apply: true.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// ErrBusy is returned by RunJob when another job is still running (the trigger is skipped).
var ErrBusy = errors.New("another job is still running")

// Lock names in the journal.
const (
	LockDaemon = "daemon"      // held for the daemon's life: one instance per journal
	LockApply  = app.LockApply // held while writing, by the daemon's jobs and by the CLI's --confirm
	lockTTL    = app.ApplyLockTTL
)

// Daemon schedules and runs the jobs.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *journal.Store
	Metrics *Metrics
	holder  string

	// Build connects to the forests for one job run (app.Build by default; tests may wrap it).
	Build func(ctx context.Context) (*app.Rig, error)
	// Now is the clock (reports' names).
	Now func() time.Time

	mu      sync.Mutex // held while a job runs: jobs never overlap
	running atomic.Value
	ready   atomic.Bool
	addr    atomic.Value // the status endpoint's address once listening

	fmu      sync.Mutex // guards failures and lastFail
	failures int        // jobs failed in a row (failed or panicked), reset by a job that succeeds
	lastFail failure
}

// failure is the last failed job, for /readyz.
type failure struct {
	job string
	at  time.Time
	err string
}

// Addr returns the status endpoint's address once it listens ("" before, or when off).
func (d *Daemon) Addr() string {
	a, _ := d.addr.Load().(string)
	return a
}

// New returns a daemon over an open journal.
func New(cfg *config.Config, store *journal.Store, log *slog.Logger) *Daemon {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	d := &Daemon{cfg: cfg, log: log, store: store, Metrics: NewMetrics(), Now: time.Now,
		holder: fmt.Sprintf("xtmsyncd run on %s pid %d", host, os.Getpid())}
	d.Build = func(ctx context.Context) (*app.Rig, error) { return app.Build(ctx, cfg, log) }
	d.running.Store("")
	return d
}

// Run holds the daemon lock, starts the schedules and the status endpoint, and blocks until ctx
// is done; then it stops the schedules, waits for the job in flight (at most
// service.stop_timeout) and releases the lock.
func (d *Daemon) Run(ctx context.Context) error {
	lock, err := d.store.AcquireLock(ctx, LockDaemon, d.holder, lockTTL)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go d.heartbeat(hbCtx, lock)

	loc, err := time.LoadLocation(d.cfg.Service.TimeZone)
	if err != nil {
		return fmt.Errorf("service.time_zone: %w", err)
	}
	c := cron.New(cron.WithLocation(loc))
	for _, job := range config.Jobs {
		spec := d.cfg.Service.Jobs[job]
		if spec == "" {
			continue
		}
		if _, err := c.AddFunc(spec, func() { _ = d.RunJob(ctx, job) }); err != nil {
			return fmt.Errorf("service.jobs.%s: %w", job, err)
		}
		d.log.Info("job scheduled", "job", job, "schedule", spec, "time_zone", loc.String(), "apply", d.cfg.Service.Apply)
	}
	var srv *http.Server
	if d.cfg.Service.StatusListen != "" {
		ln, err := net.Listen("tcp", d.cfg.Service.StatusListen)
		if err != nil {
			return fmt.Errorf("status endpoint: %w", err)
		}
		d.addr.Store(ln.Addr().String())
		srv = &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		d.log.Info("status endpoint", "addr", d.Addr())
	}
	c.Start()
	d.ready.Store(true)
	d.log.Info("xtmsyncd running", "holder", d.holder, "apply", d.cfg.Service.Apply)
	<-ctx.Done()
	d.ready.Store(false)
	d.log.Info("stopping: the job in flight finishes its current write", "job", d.running.Load())
	stopped := c.Stop()
	var runErr error
	select {
	case <-stopped.Done():
	case <-time.After(d.cfg.Service.StopTimeout):
		runErr = fmt.Errorf("stop: job %v still running after %s", d.running.Load(), d.cfg.Service.StopTimeout)
		d.log.Error("stop timed out", "job", d.running.Load())
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	return runErr
}

func (d *Daemon) heartbeat(ctx context.Context, l *journal.Lock) {
	t := time.NewTicker(lockTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("daemon lock", "err", err)
			}
		}
	}
}

// RunJob runs one job now, unless another job is running (ErrBusy: the trigger is skipped).
// A panic is recovered, logged and journaled as a failed run.
func (d *Daemon) RunJob(ctx context.Context, job string) (err error) {
	if !d.mu.TryLock() {
		d.Metrics.skipped.WithLabelValues(job).Inc()
		d.log.Warn("job skipped: another job is still running", "job", job, "running", d.running.Load())
		return ErrBusy
	}
	defer d.mu.Unlock()
	d.running.Store(job)
	defer d.running.Store("")
	log := d.log.With("job", job)
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in job %s: %v", job, r)
			log.Error("job panicked", "panic", r, "stack", string(debug.Stack()))
			d.journalRun(context.WithoutCancel(ctx), job, "job", journal.OutcomeFailed, nil, err)
			d.Metrics.run(job, "panic", time.Now())
			d.count(job, "panic", err)
		}
	}()
	outcome, err := d.job(ctx, job, log)
	d.Metrics.run(job, outcome, time.Now())
	d.count(job, outcome, err)
	log.Info("job finished", "outcome", outcome, "elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}

// count keeps the number of jobs failed in a row: a job that failed or panicked adds one, a job
// that succeeded resets it, a partial or refused job leaves it as it is (it neither proves the
// daemon works nor that it does not).
func (d *Daemon) count(job, outcome string, err error) {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	switch outcome {
	case journal.OutcomeOK:
		d.failures = 0
	case journal.OutcomeFailed, "panic":
		d.failures++
		msg := fmt.Sprint(err)
		if r := []rune(msg); len(r) > 500 {
			msg = string(r[:500]) + "…"
		}
		d.lastFail = failure{job: job, at: d.Now().UTC(), err: msg}
	default:
		return
	}
	d.Metrics.failedInARow.Set(float64(d.failures))
}

// Ready reports whether the daemon holds its lock and its schedules run.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// notReady returns why /readyz fails ("" when ready): the daemon is starting or stopping, or
// service.not_ready_after_failures jobs in a row have failed.
func (d *Daemon) notReady() string {
	if !d.ready.Load() {
		return "not ready: starting or stopping"
	}
	n := d.cfg.Service.NotReadyAfterFailures
	d.fmu.Lock()
	defer d.fmu.Unlock()
	if n <= 0 || d.failures < n {
		return ""
	}
	f := d.lastFail
	return fmt.Sprintf("not ready: %d jobs in a row failed (service.not_ready_after_failures: %d); the last, %s at %s: %s; "+
		"see xtmsyncd journal show and the service log; ready again once a job succeeds",
		d.failures, n, f.job, f.at.Format(time.RFC3339), f.err)
}

// Handler serves /healthz, /readyz and /metrics.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := d.notReady(); why != "" {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", d.Metrics.Handler())
	return mux
}
