// Package ldaptest connects tests to the two demo Active Directories that scripts/testdirs.sh
// runs on loopback, and gives each test an OU of its own that is removed afterwards.
//
// The variables come from the environment, or from .testdirs/env at the project root when the
// environment has none. Without running directories the tests skip with a clear message, unless
// XTM_REQUIRE_DIRS=1 (set by `make test` and CI), where they fail instead.
package ldaptest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldif"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// Dir is one running test directory.
type Dir struct {
	Name   string // "source" or "target"
	Config config.Directory
	Base   string
	Conn   *ldap.Conn
}

// Root returns the project root (the directory holding go.mod).
func Root() string {
	d, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			return ""
		}
		d = p
	}
}

func env(name string, file map[string]string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return file[name]
}

func readEnvFile() map[string]string {
	m := map[string]string{}
	f, err := os.Open(filepath.Join(Root(), ".testdirs", "env"))
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(s.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if ok && !strings.HasPrefix(k, "#") {
			m[k] = strings.Trim(v, `'"`)
		}
	}
	return m
}

// Config returns the connection settings of a test directory ("source" or "target") and
// whether they are known.
func Config(name string) (config.Directory, bool) {
	file := readEnvFile()
	up := strings.ToUpper(name)
	d := config.Directory{
		URL:      env("XTM_TEST_"+up+"_URL", file),
		CAFile:   env("XTM_TEST_"+up+"_CA", file),
		BindDN:   env("XTM_TEST_"+up+"_BIND_DN", file),
		BaseDN:   env("XTM_TEST_"+up+"_BASE", file),
		PageSize: 500,
		Timeout:  30 * time.Second,
	}
	d.SetPassword(env("XTM_TEST_ADMIN_PASSWORD", file))
	return d, d.URL != "" && d.BaseDN != ""
}

// Open connects to a test directory or skips (fails when XTM_REQUIRE_DIRS=1).
func Open(t testing.TB, name string) *Dir {
	t.Helper()
	cfg, ok := Config(name)
	unavailable := func(why string) {
		t.Helper()
		msg := "test directory " + name + " unavailable (" + why + "); start them with: scripts/testdirs.sh up"
		if os.Getenv("XTM_REQUIRE_DIRS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if !ok {
		unavailable("no XTM_TEST_" + strings.ToUpper(name) + "_URL and no .testdirs/env")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := ldapconn.Dial(ctx, &cfg)
	if err != nil {
		unavailable(err.Error())
	}
	t.Cleanup(func() { conn.Close() })
	return &Dir{Name: name, Config: cfg, Base: cfg.BaseDN, Conn: conn}
}

// TempOU creates OU=<prefix>-<random> under the directory's base and removes it, with
// everything below it, when the test ends.
func (d *Dir) TempOU(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dn := "OU=" + ldap.EscapeDN(prefix+"-"+hex.EncodeToString(b)) + "," + d.Base
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	if err := d.Conn.Add(req); err != nil {
		t.Fatalf("create test OU %s: %v", dn, err)
	}
	t.Cleanup(func() {
		if err := d.DeleteTree(dn); err != nil {
			t.Errorf("remove test OU %s: %v", dn, err)
		}
	})
	return dn
}

// DeleteTree deletes dn and everything below it, deepest first.
func (d *Dir) DeleteTree(dn string) error { return DeleteTreeConn(d.Conn, dn) }

// DeleteTreeConn deletes dn and everything below it over conn, deepest first.
func DeleteTreeConn(conn *ldap.Conn, dn string) error {
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil), 1000)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		return err
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	slices.SortFunc(dns, func(a, b string) int { return strings.Count(b, ",") - strings.Count(a, ",") })
	for _, x := range dns {
		if err := conn.Del(ldap.NewDelRequest(x, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return err
		}
	}
	return nil
}

// LoadLDIF adds the entries of an LDIF file (relative to the project root) that lie strictly
// under the DN from, moved under to (every occurrence of from in the file is replaced), so a
// fixture written for the demo OU can be loaded into a test's own OU. It returns the DNs added.
func (d *Dir) LoadLDIF(t testing.TB, file, from, to string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(Root(), file))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ldif.Parse(strings.ReplaceAll(string(raw), from, to))
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	parent, err := ldap.ParseDN(to)
	if err != nil {
		t.Fatalf("LoadLDIF: %q: %v", to, err)
	}
	var added []string
	for _, e := range l.Entries {
		if e.Entry == nil {
			continue
		}
		dn, err := ldap.ParseDN(e.Entry.DN)
		if err != nil || !parent.AncestorOfFold(dn) {
			continue
		}
		req := ldap.NewAddRequest(e.Entry.DN, nil)
		for _, a := range e.Entry.Attributes {
			req.Attribute(a.Name, a.Values)
		}
		if err := d.Conn.Add(req); err != nil {
			t.Fatalf("add %s from %s: %v", e.Entry.DN, file, err)
		}
		added = append(added, e.Entry.DN)
	}
	return added
}

// Demo DNs (testdata/README.md).
const (
	DemoTargetOU   = "OU=Cross-Tenant,OU=Northwind,DC=northwind,DC=test"
	DemoScopeGroup = "CN=XTM-Migration-Scope,OU=Groups,OU=Contoso,DC=contoso,DC=test"
)

// ResetDemoTarget empties the demo target OU and re-adds its fixtures from testdata/target.ldif,
// so a test can sync the demo forest from a known state. Only one test may use the demo OU.
func (d *Dir) ResetDemoTarget(t testing.TB) {
	t.Helper()
	res, err := d.Conn.Search(ldap.NewSearchRequest(DemoTargetOU, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatalf("list %s: %v", DemoTargetOU, err)
	}
	for _, e := range res.Entries {
		if err := d.DeleteTree(e.DN); err != nil {
			t.Fatalf("reset demo target: %v", err)
		}
	}
	d.LoadLDIF(t, "testdata/target.ldif", DemoTargetOU, DemoTargetOU)
}

// Kerberos returns d's settings signing in with Kerberos instead: the test service account's
// keytab, which scripts/testdirs.sh exports, and the krb5.conf it writes for both realms.
func Kerberos(t testing.TB, d *Dir) config.Directory {
	t.Helper()
	file := readEnvFile()
	up := strings.ToUpper(d.Name)
	k := d.Config
	k.BindDN = ""
	k.SetPassword("")
	k.Bind = config.BindKerberos
	k.KeytabFile = env("XTM_TEST_"+up+"_KEYTAB", file)
	k.Principal = env("XTM_TEST_"+up+"_PRINCIPAL", file)
	k.Krb5Conf = env("XTM_TEST_KRB5_CONF", file)
	if k.KeytabFile == "" || k.Krb5Conf == "" {
		t.Fatalf("no keytab for %s in .testdirs/env: run scripts/testdirs.sh up", d.Name)
	}
	return k
}
