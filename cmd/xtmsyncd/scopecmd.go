package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

func (m *Main) scope(ctx context.Context, args []string) error {
	fs := newFlags("scope")
	path := configFlag(fs)
	format := fs.String("o", "text", "output: text or json")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(*path)
	if err != nil {
		return err
	}
	sess, conn, err := ldapconn.Open(ctx, &c.Source, m.logger(c))
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer conn.Close()
	s, err := ldapsrc.New(conn, ldapsrc.Options{BaseDN: c.Source.BaseDN, Group: c.Scope.Group, Filter: c.Scope.Filter,
		PageSize: c.Source.PageSize, Bulk: app.BulkDialer(sess)}, m.logger(c)).Scope(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Alias        string `json:"alias"`
		DN           string `json:"dn"`
		ExchangeGUID string `json:"exchange_guid,omitempty"`
		Archive      bool   `json:"archive"`
		Kind         string `json:"kind"`
	}
	rows := make([]row, 0, len(s.Mailboxes))
	for _, mb := range s.Mailboxes {
		r := row{Alias: mb.Alias, DN: mb.DN, Archive: len(mb.ArchiveGUID) > 0, Kind: string(directory.KindOfRecipient(mb.TypeDetails))}
		if g, err := directory.GUIDFromAD(mb.MailboxGUID); err == nil {
			r.ExchangeGUID = g.String()
		} else if len(mb.MailboxGUID) == 0 {
			r.ExchangeGUID = ""
		} else {
			r.ExchangeGUID = "malformed"
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(strings.ToLower(a.Alias), strings.ToLower(b.Alias)) })
	warnings := engine.ScopeWarnings(s)
	if *format == "json" {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"mailboxes": rows, "warnings": warnings})
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tKIND\tARCHIVE\tEXCHANGE GUID\tDN")
	for _, r := range rows {
		g := r.ExchangeGUID
		if g == "" {
			g = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", r.Alias, r.Kind, r.Archive, g, r.DN)
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "\n%d mailboxes in scope.\n", len(rows))
	for _, w := range warnings {
		fmt.Fprintf(m.Stdout, "warning: %s %s: %s\n", w.Code, w.Object, w.Message)
	}
	return nil
}
