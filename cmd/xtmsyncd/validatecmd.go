package main

import (
	"context"
	"fmt"
	"io"

	"github.com/xtmsyncd/xtmsyncd/readiness"
)

func (m *Main) validate(ctx context.Context, args []string) error {
	fs := newFlags("validate")
	path := configFlag(fs)
	format := fs.String("o", "text", "output: text, json or csv")
	out := fs.String("out", "", "write the report to this file instead of stdout")
	all := fs.Bool("all", false, "text output: list ready mailboxes too")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	r, err := m.connect(ctx, *path)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := r.Validate(ctx)
	if err != nil {
		return err
	}
	var fn func(io.Writer) error
	switch *format {
	case "text":
		fn = func(w io.Writer) error { return readiness.WriteText(w, rep, *all) }
	case "json":
		fn = func(w io.Writer) error { return readiness.WriteJSON(w, rep) }
	case "csv":
		fn = func(w io.Writer) error { return readiness.WriteCSV(w, rep) }
	default:
		return fmt.Errorf("-o %s: use text, json or csv", *format)
	}
	if err := writeTo(*out, m.Stdout, fn); err != nil {
		return err
	}
	return validateOutcome(rep)
}

// validateOutcome is exit 5 (ExitBlocked) when at least one mailbox is blocked. Migrated
// mailboxes (already moved) are not blocked, nor are ready ones or those with warnings.
func validateOutcome(rep *readiness.Report) error {
	if rep.Summary.Blocked > 0 {
		return exitError{ExitBlocked}
	}
	return nil
}
