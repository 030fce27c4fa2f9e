package app

import (
	"fmt"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Batches groups the ready mailboxes of a validation report (and those with warnings, when
// includeWarnings) into New-MigrationBatch files; the rest are excluded with their reasons,
// except the migrated ones (already moved), which are in no batch and listed as migrated.
func Batches(rep *readiness.Report, size int, includeWarnings bool) (*batch.Result, error) {
	var items []batch.Item
	var excluded, migrated []batch.Excluded
	var edges []batch.Edge
	for _, m := range rep.Mailboxes {
		ok := m.Verdict == readiness.Ready || includeWarnings && m.Verdict == readiness.Warn
		switch {
		case m.Verdict == readiness.Migrated:
			migrated = append(migrated, batch.Excluded{ID: m.Source, Address: m.TargetAddress,
				Reason: "migrated: already moved, its target " + m.TargetDN + " is a remote mailbox (see xtmsyncd validate)"})
		case !ok:
			excluded = append(excluded, batch.Excluded{ID: m.Source, Address: m.TargetAddress, Reason: reason(m)})
		case m.TargetAddress == "":
			excluded = append(excluded, batch.Excluded{ID: m.Source, Reason: "the target MailUser has no mail address: run xtmsyncd sync"})
		default:
			items = append(items, batch.Item{ID: m.Source, Address: m.TargetAddress, Alias: m.Alias})
		}
		for _, l := range m.Links {
			edges = append(edges, batch.Edge{A: m.Source, B: l.DN, Kind: l.Kind})
		}
	}
	r, err := batch.Plan(items, edges, batch.Options{Size: size, Excluded: excluded, Migrated: migrated})
	if err != nil {
		return nil, fmt.Errorf("batches: %w", err)
	}
	return r, nil
}

func reason(m readiness.Result) string {
	seen := map[string]bool{}
	var ids []string
	for _, f := range m.Findings {
		if (f.Severity == readiness.Error || m.Verdict == readiness.Warn) && !seen[f.Check] {
			seen[f.Check] = true
			ids = append(ids, f.Check)
		}
	}
	return string(m.Verdict) + ": " + strings.Join(ids, ", ") + " (see xtmsyncd validate)"
}
