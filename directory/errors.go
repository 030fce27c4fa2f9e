package directory

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every layer; test them with errors.Is.
var (
	ErrBadGUID     = errors.New("malformed GUID")
	ErrNotFound    = errors.New("not found")
	ErrNotOwned    = errors.New("object is not owned by xtmsyncd")
	ErrOutOfScope  = errors.New("object is outside the configured target OU")
	ErrStalePlan   = errors.New("stale plan: the object changed since it was planned")
	ErrUnsafePlan  = errors.New("safety rail")
	ErrConflict    = errors.New("conflict")
	ErrInvalidData = errors.New("invalid source data")
	// ErrOutcomeUnknown: the connection dropped after a write was sent, so it may or may not
	// have been applied; the next plan reads the object's true state.
	// ErrNotSent: the run stopped after the change's intent was journaled and before it was
	// written; nothing was sent for it.
	ErrNotSent        = errors.New("not sent: the run stopped before this change was written")
	ErrOutcomeUnknown = errors.New("outcome unknown: the connection dropped after the write was sent; it may have been applied, the next plan shows the object's state")
	// ErrConnection: the directory could not be reached (or stopped answering) within the
	// configured timeout and a bounded number of reconnect attempts. It ends the run: it is
	// about the directory, not about any one object.
	ErrConnection = errors.New("directory unreachable")
)

// ObjectError ties an error to the directory object and operation it concerns.
type ObjectError struct {
	DN  string
	Op  string
	Err error
}

func (e *ObjectError) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.DN, e.Err) }

// Unwrap returns the underlying error.
func (e *ObjectError) Unwrap() error { return e.Err }
