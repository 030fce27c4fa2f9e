package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the plan as one indented JSON document.
func WriteJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ReadJSON reads a plan written by WriteJSON, refusing other format versions.
func ReadJSON(r io.Reader) (*Plan, error) {
	var p Plan
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan: format_version %q, this xtmsyncd reads %q", p.FormatVersion, FormatVersion)
	}
	return &p, nil
}

var symbols = map[Action]string{Create: "+", Update: "~", Delete: "-", Conflict: "!", Invalid: "x", Unchanged: "="}

// TextOptions control the human rendering.
type TextOptions struct {
	Color     bool // ANSI colours (only on a terminal without NO_COLOR)
	Unchanged bool // list unchanged objects too
}

// WriteText renders the plan for a human, in the spirit of `terraform plan`.
func WriteText(w io.Writer, p *Plan, o TextOptions) error {
	tw := &textWriter{w: w, color: o.Color}
	tw.f("xtmsyncd %s plan: %s -> %s\n", p.Kind, p.Source, p.Target)
	if p.DryRun {
		tw.f("(dry run: nothing was written; re-run with --confirm to apply)\n")
	}
	tw.f("\n")
	for _, c := range p.Changes {
		if c.Action == Unchanged && !o.Unchanged {
			continue
		}
		tw.change(c)
	}
	for _, wn := range p.Warnings {
		tw.f("  %s  %s %s: %s\n", tw.paint("?", "33"), wn.Code, wn.Object, wn.Message)
	}
	s := p.Summary
	tw.f("\nPlan: %d to create, %d to update, ", s.Create, s.Update)
	if s.Delete > 0 {
		tw.f("%d to delete, ", s.Delete)
	}
	tw.f("%d unchanged, %d conflicts, %d invalid sources, %d warnings.\n", s.Unchanged, s.Conflict, s.Invalid, len(p.Warnings))
	if s.Writes() == 0 {
		tw.f("No changes. The target forest matches the source.\n")
	}
	return tw.err
}

type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) f(format string, a ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, a...)
	}
}

func (t *textWriter) paint(s, code string) string {
	if !t.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

var colors = map[Action]string{Create: "32", Update: "33", Delete: "31", Conflict: "31", Invalid: "31", Unchanged: "2"}

func (t *textWriter) change(c Change) {
	obj := c.DN
	if obj == "" {
		obj = c.Source
	}
	if c.Forest == ForestSource {
		obj = "[source forest] " + obj
	}
	t.f("  %s %-9s %s\n", t.paint(symbols[c.Action], colors[c.Action]), c.Action, obj)
	if c.Key != "" {
		t.f("      exchange_guid %s   source %s\n", c.Key, c.Source)
	} else {
		t.f("      source %s\n", c.Source)
	}
	for _, pr := range c.Problems {
		t.f("      %s: %s", pr.Code, pr.Object)
		if pr.Attribute != "" {
			t.f(" %s", pr.Attribute)
		}
		if pr.Found != "" {
			t.f(" = %s", pr.Found)
		}
		t.f("\n        fix: %s\n", pr.Fix)
	}
	width := 0
	for _, a := range c.Attrs {
		width = max(width, len(a.Name))
	}
	for _, a := range c.Attrs {
		switch {
		case c.Action == Create:
			for i, v := range a.After {
				t.f("      %-*s %s\n", width, label(a.Name, i), v)
			}
		case a.Incremental():
			for i, v := range a.Delete {
				t.f("      %-*s %s %s\n", width, label(a.Name, i), t.paint("-", "31"), v)
			}
			for i, v := range a.Add {
				t.f("      %-*s %s %s\n", width, label(a.Name, i+len(a.Delete)), t.paint("+", "32"), v)
			}
		default:
			t.f("      %-*s %s -> %s\n", width, a.Name, quote(a.Before), quote(a.After))
		}
	}
}

func label(name string, i int) string {
	if i == 0 {
		return name
	}
	return ""
}

func quote(v []string) string {
	switch len(v) {
	case 0:
		return "(absent)"
	case 1:
		return fmt.Sprintf("%q", v[0])
	}
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
