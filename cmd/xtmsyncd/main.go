// Command xtmsyncd prepares and finishes Microsoft 365 cross-tenant mailbox migrations from the
// on-premises Active Directories. Run `xtmsyncd help` for the commands and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/gctune"
)

// Exit codes (documented in `xtmsyncd help` and the README).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitChanges     = 2 // plan/sync --detailed-exitcode: changes pending
	ExitPartial     = 3 // applied with some object failures
	ExitSafetyRail  = 4 // a safety rail refused the plan
	ExitBlocked     = 5 // validate: at least one mailbox is blocked
	ExitInterrupted = 130
)

const usage = `xtmsyncd prepares cross-tenant mailbox migrations from the on-premises Active Directories.

Usage:
  xtmsyncd version
  xtmsyncd config validate -config FILE     check the configuration, touching no directory
  xtmsyncd doctor -config FILE              check connectivity, TLS, schemas, OU and scope group
  xtmsyncd scope -config FILE [-o text|json]  list the source mailboxes in scope
  xtmsyncd plan -config FILE [-o text|json|ldif] [--out FILE] [--detailed-exitcode]
                                            show what sync would change (never writes)
  xtmsyncd sync -config FILE [--confirm] [--allow-large-plan] [--detailed-exitcode]
                                            plan, and apply only with --confirm
  xtmsyncd validate -config FILE [-o text|json|csv] [--out FILE] [--all]
                                            readiness per mailbox (read only)
  xtmsyncd batches -config FILE [--size N] [--outdir DIR] [--include-warnings]
                                            New-MigrationBatch CSVs, delegates kept together (read only)
  xtmsyncd cutover -config FILE --completed FILE|--from-graph [--confirm] [-o text|json|ldif]
                                            after moves complete: target MailUser -> remote mailbox,
                                            source targetAddress -> target, Send on Behalf restamped
  xtmsyncd rollback RUN -config FILE [--confirm]   undo a journaled run, object by object
  xtmsyncd run -config FILE                 the scheduled daemon in the foreground (service.jobs)
  xtmsyncd service install|uninstall|start|stop|status -config FILE
                                            a systemd unit on Linux, a Windows service on Windows
  xtmsyncd journal list -config FILE        recent runs
  xtmsyncd journal show RUN -config FILE [-o text|json]   one run and its changes

Exit codes:
  0   ok
  1   error (usage, configuration, connection, journal)
  2   changes pending (plan/sync with --detailed-exitcode and without --confirm)
  3   applied with some object failures (see the journal)
  4   a safety rail refused the plan (empty source, limits.max_changes, limits.max_change_percent)
  5   validate: at least one mailbox is blocked
  130 interrupted
`

// Main is the program, driven by tests through Run.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
	// IsTerminal reports whether stderr/stdout is a terminal (progress, colour).
	IsTerminal func(w io.Writer) bool
	// Actor identifies who runs (journal); defaults to user@host.
	Actor string
}

func main() {
	gctune.Apply()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, IsTerminal: isTerminal}
	stopProfile := profileCPU(os.Getenv("XTMSYNCD_CPUPROFILE"))
	code := m.Run(ctx, os.Args[1:])
	stopProfile()
	os.Exit(code)
}

// profileCPU writes a CPU profile of the whole command to path (for performance work; see
// README, Performance), or does nothing when path is empty.
func profileCPU(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "xtmsyncd: XTMSYNCD_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// Run executes one command and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return ExitError
	}
	var err error
	switch args[0] {
	case "version", "--version", "-version":
		err = m.version(args[1:])
	case "config":
		err = m.configCmd(ctx, args[1:])
	case "doctor":
		err = m.doctor(ctx, args[1:])
	case "scope":
		err = m.scope(ctx, args[1:])
	case "plan":
		err = m.plan(ctx, args[1:])
	case "sync":
		err = m.sync(ctx, args[1:])
	case "journal":
		err = m.journal(ctx, args[1:])
	case "validate":
		err = m.validate(ctx, args[1:])
	case "batches":
		err = m.batches(ctx, args[1:])
	case "run":
		err = m.run(ctx, args[1:])
	case "service":
		err = m.serviceCmd(ctx, args[1:])
	case "cutover":
		err = m.cutover(ctx, args[1:])
	case "rollback":
		err = m.rollback(ctx, args[1:])
	case "help", "-h", "--help", "-help":
		fmt.Fprint(m.Stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(m.Stderr, "xtmsyncd: unknown command %q\n\n%s", args[0], usage)
		return ExitError
	}
	return m.exitCode(ctx, err)
}

// exitError carries an exit code without an error message of its own (already reported).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func (m *Main) exitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(m.Stderr, "xtmsyncd: %v\n", err)
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, directory.ErrUnsafePlan):
		return ExitSafetyRail
	case errors.Is(err, engine.ErrPartial):
		return ExitPartial
	case errors.Is(err, config.ErrInvalid):
		return ExitError
	}
	return ExitError
}
