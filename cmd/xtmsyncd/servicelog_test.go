package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// serviceEntry is one line the service logger received.
type serviceEntry struct{ level, msg string }

// fakeServiceLogger is a service.Logger that records what reaches the Event Log / syslog.
type fakeServiceLogger struct {
	mu      sync.Mutex
	entries []serviceEntry
}

func (f *fakeServiceLogger) add(level string, v ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, serviceEntry{level, fmt.Sprint(v...)})
	return nil
}
func (f *fakeServiceLogger) Error(v ...any) error   { return f.add("error", v...) }
func (f *fakeServiceLogger) Warning(v ...any) error { return f.add("warning", v...) }
func (f *fakeServiceLogger) Info(v ...any) error    { return f.add("info", v...) }
func (f *fakeServiceLogger) Errorf(format string, a ...any) error {
	return f.add("error", fmt.Sprintf(format, a...))
}
func (f *fakeServiceLogger) Warningf(format string, a ...any) error {
	return f.add("warning", fmt.Sprintf(format, a...))
}
func (f *fakeServiceLogger) Infof(format string, a ...any) error {
	return f.add("info", fmt.Sprintf(format, a...))
}

func (f *fakeServiceLogger) got() []serviceEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]serviceEntry(nil), f.entries...)
}

// serviceLogged builds the logger run() builds under a service manager: stderr's text handler
// at level, fanned out to the service logger.
func serviceLogged(level slog.Level) (*slog.Logger, *bytes.Buffer, *fakeServiceLogger) {
	var stderr bytes.Buffer
	sl := &fakeServiceLogger{}
	next := slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: level})
	return slog.New(withServiceLog(next, sl)), &stderr, sl
}

// Rule 7: a record logged through logger.With("job", "sync") reaches the service logger with
// its attributes (the hand-written fan-out dropped them), and stderr still gets it.
func TestServiceLog_KeepsWithAttributes(t *testing.T) {
	log, stderr, sl := serviceLogged(slog.LevelInfo)
	log.With("job", "sync").With(slog.Int64("run_id", 42)).Warn("plan refused", "changes", 7)
	got := sl.got()
	if len(got) != 1 {
		t.Fatalf("service logger got %d entries, want 1: %+v", len(got), got)
	}
	e := got[0]
	if e.level != "warning" {
		t.Errorf("level %q, want warning", e.level)
	}
	for _, want := range []string{`msg="plan refused"`, "job=sync", "run_id=42", "changes=7"} {
		if !strings.Contains(e.msg, want) {
			t.Errorf("service log line %q lacks %s", e.msg, want)
		}
	}
	if strings.Contains(e.msg, "time=") || strings.Contains(e.msg, "level=") {
		t.Errorf("service log line %q repeats the time or level the Event Log / syslog stamp", e.msg)
	}
	for _, want := range []string{"job=sync", "run_id=42", "changes=7", "level=WARN"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %s", stderr.String(), want)
		}
	}
}

// Rule 7: groups opened by WithGroup are kept on the service side, and attributes added to one
// derived logger do not leak into a sibling.
func TestServiceLog_KeepsGroupsAndSiblingsApart(t *testing.T) {
	log, _, sl := serviceLogged(slog.LevelInfo)
	job := log.With("job", "cutover")
	job.WithGroup("graph").Info("lookup", "mailbox", "ann")
	log.With("job", "sync").Error("failed", "err", "boom")
	got := sl.got()
	if len(got) != 2 {
		t.Fatalf("service logger got %+v, want 2 entries", got)
	}
	if !strings.Contains(got[0].msg, "job=cutover") || !strings.Contains(got[0].msg, "graph.mailbox=ann") || got[0].level != "info" {
		t.Errorf("grouped record: %+v", got[0])
	}
	if !strings.Contains(got[1].msg, "job=sync") || strings.Contains(got[1].msg, "cutover") || got[1].level != "error" {
		t.Errorf("sibling record: %+v", got[1])
	}
}

// Rule 7: Debug never reaches the Event Log / syslog, even when stderr logs it; a higher stderr
// level also holds back the service side.
func TestServiceLog_LevelsFollowStderrFromInfoUp(t *testing.T) {
	log, stderr, sl := serviceLogged(slog.LevelDebug)
	log.Debug("detail", "job", "sync")
	log.Info("run done", "job", "sync")
	if got := sl.got(); len(got) != 1 || !strings.Contains(got[0].msg, "run done") {
		t.Errorf("service logger got %+v, want only the Info record", got)
	}
	if !strings.Contains(stderr.String(), "detail") {
		t.Errorf("stderr lost the Debug record: %q", stderr.String())
	}
	log, _, sl = serviceLogged(slog.LevelWarn)
	log.Info("run done")
	log.Warn("slow")
	if got := sl.got(); len(got) != 1 || !strings.Contains(got[0].msg, "slow") {
		t.Errorf("at level warn the service logger got %+v, want only the Warn record", got)
	}
}
