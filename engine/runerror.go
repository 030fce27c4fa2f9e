package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// RunError is what Apply returns for a run that did not end cleanly. Its message is short
// whatever the run's size (it becomes the journal's runs.error and one line on stderr): the
// reason, then the first few per-object errors and how many more there are; the journal's
// changes hold every one of them. errors.Is and errors.As see every error it carries.
type RunError struct {
	Reason  error   // why the run ended so: ErrPartial, a journal failure, a stop, a lost directory
	Objects []error // the per-object failures (*directory.ObjectError)
}

// Bounds of a RunError's message.
const (
	listedObjectErrors = 3   // per-object errors named in the message
	maxReasonLen       = 800 // characters of the reason
	maxObjectErrorLen  = 300 // characters of each per-object error
	// MaxRunErrorLen bounds the length of a RunError's message.
	MaxRunErrorLen = maxReasonLen + listedObjectErrors*(maxObjectErrorLen+2) + 80
)

func (e *RunError) Error() string {
	var b strings.Builder
	reason := "the run did not finish"
	if e.Reason != nil {
		reason = e.Reason.Error()
	}
	b.WriteString(clip(oneLine(reason), maxReasonLen))
	for i, o := range e.Objects[:min(len(e.Objects), listedObjectErrors)] {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(clip(oneLine(o.Error()), maxObjectErrorLen))
	}
	if n := len(e.Objects) - listedObjectErrors; n > 0 {
		fmt.Fprintf(&b, "; and %d more (the journal holds each change's error)", n)
	}
	return b.String()
}

// Unwrap returns the reason and every per-object error.
func (e *RunError) Unwrap() []error {
	out := make([]error, 0, 1+len(e.Objects))
	if e.Reason != nil {
		out = append(out, e.Reason)
	}
	return append(out, e.Objects...)
}

// ConnectionLostError is the reason of a run that a directory's connection ended: the writer
// could not reach the directory (directory.ErrConnection) within its reconnect attempts. The
// run stopped at once; what it had done and not done is counted, and the journal says it change
// by change (applied, failed, outcome unknown, not sent).
type ConnectionLostError struct {
	Forest string // "target" or "source"
	Err    error  // the writer's verdict
	// Applied, Unknown and NotTried are the run's (Result); Failed counts the writes refused,
	// that is Result.Failed less the Unknown ones.
	Applied, Failed, Unknown, NotTried int
}

func (e *ConnectionLostError) Error() string {
	return fmt.Sprintf("%s forest: %s; the run stopped: %d applied, %d failed, %d outcome unknown, %d not tried; re-run when the directory answers again",
		e.Forest, clip(oneLine(e.Err.Error()), maxReasonLen/2), e.Applied, e.Failed, e.Unknown, e.NotTried)
}

// Unwrap returns the writer's verdict (directory.ErrConnection).
func (e *ConnectionLostError) Unwrap() error { return e.Err }

// verdict digs out of a change's error the writer's own error that says the directory is
// unreachable: the deepest error in the chain that is still directory.ErrConnection, short of
// the bare sentinel, without the wrapping that tells what became of that one change.
func verdict(err error) error {
	for {
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if c := u.Unwrap(); c != nil && c != directory.ErrConnection && errors.Is(c, directory.ErrConnection) {
				next = c
			}
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				if c != nil && c != directory.ErrConnection && errors.Is(c, directory.ErrConnection) {
					next = c
					break
				}
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " [...]"
	cut := n - len(mark)
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + mark
}

// oneLine joins the lines of a multi-line error (errors.Join) with "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", "; ")
}
