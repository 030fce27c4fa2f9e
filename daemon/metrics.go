package daemon

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series the status endpoint serves.
type Metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	changes     *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	inScope     prometheus.Gauge
	verdicts    *prometheus.GaugeVec
	latency     *prometheus.HistogramVec
	// failedInARow is the number of jobs failed in a row (/readyz fails at service.not_ready_after_failures).
	failedInARow prometheus.Gauge
}

// NewMetrics registers xtmsyncd's series (and the Go and process collectors) in a registry of
// its own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xtmsyncd_job_runs_total",
			Help: "Job runs by job and outcome (ok, partial, failed, refused, panic)."}, []string{"job", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xtmsyncd_job_skipped_total",
			Help: "Job triggers skipped because another job was still running."}, []string{"job"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xtmsyncd_changes_total",
			Help: "Directory writes by forest, action and outcome (applied, failed)."}, []string{"forest", "action", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "xtmsyncd_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of each job."}, []string{"job"}),
		inScope: prometheus.NewGauge(prometheus.GaugeOpts{Name: "xtmsyncd_objects_in_scope",
			Help: "Source mailboxes in scope at the last sync or validate."}),
		verdicts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "xtmsyncd_mailboxes",
			Help: "Mailboxes by readiness verdict at the last validate (ready, warning, blocked, migrated)."}, []string{"verdict"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xtmsyncd_directory_read_seconds",
			Help: "Time to read a forest (source scope, target objects).", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)},
			[]string{"forest"}),
		failedInARow: prometheus.NewGauge(prometheus.GaugeOpts{Name: "xtmsyncd_jobs_failed_in_a_row",
			Help: "Jobs failed (or panicked) in a row since the last job that succeeded."}),
	}
	m.reg.MustRegister(m.runs, m.skipped, m.changes, m.lastSuccess, m.inScope, m.verdicts, m.latency, m.failedInARow,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) run(job, outcome string, at time.Time) {
	m.runs.WithLabelValues(job, outcome).Inc()
	if outcome == "ok" {
		m.lastSuccess.WithLabelValues(job).Set(float64(at.Unix()))
	}
}

func (m *Metrics) write(forest, action string, err error) {
	outcome := "applied"
	if err != nil {
		outcome = "failed"
	}
	if forest == "" {
		forest = "target"
	}
	m.changes.WithLabelValues(forest, action, outcome).Inc()
}

func (m *Metrics) read(forest string, d time.Duration) {
	m.latency.WithLabelValues(forest).Observe(d.Seconds())
}
