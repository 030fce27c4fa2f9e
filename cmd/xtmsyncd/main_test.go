package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
)

// runMain runs the program with args and returns the exit code, stdout and stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := &Main{Stdout: &stdout, Stderr: &stderr, IsTerminal: func(io.Writer) bool { return false }, Actor: "test@host"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := m.Run(ctx, args)
	t.Logf("xtmsyncd %s → %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun_Version(t *testing.T) {
	code, stdout, stderr := runMain(t, "version")
	if code != ExitOK {
		t.Errorf("exit %d, want 0", code)
	}
	if !strings.HasPrefix(stdout, "xtmsyncd ") || !strings.Contains(stdout, version) {
		t.Errorf("stdout %q does not start with xtmsyncd and the version", stdout)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
}

func TestRun_UsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // on stderr, besides the usage
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"flag as command", []string{"-config"}, `unknown command "-config"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tc.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "Usage:") || !strings.Contains(stderr, "Exit codes:") {
				t.Errorf("stderr does not carry %q and the usage:\n%s", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestRun_Help(t *testing.T) {
	code, stdout, _ := runMain(t, "help")
	if code != ExitOK {
		t.Errorf("exit %d, want 0", code)
	}
	for _, cmd := range []string{"config validate", "doctor", "plan", "sync", "journal"} {
		if !strings.Contains(stdout, "xtmsyncd "+cmd) {
			t.Errorf("usage does not list %q", cmd)
		}
	}
}

// cliConfig is a configuration valid apart from the given replacements (old → new, applied in order).
func cliConfig(replace ...string) string {
	s := `source:
  url: ldaps://dc1.contoso.com
  bind_dn: svc-read@contoso.com
  bind_password: ${XTM_CLITEST_PW}
  base_dn: DC=contoso,DC=com
target:
  url: ldaps://dc1.northwind.com
  bind_dn: svc-write@northwind.com
  bind_password: ${XTM_CLITEST_PW}
  base_dn: DC=northwind,DC=com
  ou: OU=Cross-Tenant,DC=northwind,DC=com
scope:
  group: CN=XTM-Migration-Scope,OU=Groups,DC=contoso,DC=com
mapping:
  source_routing_domain: contoso.mail.onmicrosoft.com
  source_domains: [contoso.com]
  target_primary_domain: northwind.com
  target_delivery_domain: northwindtraders.mail.onmicrosoft.com
  target_upn_suffix: northwind.com
  accepted_domains: [northwind.com, northwindtraders.mail.onmicrosoft.com]
log:
  level: info
`
	return strings.NewReplacer(replace...).Replace(s)
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name       string
		config     string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "valid", config: cliConfig(), wantCode: ExitOK,
			wantStdout: []string{"valid", "ldaps://dc1.contoso.com", "ldaps://dc1.northwind.com", "OU=Cross-Tenant,DC=northwind,DC=com"}},
		{name: "three mistakes, each reported", wantCode: ExitError,
			config: cliConfig(
				"url: ldaps://dc1.contoso.com", "url: ldap://dc1.contoso.com",
				"ou: OU=Cross-Tenant,DC=northwind,DC=com", "ou: OU=Cross-Tenant,DC=contoso,DC=com",
				"level: info", "level: loud"),
			wantStderr: []string{"3 problems", "  source.url: ", "  target.ou: ", "  log.level: "}},
		{name: "inline password refused", wantCode: ExitError,
			config:     cliConfig("bind_password: ${XTM_CLITEST_PW}\n  base_dn: DC=contoso", "bind_password: hunter2\n  base_dn: DC=contoso"),
			wantStderr: []string{"source.bind_password: ", "${ENV_VAR}"}},
		{name: "unknown key", wantCode: ExitError,
			config:     cliConfig("  level: info", "  level: info\n  colour: true"),
			wantStderr: []string{"colour", "invalid configuration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XTM_CLITEST_PW", "cli-secret")
			path := writeFile(t, "xtmsyncd.yaml", tc.config)
			code, stdout, stderr := runMain(t, "config", "validate", "-config", path)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout+stderr, "hunter2") || strings.Contains(stdout+stderr, "cli-secret") {
				t.Error("output shows a password")
			}
			if tc.wantCode != ExitOK && stdout != "" {
				t.Errorf("stdout = %q on failure, want nothing", stdout)
			}
		})
	}
}

func TestConfigValidate_UsageErrors(t *testing.T) {
	t.Setenv("XTMSYNCD_CONFIG", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"config"}, "usage: xtmsyncd config validate"},
		{"unknown subcommand", []string{"config", "check"}, "usage: xtmsyncd config validate"},
		{"no -config", []string{"config", "validate"}, "-config FILE is required"},
		{"missing file", []string{"config", "validate", "-config", filepath.Join(t.TempDir(), "absent.yaml")}, "absent.yaml"},
		{"bad flag", []string{"config", "validate", "-nope"}, "-nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runMain(t, tc.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not contain %q:\n%s", tc.want, stderr)
			}
		})
	}
}

func TestConfigValidate_ConfigFromEnvironment(t *testing.T) {
	t.Setenv("XTM_CLITEST_PW", "cli-secret")
	t.Setenv("XTMSYNCD_CONFIG", writeFile(t, "c.yaml", cliConfig()))
	code, stdout, _ := runMain(t, "config", "validate")
	if code != ExitOK || !strings.Contains(stdout, "valid") {
		t.Errorf("exit %d, stdout %q: want the file named by XTMSYNCD_CONFIG validated", code, stdout)
	}
}

func TestConfigValidate_Demo(t *testing.T) {
	demo := filepath.Join("..", "..", "configs", "demo.yaml")
	// demo.yaml's ca_file entries point into .testdirs, which scripts/testdirs.sh creates.
	for _, ca := range []string{"source", "target"} {
		if _, err := os.Stat(filepath.Join("..", "..", ".testdirs", ca, "tls", "ca.pem")); err != nil {
			ldaptest.Open(t, ca) // skips, or fails under XTM_REQUIRE_DIRS=1
			t.Fatalf(".testdirs/%s/tls/ca.pem is missing though the directory answers: %v", ca, err)
		}
	}
	t.Setenv("XTM_SOURCE_BIND_PASSWORD", "demo-source-pw")
	t.Setenv("XTM_TARGET_BIND_PASSWORD", "demo-target-pw")
	code, stdout, stderr := runMain(t, "config", "validate", "-config", demo)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, stderr)
	}
	for _, w := range []string{"valid", "ldaps://127.0.0.1", "ldap://[::1]", ldaptest.DemoTargetOU} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout does not contain %q:\n%s", w, stdout)
		}
	}
}

// doctorConfig writes a configuration for the running test directories, the passwords taken
// from XTM_TEST_PW_SOURCE and XTM_TEST_PW_TARGET.
func doctorConfig(t *testing.T) string {
	t.Helper()
	src := ldaptest.Open(t, "source").Config
	tgt := ldaptest.Open(t, "target").Config
	dir := func(name string, d config.Directory) string {
		return fmt.Sprintf("  url: %q\n  ca_file: %q\n  bind_dn: %q\n  bind_password: ${XTM_TEST_PW_%s}\n  base_dn: %q\n",
			d.URL, d.CAFile, d.BindDN, strings.ToUpper(name), d.BaseDN)
	}
	yaml := "source:\n" + dir("source", src) + "target:\n" + dir("target", tgt) +
		fmt.Sprintf("  ou: %q\nscope:\n  group: %q\n", ldaptest.DemoTargetOU, ldaptest.DemoScopeGroup) + `mapping:
  source_routing_domain: contoso.mail.onmicrosoft.com
  source_domains: [contoso.com, contoso.co.uk, contoso-sales.com, contoso.onmicrosoft.com]
  target_primary_domain: northwind.com
  target_delivery_domain: northwindtraders.mail.onmicrosoft.com
  target_upn_suffix: northwind.com
  accepted_domains: [northwind.com, northwind.co.uk, northwindtraders.onmicrosoft.com, northwindtraders.mail.onmicrosoft.com]
  domain_map:
    contoso.co.uk: northwind.co.uk
  anchor: mailNickname
  owner:
    attribute: extensionAttribute15
    value: xtmsyncd
journal:
  path: journal.db
`
	t.Setenv("XTM_TEST_PW_SOURCE", src.Password().Reveal())
	t.Setenv("XTM_TEST_PW_TARGET", tgt.Password().Reveal())
	return writeFile(t, "doctor.yaml", yaml)
}

func TestDoctor_AllPass(t *testing.T) {
	path := doctorConfig(t)
	code, stdout, stderr := runMain(t, "doctor", "-config", path)
	if code != ExitOK {
		t.Errorf("exit %d, want 0", code)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) < 6 {
		t.Errorf("only %d lines of checks", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "PASS  ") {
			t.Errorf("line is not a PASS: %q", l)
		}
	}
	for _, forest := range []string{"PASS  source: ", "PASS  target: "} {
		if !strings.Contains(stdout, forest) {
			t.Errorf("no %q line", forest)
		}
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "journal.db")); err == nil {
		t.Error("doctor created the journal")
	}
}

func TestDoctor_WrongPassword_Fails(t *testing.T) {
	path := doctorConfig(t)
	t.Setenv("XTM_TEST_PW_TARGET", "Wrong-Passw0rd!cli")
	code, stdout, _ := runMain(t, "doctor", "-config", path)
	if code != ExitError {
		t.Errorf("exit %d, want %d", code, ExitError)
	}
	lines := strings.Split(stdout, "\n")
	failAt := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "FAIL  target: connect") {
			failAt = i
		}
	}
	if failAt < 0 {
		t.Fatalf("no FAIL line for the target connection:\n%s", stdout)
	}
	if failAt+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[failAt+1]), "fix: ") {
		t.Fatalf("the FAIL line is not followed by a fix: line:\n%s", stdout)
	}
	fix := lines[failAt+1]
	for _, w := range []string{"target.bind_dn", "${XTM_TEST_PW_TARGET}"} {
		if !strings.Contains(fix, w) {
			t.Errorf("fix %q does not name %q", fix, w)
		}
	}
	if !strings.Contains(stdout, "PASS  source: connect") {
		t.Errorf("the source forest should still pass:\n%s", stdout)
	}
	if strings.Contains(stdout, "Wrong-Passw0rd!cli") {
		t.Error("output shows the password")
	}
}
