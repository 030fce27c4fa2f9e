package config_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/config"
	"gopkg.in/yaml.v3"
)

// baseline is a minimal valid configuration; the tests change one thing at a time.
const baseline = `
source:
  url: ldaps://dc1.contoso.com
  bind_dn: svc-read@contoso.com
  bind_password: ${XTM_CFGTEST_SOURCE_PW}
  base_dn: DC=contoso,DC=com
target:
  url: ldaps://dc1.northwind.com
  bind_dn: svc-write@northwind.com
  bind_password: ${XTM_CFGTEST_TARGET_PW}
  base_dn: DC=northwind,DC=com
  ou: OU=Cross-Tenant,DC=northwind,DC=com
scope:
  group: CN=XTM-Migration-Scope,OU=Groups,DC=contoso,DC=com
mapping:
  source_routing_domain: contoso.mail.onmicrosoft.com
  source_domains: [contoso.com, contoso.co.uk, contoso.onmicrosoft.com]
  target_primary_domain: northwind.com
  target_delivery_domain: northwindtraders.mail.onmicrosoft.com
  target_upn_suffix: northwind.com
  accepted_domains: [northwind.com, northwind.co.uk, northwindtraders.onmicrosoft.com, northwindtraders.mail.onmicrosoft.com]
  domain_map:
    contoso.co.uk: northwind.co.uk
`

const (
	sourcePW = "s3cret-Source!"
	targetPW = "s3cret-Target!"
)

func setPasswords(t *testing.T) {
	t.Helper()
	t.Setenv("XTM_CFGTEST_SOURCE_PW", sourcePW)
	t.Setenv("XTM_CFGTEST_TARGET_PW", targetPW)
}

// deleteKey as a value in edits removes the key.
var deleteKey = &struct{}{}

// edited returns the baseline with each dotted path set to its value (or deleted).
func edited(t *testing.T, edits map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(baseline), &doc); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		parts := strings.Split(path, ".")
		m := doc
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		if v == deleteKey {
			delete(m, parts[len(parts)-1])
		} else {
			m[parts[len(parts)-1]] = v
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fieldErrors returns every *config.FieldError joined in err, failing the test for a problem
// that is not one.
func fieldErrors(t *testing.T, err error) []*config.FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) {
		errs = multi.Unwrap()
	}
	var out []*config.FieldError
	for _, e := range errs {
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			t.Errorf("problem %q is not a *config.FieldError", e)
			continue
		}
		out = append(out, fe)
	}
	return out
}

// fields returns the distinct field names of the problems in err, sorted.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var out []string
	for _, fe := range fieldErrors(t, err) {
		if !slices.Contains(out, fe.Field) {
			out = append(out, fe.Field)
		}
	}
	sort.Strings(out)
	return out
}

func TestParse_BaselineIsValidAndResolvesDefaults(t *testing.T) {
	setPasswords(t)
	c, err := config.Parse([]byte(baseline))
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	if got := c.Source.Password().Reveal(); got != sourcePW {
		t.Errorf("source password = %q, want the environment's", got)
	}
	if got := c.Target.Password().Reveal(); got != targetPW {
		t.Errorf("target password = %q, want the environment's", got)
	}
	d := config.Default()
	if c.Source.PageSize != d.Source.PageSize || c.Target.Timeout != d.Target.Timeout || c.Target.Connections != d.Target.Connections {
		t.Errorf("defaults not applied: page_size %d, timeout %v, connections %d", c.Source.PageSize, c.Target.Timeout, c.Target.Connections)
	}
	if c.Mapping.Anchor != "mailNickname" || c.Mapping.Owner != (config.Owner{Attribute: "extensionAttribute15", Value: "xtmsyncd"}) {
		t.Errorf("mapping defaults: anchor %q owner %+v", c.Mapping.Anchor, c.Mapping.Owner)
	}
	if !slices.Contains(c.Mapping.SourceDomains, "contoso.mail.onmicrosoft.com") {
		t.Errorf("source_domains %v: the routing domain should be added", c.Mapping.SourceDomains)
	}
	sum := sha256.Sum256([]byte(baseline))
	if c.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash = %q, want the SHA-256 of the file", c.Hash)
	}
}

func TestParse_UnknownKeysRejected(t *testing.T) {
	setPasswords(t)
	cases := []struct {
		name string
		raw  []byte
		key  string
	}{
		{"top level", edited(t, map[string]any{"sourc": map[string]any{"url": "ldaps://x"}}), "sourc"},
		{"nested in source, alone", []byte("source: {urll: x}\n"), "urll"},
		{"nested in source", edited(t, map[string]any{"source.urll": "x"}), "urll"},
		{"nested in target", edited(t, map[string]any{"target.organizational_unit": "OU=x"}), "organizational_unit"},
		{"two levels deep", edited(t, map[string]any{"mapping.owner.attr": "x"}), "attr"},
		{"limits", edited(t, map[string]any{"limits.max_change": 3}), "max_change"},
		{"log", edited(t, map[string]any{"log.colour": true}), "colour"},
		{"Path is not a YAML key", edited(t, map[string]any{"path": "x"}), "path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(tc.raw)
			if err == nil {
				t.Fatalf("accepted unknown key %q", tc.key)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q does not name the key %q", err, tc.key)
			}
		})
	}
}

func TestValidate_ReportsEveryProblemAtOnce(t *testing.T) {
	setPasswords(t)
	raw := edited(t, map[string]any{
		"source.url":                "http://dc1.contoso.com",
		"target.ou":                 "OU=Cross-Tenant,DC=elsewhere,DC=com",
		"scope.group":               deleteKey,
		"mapping.anchor":            "objectGUID",
		"limits.max_changes":        0,
		"log.format":                "xml",
		"target.connections":        99,
		"mapping.owner.value":       "",
		"mapping.target_upn_suffix": "not a domain",
	})
	_, err := config.Parse(raw)
	if err == nil {
		t.Fatal("accepted a configuration with 9 mistakes")
	}
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("error does not wrap ErrInvalid: %v", err)
	}
	want := []string{"limits.max_changes", "log.format", "mapping.anchor", "mapping.owner.value",
		"mapping.target_upn_suffix", "scope", "source.url", "target.connections", "target.ou"}
	fes := fieldErrors(t, err)
	if len(fes) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(fes), len(want), err)
	}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	for _, f := range want {
		if !strings.Contains(err.Error(), f+": ") {
			t.Errorf("error text does not name %s:\n%v", f, err)
		}
	}
}

func TestSecrets(t *testing.T) {
	cases := []struct {
		name       string
		edits      map[string]any
		env        map[string]string
		wantPW     string // resolved source password when valid
		wantField  string // otherwise the field named
		wantInText string
	}{
		{name: "inline password refused", edits: map[string]any{"source.bind_password": "hunter2"},
			wantField: "source.bind_password", wantInText: "${ENV_VAR}"},
		{name: "inline password with a dollar inside refused", edits: map[string]any{"source.bind_password": "pa$$word"},
			wantField: "source.bind_password"},
		{name: "${VAR} resolved", edits: map[string]any{"source.bind_password": "${XTM_CFGTEST_OTHER}"},
			env: map[string]string{"XTM_CFGTEST_OTHER": "from-env"}, wantPW: "from-env"},
		{name: "$VAR resolved", edits: map[string]any{"source.bind_password": "$XTM_CFGTEST_OTHER"},
			env: map[string]string{"XTM_CFGTEST_OTHER": "from-env-2"}, wantPW: "from-env-2"},
		{name: "value with spaces and symbols kept verbatim", edits: map[string]any{"source.bind_password": "${XTM_CFGTEST_OTHER}"},
			env: map[string]string{"XTM_CFGTEST_OTHER": " p@ss word\t"}, wantPW: " p@ss word\t"},
		{name: "unset variable reported", edits: map[string]any{"source.bind_password": "${XTM_CFGTEST_UNSET_VARIABLE}"},
			wantField: "source.bind_password", wantInText: "XTM_CFGTEST_UNSET_VARIABLE"},
		{name: "empty variable reported", edits: map[string]any{"target.bind_password": "${XTM_CFGTEST_EMPTY}"},
			env: map[string]string{"XTM_CFGTEST_EMPTY": ""}, wantField: "target.bind_password", wantInText: "XTM_CFGTEST_EMPTY"},
		{name: "no secret at all", edits: map[string]any{"target.bind_password": deleteKey},
			wantField: "target.bind_password", wantInText: "required"},
		{name: "password and file both set", edits: map[string]any{"source.bind_password_file": "/nonexistent/pw"},
			wantField: "source.bind_password", wantInText: "not both"},
		{name: "missing file reported", edits: map[string]any{"target.bind_password": deleteKey, "target.bind_password_file": "/nonexistent/xtm-pw"},
			wantField: "target.bind_password_file", wantInText: "/nonexistent/xtm-pw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setPasswords(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := config.Parse(edited(t, tc.edits))
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got := c.Source.Password().Reveal(); got != tc.wantPW {
					t.Errorf("password = %q, want %q", got, tc.wantPW)
				}
				return
			}
			if got := fields(t, err); !slices.Equal(got, []string{tc.wantField}) {
				t.Fatalf("fields = %v, want [%s] (error: %v)", got, tc.wantField, err)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			if !strings.Contains(err.Error(), tc.wantInText) {
				t.Errorf("error %q does not mention %q", err, tc.wantInText)
			}
			for _, secret := range []string{"hunter2", "pa$$word", sourcePW, targetPW} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error text repeats the secret %q: %v", secret, err)
				}
			}
		})
	}
}

func TestLoad_PasswordFileRelativeToConfigDir(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"trailing newline trimmed", "file-secret\n", "file-secret"},
		{"CRLF trimmed", "file-secret\r\n", "file-secret"},
		{"no newline", "file-secret", "file-secret"},
		{"inner spaces kept", "  a b  \n", "  a b  "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setPasswords(t)
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "secrets", "target"), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			raw := edited(t, map[string]any{"target.bind_password": deleteKey, "target.bind_password_file": "secrets/target"})
			path := filepath.Join(dir, "xtmsyncd.yaml")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Chdir(t.TempDir()) // the file must be found from the config's directory, not the working one
			c, err := config.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.Target.Password().Reveal(); got != tc.want {
				t.Errorf("password = %q, want %q", got, tc.want)
			}
			if want := filepath.Join(dir, "secrets", "target"); c.Target.BindPasswordFile != want {
				t.Errorf("bind_password_file = %q, want %q", c.Target.BindPasswordFile, want)
			}
			if c.Path != path {
				t.Errorf("Path = %q, want %q", c.Path, path)
			}
		})
	}
}

func TestLoad_EmptyPasswordFileRefused(t *testing.T) {
	setPasswords(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	raw := edited(t, map[string]any{"source.bind_password": deleteKey, "source.bind_password_file": "pw"})
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if got := fields(t, err); !slices.Equal(got, []string{"source.bind_password_file"}) {
		t.Fatalf("fields = %v, want [source.bind_password_file] (error: %v)", got, err)
	}
	if !strings.Contains(err.Error(), "empty") {
		t.Errorf("error %q does not say the file is empty", err)
	}
}

func TestLoad_RelativePathsResolvedAgainstConfigDir(t *testing.T) {
	setPasswords(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := edited(t, map[string]any{"source.ca_file": "ca.pem", "target.ca_file": "./ca.pem", "journal.path": "state/j.db"})
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for name, got := range map[string]string{"source.ca_file": c.Source.CAFile, "target.ca_file": c.Target.CAFile} {
		if want := filepath.Join(dir, "ca.pem"); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if want := filepath.Join(dir, "state", "j.db"); c.Journal.Path != want {
		t.Errorf("journal.path = %q, want %q", c.Journal.Path, want)
	}
	sum := sha256.Sum256(raw)
	if c.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash does not identify the file")
	}
}

func TestLoad_MissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestParse_RelativePathsStayRelativeToWorkingDir(t *testing.T) {
	setPasswords(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("cwd-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	c, err := config.Parse(edited(t, map[string]any{"source.bind_password": deleteKey, "source.bind_password_file": "pw"}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := c.Source.Password().Reveal(); got != "cwd-secret" {
		t.Errorf("password = %q, want cwd-secret", got)
	}
	if c.Source.BindPasswordFile != "pw" {
		t.Errorf("bind_password_file rewritten to %q", c.Source.BindPasswordFile)
	}
}

func TestValidate_TransportSecurity(t *testing.T) {
	cases := []struct {
		name  string
		edits map[string]any
		want  []string // fields; empty means valid
	}{
		{"ldaps", map[string]any{"source.url": "ldaps://dc1.contoso.com:636"}, nil},
		{"ldap with start_tls", map[string]any{"source.url": "ldap://dc1.contoso.com", "source.start_tls": true}, nil},
		{"ldap IPv6 with start_tls", map[string]any{"target.url": "ldap://[::1]", "target.start_tls": true}, nil},
		{"ldap plaintext when explicitly allowed", map[string]any{"source.url": "ldap://dc1.contoso.com", "source.insecure_plaintext_ldap": true}, nil},
		{"ldap without start_tls refused", map[string]any{"source.url": "ldap://dc1.contoso.com"}, []string{"source.url"}},
		{"ldap without start_tls refused on target", map[string]any{"target.url": "ldap://dc1.northwind.com:389"}, []string{"target.url"}},
		{"ldaps with start_tls refused", map[string]any{"source.start_tls": true}, []string{"source.start_tls"}},
		{"other scheme refused", map[string]any{"source.url": "https://dc1.contoso.com"}, []string{"source.url"}},
		{"no host refused", map[string]any{"target.url": "dc1.northwind.com"}, []string{"target.url"}},
		{"url required", map[string]any{"source.url": deleteKey}, []string{"source.url"}},
		{"ca_file must exist", map[string]any{"source.ca_file": "/nonexistent/ca.pem"}, []string{"source.ca_file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setPasswords(t)
			_, err := config.Parse(edited(t, tc.edits))
			if got := fields(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (error: %v)", got, tc.want, err)
			}
			if tc.want != nil && !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
		})
	}
}

func TestValidate_Fields(t *testing.T) {
	cases := []struct {
		name  string
		edits map[string]any
		want  []string // fields; empty means valid
		text  string   // and a phrase the error must contain
	}{
		// target.ou
		{"ou under base", map[string]any{"target.ou": "OU=Deep,OU=Cross-Tenant,DC=northwind,DC=com"}, nil, ""},
		{"ou under base ignoring case", map[string]any{"target.ou": "ou=Cross-Tenant,dc=NORTHWIND,dc=com"}, nil, ""},
		{"ou outside base", map[string]any{"target.ou": "OU=Cross-Tenant,DC=contoso,DC=com"}, []string{"target.ou"}, "target.base_dn"},
		{"ou is a parent of base", map[string]any{"target.ou": "DC=com"}, []string{"target.ou"}, "under"},
		{"ou not a DN", map[string]any{"target.ou": "Cross-Tenant"}, []string{"target.ou"}, "not a DN"},
		{"ou required", map[string]any{"target.ou": deleteKey}, []string{"target.ou"}, "required"},
		{"base_dn not a DN", map[string]any{"source.base_dn": "contoso.com"}, []string{"source.base_dn"}, "not a DN"},
		{"base_dn required", map[string]any{"source.base_dn": deleteKey}, []string{"source.base_dn"}, "required"},
		{"bind_dn required", map[string]any{"target.bind_dn": deleteKey}, []string{"target.bind_dn"}, "required"},
		// scope
		{"scope needs group or filter", map[string]any{"scope.group": deleteKey}, []string{"scope"}, "scope.group"},
		{"filter alone is enough", map[string]any{"scope.group": deleteKey, "scope.filter": "(extensionAttribute1=Cross-Tenant-Project)"}, nil, ""},
		{"group and filter", map[string]any{"scope.filter": "(&(mail=*)(!(extensionAttribute2=skip)))"}, nil, ""},
		{"bad filter", map[string]any{"scope.filter": "(&(a=b)"}, []string{"scope.filter"}, "not an LDAP filter"},
		{"group not a DN", map[string]any{"scope.group": "XTM-Migration-Scope"}, []string{"scope.group"}, "not a DN"},
		// domains
		{"routing domain not a domain", map[string]any{"mapping.source_routing_domain": "contoso"}, []string{"mapping.source_routing_domain"}, "not a DNS domain"},
		{"upn suffix with a space", map[string]any{"mapping.target_upn_suffix": "north wind.com"}, []string{"mapping.target_upn_suffix"}, "not a DNS domain"},
		{"upn suffix with @", map[string]any{"mapping.target_upn_suffix": "@northwind.com"}, []string{"mapping.target_upn_suffix"}, "not a DNS domain"},
		{"delivery domain required", map[string]any{"mapping.target_delivery_domain": deleteKey}, []string{"mapping.target_delivery_domain"}, "required"},
		{"domains are case-insensitive", map[string]any{"mapping.target_primary_domain": "NorthWind.COM"}, nil, ""},
		{"primary domain not accepted", map[string]any{"mapping.target_primary_domain": "fabrikam.com"}, []string{"mapping.target_primary_domain"}, "accepted_domains"},
		{"delivery domain not accepted", map[string]any{"mapping.target_delivery_domain": "fabrikam.mail.onmicrosoft.com"}, []string{"mapping.target_delivery_domain"}, "accepted_domains"},
		{"accepted domains required", map[string]any{"mapping.accepted_domains": []string{}},
			[]string{"mapping.accepted_domains", "mapping.domain_map.contoso.co.uk"}, "accepted domains"},
		{"accepted overlaps a source domain", map[string]any{"mapping.accepted_domains": []string{"northwind.com", "northwind.co.uk", "northwindtraders.mail.onmicrosoft.com", "contoso.com"}},
			[]string{"mapping.accepted_domains"}, "contoso.com"},
		{"accepted overlaps a source domain ignoring case", map[string]any{"mapping.accepted_domains": []string{"northwind.com", "northwind.co.uk", "northwindtraders.mail.onmicrosoft.com", "Contoso.CO.UK"}},
			[]string{"mapping.accepted_domains"}, "contoso.co.uk"},
		{"accepted overlaps the routing domain", map[string]any{"mapping.accepted_domains": []string{"northwind.com", "northwind.co.uk", "northwindtraders.mail.onmicrosoft.com", "contoso.mail.onmicrosoft.com"}},
			[]string{"mapping.accepted_domains"}, "contoso.mail.onmicrosoft.com"},
		{"domain_map to an unaccepted domain", map[string]any{"mapping.domain_map": map[string]any{"contoso.co.uk": "fabrikam.co.uk"}},
			[]string{"mapping.domain_map.contoso.co.uk"}, "fabrikam.co.uk"},
		{"domain_map ignoring case", map[string]any{"mapping.domain_map": map[string]any{"Contoso.co.UK": "NORTHWIND.co.uk"}}, nil, ""},
		// anchor and owner
		{"anchor empty matches by GUID only", map[string]any{"mapping.anchor": ""}, nil, ""},
		{"anchor mail", map[string]any{"mapping.anchor": "mail"}, nil, ""},
		{"anchor userPrincipalName", map[string]any{"mapping.anchor": "userPrincipalName"}, nil, ""},
		{"anchor any case", map[string]any{"mapping.anchor": "MAILNICKNAME"}, nil, ""},
		{"anchor other attribute refused", map[string]any{"mapping.anchor": "sAMAccountName"}, []string{"mapping.anchor"}, "sAMAccountName"},
		{"owner attribute not a name", map[string]any{"mapping.owner.attribute": "extension Attribute15"}, []string{"mapping.owner.attribute"}, "not an attribute name"},
		{"owner attribute empty", map[string]any{"mapping.owner.attribute": ""}, []string{"mapping.owner.attribute"}, "not an attribute name"},
		{"owner value required", map[string]any{"mapping.owner.value": ""}, []string{"mapping.owner.value"}, "required"},
		// numbers and the rest
		{"connections 0", map[string]any{"target.connections": 0}, []string{"target.connections"}, "between 1 and 16"},
		{"connections 17", map[string]any{"target.connections": 17}, []string{"target.connections"}, "between 1 and 16"},
		{"connections 16", map[string]any{"target.connections": 16}, nil, ""},
		{"page_size 0", map[string]any{"source.page_size": 0}, []string{"source.page_size"}, "between 1 and 5000"},
		{"page_size 5001", map[string]any{"target.page_size": 5001}, []string{"target.page_size"}, "between 1 and 5000"},
		{"timeout zero", map[string]any{"source.timeout": "0s"}, []string{"source.timeout"}, "positive"},
		{"timeout negative", map[string]any{"target.timeout": "-5s"}, []string{"target.timeout"}, "positive"},
		{"max_changes 0", map[string]any{"limits.max_changes": 0}, []string{"limits.max_changes"}, "at least 1"},
		{"max_change_percent -1", map[string]any{"limits.max_change_percent": -1}, []string{"limits.max_change_percent"}, "between 0 (off) and 100"},
		{"max_change_percent 101", map[string]any{"limits.max_change_percent": 101}, []string{"limits.max_change_percent"}, "between 0 (off) and 100"},
		{"max_change_percent 0 is off", map[string]any{"limits.max_change_percent": 0}, nil, ""},
		{"max_change_percent 100", map[string]any{"limits.max_change_percent": 100}, nil, ""},
		{"journal path required", map[string]any{"journal.path": ""}, []string{"journal.path"}, "required"},
		{"log level", map[string]any{"log.level": "verbose"}, []string{"log.level"}, "debug"},
		{"log format", map[string]any{"log.format": "xml"}, []string{"log.format"}, "json"},
		{"log json debug", map[string]any{"log.format": "json", "log.level": "debug"}, nil, ""},
		// domain controllers (issue 17)
		{"urls instead of url", map[string]any{"target.url": deleteKey, "target.urls": []any{"ldaps://dc1.northwind.test", "ldaps://dc2.northwind.test"}}, nil, ""},
		{"url and urls", map[string]any{"target.urls": []any{"ldaps://dc2.northwind.test"}}, []string{"target.url"}, "one of url, urls and domain"},
		{"no url, urls or domain", map[string]any{"source.url": deleteKey}, []string{"source.url"}, "domain (DNS SRV discovery)"},
		{"a plain ldap:// in urls", map[string]any{"target.url": deleteKey, "target.urls": []any{"ldaps://dc1", "ldap://dc2"}}, []string{"target.urls[1]"}, "in clear"},
		{"domain", map[string]any{"source.url": deleteKey, "source.domain": "contoso.test", "source.site": "Oslo"}, nil, ""},
		{"domain not a DNS name", map[string]any{"source.url": deleteKey, "source.domain": "contoso test"}, []string{"source.domain"}, "not a DNS domain name"},
		{"site without domain", map[string]any{"source.site": "Oslo"}, []string{"source.site"}, "set domain too"},
		// sign-in methods
		{"bind unknown", map[string]any{"source.bind": "ntlm"}, []string{"source.bind"}, "simple or kerberos"},
		{"kerberos with a password", map[string]any{"source.bind": "kerberos"}, []string{"source.bind_password"}, "without a password"},
		{"kerberos keytab without principal", map[string]any{"source.bind": "kerberos", "source.bind_password": deleteKey, "source.keytab_file": "/etc/hostname"},
			[]string{"source.principal"}, "required with keytab_file"},
		{"kerberos principal without realm", map[string]any{"source.bind": "kerberos", "source.bind_password": deleteKey, "source.keytab_file": "/etc/hostname", "source.principal": "svc"},
			[]string{"source.principal"}, "realm"},
		{"kerberos keytab missing", map[string]any{"source.bind": "kerberos", "source.bind_password": deleteKey, "source.keytab_file": "/nonexistent.keytab", "source.principal": "svc@CONTOSO.TEST"},
			[]string{"source.keytab_file"}, "cannot read"},
		{"kerberos with the credential cache", map[string]any{"source.bind": "kerberos", "source.bind_password": deleteKey, "source.bind_dn": deleteKey}, nil, ""},
		{"keytab with simple bind", map[string]any{"source.keytab_file": "/etc/hostname"}, []string{"source.keytab_file"}, "bind: kerberos"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setPasswords(t)
			_, err := config.Parse(edited(t, tc.edits))
			if got := fields(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (error: %v)", got, tc.want, err)
			}
			if tc.want == nil {
				return
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not contain %q", err, tc.text)
			}
		})
	}
}

func TestParse_Timeout(t *testing.T) {
	setPasswords(t)
	c, err := config.Parse(edited(t, map[string]any{"source.timeout": "2m30s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Timeout != 150*time.Second {
		t.Errorf("timeout = %v, want 2m30s", c.Source.Timeout)
	}
}

// formats are non-constant so that vet accepts %s/%d on structs: the point is what fmt prints.
var formats = []string{"%v", "%+v", "%s", "%#v", "%q", "%x"}

func TestSecret_NeverPrinted(t *testing.T) {
	const pw = "hunter2-Z9"
	var d config.Directory
	d.SetPassword(pw)
	s := d.Password()
	if s.Reveal() != pw || s.IsZero() {
		t.Fatalf("SetPassword/Reveal round trip failed")
	}
	values := map[string]any{"Secret": s, "*Secret": &s}
	for name, v := range values {
		for _, f := range formats {
			t.Run(name+" "+f, func(t *testing.T) {
				out := fmt.Sprintf(f, v)
				if strings.Contains(out, pw) || strings.Contains(out, hex.EncodeToString([]byte(pw))) {
					t.Fatalf("fmt %s printed the secret: %s", f, out)
				}
			})
		}
	}
	t.Run("String", func(t *testing.T) {
		if got := s.String(); got != "REDACTED" {
			t.Errorf("String() = %q", got)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := json.Marshal(map[string]any{"password": s})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), pw) || !strings.Contains(string(b), "REDACTED") {
			t.Errorf("json = %s", b)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		b, err := yaml.Marshal(map[string]any{"password": s})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), pw) || !strings.Contains(string(b), "REDACTED") {
			t.Errorf("yaml = %s", b)
		}
	})
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"slog text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"slog json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		t.Run(h.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(h.new(&buf))
			log.Info("bind", "password", s, slog.Any("ptr", &s), slog.Group("g", "pw", s))
			out := buf.String()
			if strings.Contains(out, pw) {
				t.Errorf("log printed the secret: %s", out)
			}
			if n := strings.Count(out, "REDACTED"); n != 3 {
				t.Errorf("log has %d REDACTED, want 3: %s", n, out)
			}
		})
	}
	t.Run("zero value is zero", func(t *testing.T) {
		var z config.Directory
		if !z.Password().IsZero() {
			t.Error("zero Directory has a password")
		}
	})
}

func TestSecret_AnyVerbNeverPrints(t *testing.T) {
	const pw = "hunter2-Z9"
	var d config.Directory
	d.SetPassword(pw)
	s := d.Password()
	for _, f := range []string{"%d", "%t", "%w", "%10.3v", "%-8s"} {
		t.Run(f, func(t *testing.T) {
			if out := fmt.Sprintf(f, s); strings.Contains(out, pw) {
				t.Errorf("fmt %s printed the secret: %s", f, out)
			}
		})
	}
}

func TestDirectory_JSONLogNeverPrintsPassword(t *testing.T) {
	const pw = "hunter2-Z9"
	var d config.Directory
	d.URL, d.BindDN = "ldaps://dc1", "svc@contoso.com"
	d.SetPassword(pw)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("dial", "dir", d)
	if strings.Contains(buf.String(), pw) {
		t.Errorf("JSON log printed the password: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "svc@contoso.com") {
		t.Errorf("JSON log lost the directory: %s", buf.String())
	}
}

func TestDirectory_FmtAndTextLogNeverPrintPassword(t *testing.T) {
	const pw = "hunter2-Z9"
	setPasswords(t)
	c, err := config.Parse([]byte(baseline))
	if err != nil {
		t.Fatal(err)
	}
	c.Source.SetPassword(pw)
	c.Target.SetPassword(pw)
	values := map[string]any{"Directory": c.Source, "*Directory": &c.Source, "Target": c.Target, "Config": *c, "*Config": c}
	for name, v := range values {
		for _, f := range formats {
			t.Run(name+" "+f, func(t *testing.T) {
				if out := fmt.Sprintf(f, v); strings.Contains(out, pw) {
					t.Errorf("fmt %s printed the password: %s", f, out)
				}
			})
		}
		t.Run(name+" slog text", func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("dial", "v", v)
			if strings.Contains(buf.String(), pw) {
				t.Errorf("text log printed the password: %s", buf.String())
			}
		})
	}
}

func exampleYAML(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "configs", "xtmsyncd.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestExample_ParsesWithOnlyExternalFileErrors(t *testing.T) {
	t.Setenv("XTM_SOURCE_BIND_PASSWORD", "example-pw")
	raw := exampleYAML(t)
	_, err := config.Parse(raw)
	// The example names files that exist only on a real host; nothing else may be wrong, in
	// particular no unknown key (which would not be a *FieldError).
	want := []string{"graph.source.client_secret_file", "graph.target.certificate_file", "source.ca_file", "target.bind_password_file", "target.ca_file"}
	if got := fields(t, err); !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v (error: %v)", got, want, err)
	}

	t.Run("valid once the files exist", func(t *testing.T) {
		dir := t.TempDir()
		files := map[string]string{
			"/etc/xtmsyncd/contoso-ca.pem":   filepath.Join(dir, "contoso-ca.pem"),
			"/etc/xtmsyncd/northwind-ca.pem": filepath.Join(dir, "northwind-ca.pem"),
			"/run/secrets/xtm-target":        filepath.Join(dir, "xtm-target"),
			"/run/secrets/xtm-graph-source":  filepath.Join(dir, "xtm-graph-source"),
			"/etc/xtmsyncd/graph-target.pem": filepath.Join(dir, "graph-target.pem"),
		}
		s := string(raw)
		for from, to := range files {
			if !strings.Contains(s, from) {
				t.Fatalf("example no longer names %s", from)
			}
			if err := os.WriteFile(to, []byte("content\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			s = strings.ReplaceAll(s, from, to)
		}
		c, err := config.Parse([]byte(s))
		if err != nil {
			t.Fatalf("example with its files present: %v", err)
		}
		if c.Source.Password().Reveal() != "example-pw" || c.Target.Password().Reveal() != "content" {
			t.Errorf("example secrets not resolved")
		}
		if c.Scope.Filter == "" || c.Scope.Group == "" || c.Target.OU == "" {
			t.Errorf("example lost values: %+v", c.Scope)
		}

		// The header says every field is shown "with its default where it has one".
		d := config.Default()
		checks := []struct {
			field     string
			got, want any
		}{
			{"source.page_size", c.Source.PageSize, d.Source.PageSize},
			{"source.timeout", c.Source.Timeout, d.Source.Timeout},
			{"target.page_size", c.Target.PageSize, d.Target.PageSize},
			{"target.timeout", c.Target.Timeout, d.Target.Timeout},
			{"target.connections", c.Target.Connections, d.Target.Connections},
			{"mapping.recipient_display_type", c.Mapping.RecipientDisplayType, d.Mapping.RecipientDisplayType},
			{"mapping.exchange_version", c.Mapping.ExchangeVersion, d.Mapping.ExchangeVersion},
			{"mapping.anchor", c.Mapping.Anchor, d.Mapping.Anchor},
			{"mapping.owner", c.Mapping.Owner, d.Mapping.Owner},
			{"limits.max_changes", c.Limits.MaxChanges, d.Limits.MaxChanges},
			{"limits.max_change_percent", c.Limits.MaxChangePercent, d.Limits.MaxChangePercent},
			{"log.level", c.Log.Level, d.Log.Level},
			{"log.format", c.Log.Format, d.Log.Format},
			{"source.start_tls", c.Source.StartTLS, d.Source.StartTLS},
			{"source.insecure_plaintext_ldap", c.Source.InsecurePlaintextLDAP, d.Source.InsecurePlaintextLDAP},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("example %s = %v, default is %v", ch.field, ch.got, ch.want)
			}
		}
	})
}

// TestExample_DocumentsEveryField walks config.Config by reflection and requires each yaml key of
// each struct type to appear as a key in the example, in a mapping that holds that type (the
// Directory keys may be split between source and target, which share the type).
func TestExample_DocumentsEveryField(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal(exampleYAML(t), &root); err != nil {
		t.Fatal(err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		t.Fatal("example is not one YAML document")
	}
	type key struct {
		typ reflect.Type
		tag string
	}
	found := map[key]bool{}
	var checked int
	var walk func(typ reflect.Type, nodes []*yaml.Node, path string)
	walk = func(typ reflect.Type, nodes []*yaml.Node, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "-" {
				continue
			}
			if strings.Contains(opts, "inline") {
				walk(f.Type, nodes, path)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if tag == "" {
				t.Errorf("%s%s has no yaml tag", path, f.Name)
				continue
			}
			k := key{typ, tag}
			if _, seen := found[k]; !seen {
				found[k] = false
				checked++
			}
			var children []*yaml.Node
			for _, n := range nodes {
				if n.Kind != yaml.MappingNode {
					continue
				}
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value == tag {
						found[k] = true
						children = append(children, n.Content[j+1])
					}
				}
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, children, path+tag+".")
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), root.Content, "")
	if checked < 30 {
		t.Fatalf("walked only %d fields; the reflection walk is broken", checked)
	}
	var missing []string
	for k, ok := range found {
		if !ok {
			missing = append(missing, k.typ.Name()+"."+k.tag)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("configs/xtmsyncd.example.yaml does not document: %v", missing)
	}
}
