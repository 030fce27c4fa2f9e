package main

import (
	"context"
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
)

func (m *Main) batches(ctx context.Context, args []string) error {
	fs := newFlags("batches")
	path := configFlag(fs)
	size := fs.Int("size", batch.MaxSize, "mailboxes per batch file (at most 2000)")
	outdir := fs.String("outdir", "batches", "folder for batch-NNN.csv and manifest.json")
	warnings := fs.Bool("include-warnings", false, "include mailboxes whose verdict is warning")
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
	res, err := app.Batches(rep, *size, *warnings)
	if err != nil {
		return err
	}
	files, err := batch.WriteFiles(*outdir, res)
	if err != nil {
		return err
	}
	n := 0
	for _, b := range res.Batches {
		n += len(b.Members)
		fmt.Fprintf(m.Stdout, "%s  %4d mailboxes\n", b.Name, len(b.Members))
	}
	for _, g := range res.Oversized {
		fmt.Fprintf(m.Stdout, "oversized delegation group %d: %d mailboxes (more than %d): not split, left out: %v\n", g.ID, g.Size, res.Size, g.Members)
	}
	for _, x := range res.Excluded {
		fmt.Fprintf(m.Stdout, "left out  %s  %s\n", x.ID, x.Reason)
	}
	fmt.Fprintf(m.Stdout, "\n%d mailboxes in %d batch files, %d left out, %d migrated (already moved, in no batch); %d files in %s (manifest.json lists every reason)\n",
		n, len(res.Batches), len(res.Excluded), len(res.Migrated), len(files), *outdir)
	return nil
}
