package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/config"
)

// sampleLines is a valid configuration file, one key a line, so that a test can break line n and
// know which line the error must name.
var sampleLines = strings.Split(strings.TrimPrefix(baseline, "\n"), "\n")

// sampleWith returns the sample with line n (1-based) replaced by repl.
func sampleWith(t *testing.T, n int, repl string) []byte {
	t.Helper()
	lines := slices.Clone(sampleLines)
	if n < 1 || n > len(lines) {
		t.Fatalf("line %d: the sample has %d lines", n, len(lines))
	}
	lines[n-1] = repl
	return []byte(strings.Join(lines, "\n"))
}

// lineOf returns the line number of the sample's line that is exactly s.
func lineOf(t *testing.T, s string) int {
	t.Helper()
	i := slices.Index(sampleLines, s)
	if i < 0 {
		t.Fatalf("the sample has no line %q", s)
	}
	return i + 1
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// A YAML error names the line a text editor shows for the mistake (issue 14, finding 6:
// yaml.v3 reports its parser's errors with a 0-based line number).
func TestLoad_YAMLErrorNamesTheLineOfTheMistake(t *testing.T) {
	bindDN := lineOf(t, "  bind_dn: svc-write@northwind.com") // in target:
	baseDN := lineOf(t, "  base_dn: DC=northwind,DC=com")     // in target:
	group := lineOf(t, "  group: CN=XTM-Migration-Scope,OU=Groups,DC=contoso,DC=com")
	accepted := lineOf(t, "  target_primary_domain: northwind.com") // in mapping:
	cases := []struct {
		name string
		line int
		repl string
	}{
		{"key indented one space too few", bindDN, " bind_dn: svc-write@northwind.com"},
		{"key indented one space too many", baseDN, "   base_dn: DC=northwind,DC=com"},
		{"list item where a key belongs", group, "  - CN=XTM-Migration-Scope,OU=Groups,DC=contoso,DC=com"},
		{"flow list not closed", accepted, "  target_primary_domain: [northwind.com"},
		{"quoted value not closed", bindDN, `  bind_dn: "svc-write@northwind.com`},
		{"colon inside a plain value", bindDN, "  bind_dn: svc: write"},
		{"tab indentation", baseDN, "\tbase_dn: DC=northwind,DC=com"},
		{"first line", 1, "@source:"},
		// Already right before the fix (the decoder's errors use yaml.Node.Line, 1-based); they stay right.
		{"unknown key", baseDN, "  base_dn_typo: DC=northwind,DC=com"},
		{"wrong type", lineOf(t, "  base_dn: DC=contoso,DC=com"), "  page_size: many"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setPasswords(t)
			path := filepath.Join(t.TempDir(), "xtmsyncd.yaml")
			if err := os.WriteFile(path, sampleWith(t, tc.line, tc.repl), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := config.Load(path)
			if err == nil {
				t.Fatalf("line %d %q accepted", tc.line, tc.repl)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			m := lineRE.FindAllStringSubmatch(err.Error(), -1)
			if len(m) == 0 {
				t.Fatalf("error names no line: %v", err)
			}
			if m[0][1] != fmt.Sprint(tc.line) {
				t.Errorf("error names line %s, the mistake is on line %d: %v", m[0][1], tc.line, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// A secret in a quoted value that the mistake leaves open is not repeated in the error.
func TestLoad_YAMLErrorDoesNotQuoteTheLine(t *testing.T) {
	_, err := config.Parse(sampleWith(t, lineOf(t, "  bind_dn: svc-write@northwind.com"), `  bind_dn: "hunter2-secret`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}

// writePasswordConfig writes a config whose target password comes from a file of the given mode.
func writePasswordConfig(t *testing.T, mode os.FileMode, extra map[string]any) (cfg, secret string) {
	t.Helper()
	dir := t.TempDir()
	secret = filepath.Join(dir, "target-pw")
	if err := os.WriteFile(secret, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(secret, mode); err != nil {
		t.Fatal(err)
	}
	edits := map[string]any{"target.bind_password": deleteKey, "target.bind_password_file": secret}
	for k, v := range extra {
		edits[k] = v
	}
	cfg = filepath.Join(dir, "xtmsyncd.yaml")
	if err := os.WriteFile(cfg, edited(t, edits), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, secret
}

// A bind_password_file that group or others may read is refused, as ssh refuses such a key,
// unless bind_password_file_insecure_perms says to accept it (issue 14, finding 6).
func TestLoad_PasswordFileReadableByOthersRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have ACLs, not Unix modes: the check is off there")
	}
	cases := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o400, true}, {0o700, true},
		{0o644, false}, {0o640, false}, {0o604, false}, {0o660, false}, {0o666, false}, {0o610, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			setPasswords(t)
			cfg, secret := writePasswordConfig(t, tc.mode, nil)
			c, err := config.Load(cfg)
			if tc.ok {
				if err != nil {
					t.Fatalf("mode %04o refused: %v", tc.mode, err)
				}
				if c.Target.Password().Reveal() != "file-secret" {
					t.Error("password not read")
				}
				return
			}
			if got := fields(t, err); !slices.Equal(got, []string{"target.bind_password_file"}) {
				t.Fatalf("fields = %v, want [target.bind_password_file] (error: %v)", got, err)
			}
			for _, want := range []string{secret, fmt.Sprintf("%04o", tc.mode), "chmod 600 " + secret, "bind_password_file_insecure_perms"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if strings.Contains(err.Error(), "file-secret") {
				t.Errorf("error repeats the secret: %v", err)
			}

			t.Run("accepted with bind_password_file_insecure_perms", func(t *testing.T) {
				cfg, _ := writePasswordConfig(t, tc.mode, map[string]any{"target.bind_password_file_insecure_perms": true})
				c, err := config.Load(cfg)
				if err != nil {
					t.Fatalf("opt-out ignored: %v", err)
				}
				if c.Target.Password().Reveal() != "file-secret" {
					t.Error("password not read")
				}
			})
		})
	}
}

// target.ou may not be the domain root, nor be or lie under a container the domain itself uses
// (issue 14, finding 6). The OU's content is checked on the live target by doctor.
func TestValidate_TargetOUNotADomainContainer(t *testing.T) {
	cases := []struct {
		ou   string
		text string // "" = accepted
	}{
		{"OU=Cross-Tenant,DC=northwind,DC=com", ""},
		{"OU=Users,OU=Cross-Tenant,DC=northwind,DC=com", ""}, // an OU of one's own named Users
		{"OU=Users,DC=northwind,DC=com", ""},                 // an OU, not the built-in CN=Users
		{"CN=MailUsers,OU=Cross-Tenant,DC=northwind,DC=com", ""},
		{"DC=northwind,DC=com", "domain root"},
		{"dc=NORTHWIND,dc=com", "domain root"},
		{"OU=Domain Controllers,DC=northwind,DC=com", "Domain Controllers"},
		{"ou=domain controllers,DC=northwind,DC=com", "Domain Controllers"},
		{"OU=Mail,OU=Domain Controllers,DC=northwind,DC=com", "Domain Controllers"},
		{"CN=Users,DC=northwind,DC=com", "CN=Users"},
		{"CN=Builtin,DC=northwind,DC=com", "CN=Builtin"},
		{"CN=Computers,DC=northwind,DC=com", "CN=Computers"},
		{"CN=System,DC=northwind,DC=com", "CN=System"},
		{"CN=Policies,CN=System,DC=northwind,DC=com", "CN=System"},
		{"CN=Configuration,DC=northwind,DC=com", "CN=Configuration"},
		{"CN=Schema,CN=Configuration,DC=northwind,DC=com", "CN=Configuration"},
		{"CN=ForeignSecurityPrincipals,DC=northwind,DC=com", "CN=ForeignSecurityPrincipals"},
		{"CN=Managed Service Accounts,DC=northwind,DC=com", "CN=Managed Service Accounts"},
		{"CN=Microsoft Exchange System Objects,DC=northwind,DC=com", "CN=Microsoft Exchange System Objects"},
	}
	for _, tc := range cases {
		t.Run(tc.ou, func(t *testing.T) {
			setPasswords(t)
			_, err := config.Parse(edited(t, map[string]any{"target.ou": tc.ou}))
			if tc.text == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := fields(t, err); !slices.Equal(got, []string{"target.ou"}) {
				t.Fatalf("fields = %v, want [target.ou] (error: %v)", got, err)
			}
			for _, want := range []string{tc.text, "create an OU", "target.ou"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
		})
	}
}

// service.not_ready_after_failures defaults to 3; 0 turns the rule off; negative is refused.
func TestValidate_NotReadyAfterFailures(t *testing.T) {
	setPasswords(t)
	c, err := config.Parse([]byte(baseline))
	if err != nil {
		t.Fatal(err)
	}
	if c.Service.NotReadyAfterFailures != 3 {
		t.Errorf("default = %d, want 3", c.Service.NotReadyAfterFailures)
	}
	for _, n := range []int{0, 1, 10} {
		if _, err := config.Parse(edited(t, map[string]any{"service.not_ready_after_failures": n})); err != nil {
			t.Errorf("%d refused: %v", n, err)
		}
	}
	_, err = config.Parse(edited(t, map[string]any{"service.not_ready_after_failures": -1}))
	if got := fields(t, err); !slices.Equal(got, []string{"service.not_ready_after_failures"}) {
		t.Errorf("fields = %v (error: %v)", got, err)
	}
}
