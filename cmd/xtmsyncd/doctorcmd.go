package main

import (
	"context"
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/doctor"
)

func (m *Main) doctor(ctx context.Context, args []string) error {
	fs := newFlags("doctor")
	path := configFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	checks := doctor.Run(ctx, c, nil)
	for _, ch := range checks {
		status := "PASS"
		if !ch.OK {
			status = "FAIL"
		}
		fmt.Fprintf(m.Stdout, "%s  %s", status, ch.Name)
		if ch.Detail != "" {
			fmt.Fprintf(m.Stdout, " (%s)", ch.Detail)
		}
		fmt.Fprintln(m.Stdout)
		if ch.Fix != "" {
			fmt.Fprintf(m.Stdout, "      fix: %s\n", ch.Fix)
		}
	}
	if doctor.Failed(checks) {
		return exitError{ExitError}
	}
	return nil
}
