package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/config"
)

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("xtmsyncd "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args, allowing flags after positional arguments (journal show 3 -config f).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Fprintf(os.Stdout, "Usage of %s (flags may follow arguments):\n", fs.Name())
			fs.PrintDefaults()
			return nil, exitError{ExitOK}
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w (see %s -h)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("XTMSYNCD_CONFIG")
	return fs.String("config", def, "configuration file (default $XTMSYNCD_CONFIG)")
}

func loadConfig(path string) (*config.Config, error) {
	if strings.TrimSpace(path) == "" {
		return nil, fmt.Errorf("%w: -config FILE is required (or set XTMSYNCD_CONFIG)", config.ErrInvalid)
	}
	return config.Load(path)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
