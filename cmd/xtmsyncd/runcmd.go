package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/kardianos/service"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/daemon"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
)

// program adapts the daemon to kardianos/service: Start must not block; Stop cancels and waits,
// within service.stop_timeout, for the write in flight to finish and be journaled.
type program struct {
	run     func(ctx context.Context) error
	timeout time.Duration
	cancel  context.CancelFunc
	done    chan error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.run(ctx) }()
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	select {
	case err := <-p.done:
		return err
	case <-time.After(p.timeout + 5*time.Second):
		return fmt.Errorf("xtmsyncd did not stop within %s", p.timeout+5*time.Second)
	}
}

// serviceConfig describes the installed service: `xtmsyncd run -config <absolute path>`; on Linux
// the systemd unit is ours (SystemdUnit), so what install writes is what the tests check.
func serviceConfig(c *config.Config, cfgPath, account string) (*service.Config, error) {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	unit, err := SystemdUnit(exe, abs, c, account)
	if err != nil {
		return nil, err
	}
	return &service.Config{
		Name: c.Service.Name,
		// On Windows the account the service runs as: a gMSA (DOMAIN\name$) or a virtual account
		// (NT SERVICE\name) needs no password, and bind: kerberos signs in as it. "" is LocalSystem.
		UserName:    windowsAccount(account),
		DisplayName: "xtmsyncd cross-tenant mailbox migration sync",
		Description: "Prepares target MailUsers and cuts over moved mailboxes between Microsoft 365 tenants from the on-premises Active Directories.",
		Arguments:   []string{"run", "-config", abs},
		Option: service.KeyValue{
			"SystemdScript":    unit,
			"StartType":        "automatic",
			"DelayedAutoStart": true,
			"OnFailure":        "restart",
		},
	}, nil
}

var unitTemplate = template.Must(template.New("unit").Parse(`[Unit]
Description=xtmsyncd: cross-tenant mailbox migration sync ({{.Name}})
Documentation=https://learn.microsoft.com/microsoft-365/enterprise/cross-tenant-mailbox-migration
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={{.User}}
ExecStart={{.Exe}} run -config {{.Config}}
# Secrets come from the environment (bind_password: ${VAR}) or *_file paths, never the unit.
EnvironmentFile=-/etc/default/{{.Name}}
WorkingDirectory={{.Dir}}
Restart=on-failure
RestartSec=30
KillSignal=SIGTERM
TimeoutStopSec={{.StopSec}}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={{.Writable}}
UMask=0027

[Install]
WantedBy=multi-user.target
`))

// SystemdUnit renders the unit `service install` writes on Linux, running the daemon as user
// (never root unless asked for by name). The stop timeout leaves the daemon its own
// service.stop_timeout plus a margin before systemd kills it.
func SystemdUnit(exe, cfgPath string, c *config.Config, user string) (string, error) {
	if user == "" {
		return "", errors.New("service: no account to run as: pass -user (the packages create the xtmsyncd system user)")
	}
	dirs := []string{filepath.Dir(c.Journal.Path), c.Service.ReportsDir, c.Service.CompletedDir}
	for i, d := range dirs {
		if a, err := filepath.Abs(d); err == nil {
			dirs[i] = a
		}
	}
	for _, s := range append(dirs, exe, cfgPath, user) {
		if strings.ContainsAny(s, " \n\"'") {
			return "", fmt.Errorf("service: path %q has spaces or quotes; systemd needs plain paths", s)
		}
	}
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, map[string]any{
		"Name": c.Service.Name, "Exe": exe, "Config": cfgPath, "Dir": filepath.Dir(cfgPath), "User": user,
		"StopSec": int((c.Service.StopTimeout + 15*time.Second).Seconds()), "Writable": strings.Join(dirs, " "),
	})
	return b.String(), err
}

func (m *Main) run(ctx context.Context, args []string) error {
	fs := newFlags("run")
	path := configFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	j, err := app.OpenJournal(ctx, c)
	if err != nil {
		return err
	}
	defer j.Close()
	log := m.logger(c)
	prg := &program{timeout: c.Service.StopTimeout}
	if service.Interactive() {
		return daemon.New(c, j, log).Run(ctx) // foreground: main's context ends on SIGINT/SIGTERM
	}
	scfg, err := serviceConfig(c, *path, currentAccount())
	if err != nil {
		return err
	}
	svc, err := service.New(prg, scfg)
	if err != nil {
		return err
	}
	if sl, err := svc.Logger(nil); err == nil {
		log = slog.New(withServiceLog(log.Handler(), sl))
	}
	prg.run = daemon.New(c, j, log).Run
	return svc.Run()
}

func (m *Main) serviceCmd(_ context.Context, args []string) error {
	actions := []string{"install", "uninstall", "start", "stop", "status"}
	if len(args) == 0 || !slices.Contains(actions, args[0]) {
		return errors.New("usage: xtmsyncd service install|uninstall|start|stop|status -config FILE")
	}
	fs := newFlags("service " + args[0])
	path := configFlag(fs)
	account := fs.String("user", defaultAccount(), "install: the account the service runs as (Linux: a system user, default xtmsyncd; Windows: a gMSA DOMAIN\\name$, a virtual account NT SERVICE\\name, default LocalSystem)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	if args[0] == "install" {
		if err := prepareAccount(c, *account); err != nil {
			return err
		}
	}
	scfg, err := serviceConfig(c, *path, *account)
	if err != nil {
		return err
	}
	svc, err := service.New(&program{timeout: c.Service.StopTimeout}, scfg)
	if err != nil {
		return err
	}
	if args[0] == "status" {
		st, err := svc.Status()
		if err != nil {
			return fmt.Errorf("service %s: %w", c.Service.Name, err)
		}
		fmt.Fprintf(m.Stdout, "%s: %s\n", c.Service.Name, map[service.Status]string{
			service.StatusRunning: "running", service.StatusStopped: "stopped"}[st])
		return nil
	}
	if err := service.Control(svc, args[0]); err != nil {
		return fmt.Errorf("service %s %s: %w", args[0], c.Service.Name, err)
	}
	fmt.Fprintf(m.Stdout, "service %s: %s done\n", c.Service.Name, args[0])
	return nil
}

// withServiceLog returns a handler that sends every record to next and, from Info up (and
// never below next's own level), to the service logger: the Windows Event Log, or
// syslog/journald under systemd. slog.NewMultiHandler passes With and WithGroup to both sides,
// so the service side keeps job, run_id and the other attributes.
func withServiceLog(next slog.Handler, out service.Logger) slog.Handler {
	return slog.NewMultiHandler(next, newServiceHandler(out, max(slog.LevelInfo, lowestEnabled(next))))
}

// lowestEnabled is the lowest of slog's four levels h handles (Error when it handles none).
func lowestEnabled(h slog.Handler) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if h.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

// serviceHandler formats a record with slog's text handler (so the attributes and groups added
// by With and WithGroup are written as for stderr) and hands the line to the service logger at
// the record's level. Time and level are left out: the Event Log and syslog stamp both.
type serviceHandler struct {
	text slog.Handler // a TextHandler writing to sink, holding this handler's With/WithGroup state
	sink *serviceSink
}

// serviceSink receives the text handler's one write per record; the level of the record being
// written is set under mu by Handle.
type serviceSink struct {
	mu    sync.Mutex
	out   service.Logger
	level slog.Level
}

func newServiceHandler(out service.Logger, minLevel slog.Level) *serviceHandler {
	sink := &serviceSink{out: out}
	text := slog.NewTextHandler(sink, &slog.HandlerOptions{Level: minLevel,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		}})
	return &serviceHandler{text: text, sink: sink}
}

func (h *serviceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *serviceHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &serviceHandler{text: h.text.WithAttrs(a), sink: h.sink}
}

func (h *serviceHandler) WithGroup(n string) slog.Handler {
	return &serviceHandler{text: h.text.WithGroup(n), sink: h.sink}
}

func (h *serviceHandler) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	h.sink.level = r.Level
	return h.text.Handle(ctx, r)
}

// Write sends one formatted record to the service logger.
func (s *serviceSink) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	var err error
	switch {
	case s.level >= slog.LevelError:
		err = s.out.Error(msg)
	case s.level >= slog.LevelWarn:
		err = s.out.Warning(msg)
	default:
		err = s.out.Info(msg)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
