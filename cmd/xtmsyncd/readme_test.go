package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// The README is the admin's guide; these tests keep it from drifting from the program.

const helpMarker = "<!-- the block below is `xtmsyncd help`"

func readme(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, string(b)
}

// helpBlock returns the README's copy of `xtmsyncd help` and where it sits in the file.
func helpBlock(t *testing.T, s string) (start, end int) {
	t.Helper()
	i := strings.Index(s, helpMarker)
	if i < 0 {
		t.Fatalf("README has no %q comment before the commands", helpMarker)
	}
	const open = "```text\n"
	j := strings.Index(s[i:], open)
	if j < 0 {
		t.Fatal("README: no ```text block after the help comment")
	}
	start = i + j + len(open)
	k := strings.Index(s[start:], "```\n")
	if k < 0 {
		t.Fatal("README: the help block is not closed")
	}
	return start, start + k
}

// TestREADME_CommandsAreTheHelp: the README's command list is `xtmsyncd help`, byte for byte.
// XTMSYNCD_UPDATE_README=1 writes the current help into the README instead.
func TestREADME_CommandsAreTheHelp(t *testing.T) {
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: io.Discard, IsTerminal: func(io.Writer) bool { return false }}
	if code := m.Run(context.Background(), []string{"help"}); code != ExitOK {
		t.Fatalf("help exited %d", code)
	}
	path, s := readme(t)
	start, end := helpBlock(t, s)
	if s[start:end] == out.String() {
		return
	}
	if os.Getenv("XTMSYNCD_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(s[:start]+out.String()+s[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("README.md: the commands block now is `xtmsyncd help`")
		return
	}
	t.Errorf("README.md's commands block is not `xtmsyncd help`; run XTMSYNCD_UPDATE_README=1 go test -run README ./cmd/xtmsyncd\n--- README\n%s--- help\n%s",
		s[start:end], out.String())
}

// TestREADME_StartsWithTheTwoCommands: the first code block is `make demo` and `make test`, alone.
func TestREADME_StartsWithTheTwoCommands(t *testing.T) {
	_, s := readme(t)
	i := strings.Index(s, "```")
	if i < 0 || strings.TrimSpace(s[:i]) != "# xtmsyncd" {
		t.Fatalf("README must open with its title and then the two commands")
	}
	body := s[i:]
	nl := strings.Index(body, "\n")
	endBlock := strings.Index(body[nl+1:], "```")
	if nl < 0 || endBlock < 0 {
		t.Fatal("README: the first code block is not closed")
	}
	lines := strings.Split(strings.TrimSpace(body[nl+1:nl+1+endBlock]), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "make demo ") || !strings.HasPrefix(lines[1], "make test ") {
		t.Errorf("README's first code block must be exactly `make demo` and `make test`, got %q", lines)
	}
}

var checkIDRe = regexp.MustCompile("`((?:SCOPE|SOURCE|TARGET|CLOUD)-[A-Z0-9-]+)`")

// TestREADME_ChecksExist: every check ID the README names (the readiness table, the
// troubleshooting table) is one validate reports, and every check validate reports is described.
func TestREADME_ChecksExist(t *testing.T) {
	_, s := readme(t)
	var known []string
	for _, c := range readiness.Catalogue {
		known = append(known, c.ID)
	}
	named := map[string]bool{}
	for _, m := range checkIDRe.FindAllStringSubmatch(s, -1) {
		named[m[1]] = true
		if !slices.Contains(known, m[1]) {
			t.Errorf("README names the check %s, which validate does not have", m[1])
		}
	}
	for _, id := range known {
		if !named[id] {
			t.Errorf("README does not describe the check %s (add it to the table under \"Readiness: `validate`\")", id)
		}
	}
}
