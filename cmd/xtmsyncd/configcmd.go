package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/config"
)

func (m *Main) configCmd(_ context.Context, args []string) error {
	if len(args) == 0 || args[0] != "validate" {
		return fmt.Errorf("%w: usage: xtmsyncd config validate -config FILE", config.ErrInvalid)
	}
	fs := newFlags("config validate")
	path := configFlag(fs)
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		var problems interface{ Unwrap() []error }
		if errors.As(err, &problems) {
			n := len(problems.Unwrap())
			plural := "s"
			if n == 1 {
				plural = ""
			}
			fmt.Fprintf(m.Stderr, "%s: %d problem%s\n", *path, n, plural)
			for _, p := range problems.Unwrap() {
				fmt.Fprintf(m.Stderr, "  %v\n", p)
			}
			return exitError{ExitError}
		}
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: valid (source %s, target %s, writes only under %s)\n", c.Path, c.Source.URL, c.Target.URL, c.Target.OU)
	return nil
}
