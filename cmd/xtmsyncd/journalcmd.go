package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

func (m *Main) journal(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		return fmt.Errorf("usage: xtmsyncd journal list|show RUN -config FILE")
	}
	fs := newFlags("journal " + args[0])
	path := configFlag(fs)
	format := fs.String("o", "text", "output: text or json")
	limit := fs.Int("n", 20, "journal list: how many runs")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
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
	if args[0] == "list" {
		runs, err := j.Runs(ctx, *limit)
		if err != nil {
			return err
		}
		if *format == "json" {
			return json.NewEncoder(m.Stdout).Encode(runs)
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTARTED\tKIND\tMODE\tOUTCOME\tACTOR\tSUMMARY")
		for _, r := range runs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.Local().Format("2006-01-02 15:04:05"),
				r.Kind, r.Mode, r.Outcome, r.Actor, string(r.Summary))
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return fmt.Errorf("usage: xtmsyncd journal show RUN -config FILE")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("journal show: %q is not a run number", pos[0])
	}
	run, err := j.Run(ctx, id)
	if err != nil {
		return err
	}
	changes, err := j.Changes(ctx, id)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Run     journal.Run      `json:"run"`
			Changes []journal.Change `json:"changes"`
		}{run, changes})
	}
	fmt.Fprintf(m.Stdout, "run %d  %s %s  %s  by %s  started %s\n", run.ID, run.Kind, run.Mode, run.Outcome, run.Actor,
		run.StartedAt.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(m.Stdout, "plan %s  config %s\nsummary %s\n", short(run.PlanHash), short(run.ConfigHash), string(run.Summary))
	if run.Error != "" {
		fmt.Fprintf(m.Stdout, "error: %s\n", run.Error)
	}
	for _, f := range []struct{ name, js string }{{"source", run.SourceDC}, {"target", run.TargetDC}} {
		var dc ldapconn.DC
		if f.js != "" && json.Unmarshal([]byte(f.js), &dc) == nil {
			fmt.Fprintf(m.Stdout, "%s domain controller: %s\n", f.name, dc)
			if dc.DSServiceName != "" {
				fmt.Fprintf(m.Stdout, "  dsServiceName %s\n", dc.DSServiceName)
			}
		}
	}
	if run.Host != "" {
		fmt.Fprintf(m.Stdout, "process: pid %d on %s\n", run.PID, run.Host)
	}
	resolved := map[string]int{}
	for _, ch := range changes {
		if ch.Resolution != "" {
			resolved[ch.Status]++
		}
	}
	if len(resolved) > 0 {
		fmt.Fprintf(m.Stdout, "recovery: %d writes settled against the directory after the run (%d applied, %d not applied, %d unproven)\n",
			resolved[journal.StatusApplied]+resolved[journal.StatusNotApplied]+resolved[journal.StatusUnknown],
			resolved[journal.StatusApplied], resolved[journal.StatusNotApplied], resolved[journal.StatusUnknown])
	}
	for _, ch := range changes {
		fmt.Fprintf(m.Stdout, "\n#%d %s %s  [%s] %s", ch.ID, ch.Status, ch.Action, ch.Forest, ch.DN)
		if ch.ObjectGUID != "" {
			fmt.Fprintf(m.Stdout, "  objectGUID %s", ch.ObjectGUID)
		}
		if ch.Error != "" {
			fmt.Fprintf(m.Stdout, "  error: %s", ch.Error)
		}
		fmt.Fprintln(m.Stdout)
		if ch.Resolution != "" {
			fmt.Fprintf(m.Stdout, "    %s\n", ch.Resolution)
		}
		for _, a := range ch.Attrs {
			switch {
			case len(a.Add) > 0 || len(a.Delete) > 0:
				for _, v := range a.Delete {
					fmt.Fprintf(m.Stdout, "    %s - %s\n", a.Name, v)
				}
				for _, v := range a.Add {
					fmt.Fprintf(m.Stdout, "    %s + %s\n", a.Name, v)
				}
			default:
				fmt.Fprintf(m.Stdout, "    %s: %s -> %s\n", a.Name, strings.Join(a.Before, " | "), strings.Join(a.After, " | "))
			}
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
