package readiness

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the summary table by check first, then the details per object (blocked,
// then warnings); ready and migrated mailboxes are only counted unless all is set.
func WriteText(w io.Writer, r *Report, all bool) error {
	s := r.Summary
	fmt.Fprintf(w, "xtmsyncd validate: %d mailboxes: %d ready, %d with warnings, %d blocked, %d migrated\n\n", s.Total, s.Ready, s.Warning, s.Blocked, s.Migrated)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSEVERITY\tFAILED\tWHAT")
	for _, c := range r.Checks {
		failed := fmt.Sprint(c.Failed)
		if !c.OnPrem {
			failed = "not checked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Severity, failed, c.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n(\"not checked\": only the tenants can answer; run the cloud checks or Microsoft's validation script for those)")
	for _, f := range r.Scope {
		fmt.Fprintf(w, "\nscope  %s %s\n  %s: %s\n  fix: %s\n", f.Check, f.Object, f.Attribute, f.Actual, f.Fix)
	}
	for _, v := range []Verdict{Blocked, Warn, Ready, Migrated} {
		for _, m := range r.Mailboxes {
			if m.Verdict != v || (v == Ready || v == Migrated) && !all {
				continue
			}
			fmt.Fprintf(w, "\n%-7s %s  %s\n", m.Verdict, m.Alias, m.Source)
			if v == Migrated {
				fmt.Fprintf(w, "  moved: the target %s is a remote mailbox (cut over); nothing to prepare or batch\n", orAbsent(m.TargetDN))
			}
			for _, f := range m.Findings {
				fmt.Fprintf(w, "  %s %s", f.Severity, f.Check)
				if f.Attribute != "" {
					fmt.Fprintf(w, " [%s]", f.Attribute)
				}
				if f.Expected != "" {
					fmt.Fprintf(w, " expected %s,", f.Expected)
				}
				if f.Actual != "" {
					fmt.Fprintf(w, " found %s", f.Actual)
				}
				fmt.Fprintf(w, "\n    fix: %s\n", f.Fix)
			}
		}
	}
	if s.Migrated > 0 && !all {
		fmt.Fprintf(w, "\n%d migrated (already moved, listed with --all).\n", s.Migrated)
	}
	_, err := fmt.Fprintf(w, "\n%d ready, %d with warnings, %d blocked, %d migrated.\n", s.Ready, s.Warning, s.Blocked, s.Migrated)
	return err
}

// CSVHeader is the header of the CSV report: one row per finding, and one per mailbox without
// findings (ready or migrated, as the verdict column says).
var CSVHeader = []string{"source_dn", "alias", "exchange_guid", "verdict", "check", "severity", "object", "attribute", "expected", "actual", "fix"}

// WriteCSV writes the report for spreadsheets.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, f := range r.Scope {
		_ = cw.Write([]string{"", "", "", "", f.Check, string(f.Severity), f.Object, f.Attribute, f.Expected, f.Actual, f.Fix})
	}
	for _, m := range r.Mailboxes {
		if len(m.Findings) == 0 {
			_ = cw.Write([]string{m.Source, m.Alias, m.ExchangeGUID, string(m.Verdict), "", "", "", "", "", "", ""})
		}
		for _, f := range m.Findings {
			_ = cw.Write([]string{m.Source, m.Alias, m.ExchangeGUID, string(m.Verdict), f.Check, string(f.Severity), f.Object, f.Attribute, f.Expected, f.Actual, f.Fix})
		}
	}
	cw.Flush()
	return cw.Error()
}
