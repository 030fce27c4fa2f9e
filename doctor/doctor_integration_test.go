package doctor_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
)

// demoConfig is configs/demo.yaml built from the running test directories' settings.
func demoConfig(t *testing.T) *config.Config {
	t.Helper()
	src := ldaptest.Open(t, "source") // skips (or fails with XTM_REQUIRE_DIRS=1) when down
	tgt := ldaptest.Open(t, "target")
	c := config.Default()
	c.Source = src.Config
	c.Target.Directory = tgt.Config
	c.Target.OU = ldaptest.DemoTargetOU
	c.Scope.Group = ldaptest.DemoScopeGroup
	c.Mapping.SourceRoutingDomain = "contoso.mail.onmicrosoft.com"
	c.Mapping.SourceDomains = []string{"contoso.com", "contoso.co.uk", "contoso-sales.com", "contoso.onmicrosoft.com"}
	c.Mapping.TargetPrimaryDomain = "northwind.com"
	c.Mapping.TargetDeliveryDomain = "northwindtraders.mail.onmicrosoft.com"
	c.Mapping.TargetUPNSuffix = "northwind.com"
	c.Mapping.AcceptedDomains = []string{"northwind.com", "northwind.co.uk", "northwindtraders.onmicrosoft.com", "northwindtraders.mail.onmicrosoft.com"}
	c.Mapping.DomainMap = map[string]string{"contoso.co.uk": "northwind.co.uk"}
	c.Mapping.Owner = config.Owner{Attribute: "extensionAttribute15", Value: "xtmsyncd"}
	c.Mapping.Anchor = "mailNickname"
	c.Journal.Path = filepath.Join(t.TempDir(), "journal.db")
	if err := c.Validate(); err != nil {
		t.Fatalf("the demo configuration built for the test is invalid: %v", err)
	}
	return &c
}

func run(t *testing.T, c *config.Config) []doctor.Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	checks := doctor.Run(ctx, c, nil)
	if len(checks) == 0 {
		t.Fatal("doctor.Run returned no checks")
	}
	for _, ch := range checks {
		t.Logf("ok=%-5v %s | %s | %s", ch.OK, ch.Name, ch.Detail, ch.Fix)
	}
	return checks
}

// find returns the one check whose name starts with prefix.
func find(t *testing.T, checks []doctor.Check, prefix string) doctor.Check {
	t.Helper()
	var found []doctor.Check
	for _, ch := range checks {
		if strings.HasPrefix(ch.Name, prefix) {
			found = append(found, ch)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d checks named %q…, want 1", len(found), prefix)
	}
	return found[0]
}

// requireForestPasses requires at least one check of the forest ("source" or "target") and that
// all of them pass.
func requireForestPasses(t *testing.T, checks []doctor.Check, forest string) {
	t.Helper()
	n := 0
	for _, ch := range checks {
		if strings.HasPrefix(ch.Name, forest+":") {
			n++
			if !ch.OK {
				t.Errorf("%s failed: %s (fix: %s)", ch.Name, ch.Detail, ch.Fix)
			}
		}
	}
	if n == 0 {
		t.Errorf("no %s checks ran", forest)
	}
}

func requireContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			t.Errorf("%s %q does not mention %q", what, s, sub)
		}
	}
}

func TestDoctor_DemoAllPass(t *testing.T) {
	c := demoConfig(t)
	checks := run(t, c)
	if doctor.Failed(checks) {
		t.Error("doctor.Failed reports a failure for the demo configuration")
	}
	for _, ch := range checks {
		if !ch.OK {
			t.Errorf("FAIL %s: %s (fix: %s)", ch.Name, ch.Detail, ch.Fix)
		}
		if ch.OK && ch.Fix != "" {
			t.Errorf("passing check %s carries a fix: %s", ch.Name, ch.Fix)
		}
	}
	// Every check the doctor promises, for both forests.
	for _, prefix := range []string{
		"source: connect over LDAPS",
		"source: schema has the",
		"source: scope group exists",
		"target: connect over LDAPS",
		"target: schema has the",
		"target: OU exists: " + ldaptest.DemoTargetOU,
		"target: OU holds no domain controller or critical system object",
		"target: the account may create users",
	} {
		find(t, checks, prefix)
	}
	requireContains(t, "scope group detail", find(t, checks, "source: scope group").Detail, "direct members")
	requireContains(t, "source connect detail", find(t, checks, "source: connect").Detail, c.Source.URL)
}

func TestDoctor_WrongPassword_FailsNamingBind(t *testing.T) {
	c := demoConfig(t)
	const wrong = "Wrong-Passw0rd!xtm"
	c.Target.SetPassword(wrong)
	checks := run(t, c)
	if !doctor.Failed(checks) {
		t.Error("doctor.Failed is false with a wrong target password")
	}
	conn := find(t, checks, "target: connect")
	if conn.OK {
		t.Fatal("target connect passed with a wrong password")
	}
	requireContains(t, "detail", conn.Detail, "bind", "password")
	requireContains(t, "fix", conn.Fix, "target.bind_dn", "password")
	for _, ch := range checks {
		for _, secret := range []string{wrong, ldaptestPassword(t)} {
			if strings.Contains(ch.Detail+ch.Fix+ch.Name, secret) {
				t.Errorf("check %q shows a password", ch.Name)
			}
		}
	}
	// Nothing else is checked on a forest that could not be reached; the other forest passes.
	for _, ch := range checks {
		if strings.HasPrefix(ch.Name, "target:") && ch.Name != conn.Name {
			t.Errorf("check %q ran without a target connection", ch.Name)
		}
	}
	requireForestPasses(t, checks, "source")
}

func ldaptestPassword(t *testing.T) string {
	t.Helper()
	d, _ := ldaptest.Config("target")
	return d.Password().Reveal()
}

func TestDoctor_UntrustedCA_FailsNamingTLS(t *testing.T) {
	c := demoConfig(t)
	tgt, _ := ldaptest.Config("target")
	if tgt.CAFile == "" || tgt.CAFile == c.Source.CAFile {
		t.Fatalf("the test directories need distinct CA files (source %q, target %q)", c.Source.CAFile, tgt.CAFile)
	}
	c.Source.CAFile = tgt.CAFile
	checks := run(t, c)
	conn := find(t, checks, "source: connect")
	if conn.OK {
		t.Fatal("source connect passed against a CA that did not issue its certificate")
	}
	requireContains(t, "detail", conn.Detail, "TLS verification failed")
	requireContains(t, "fix", conn.Fix, "source.ca_file", tgt.CAFile)
	requireForestPasses(t, checks, "target")
}

func TestDoctor_MissingSchemaAttribute_FailsNamingIt(t *testing.T) {
	c := demoConfig(t)
	const attr = "msExchExtensionCustomAttribute1"
	c.Mapping.Owner.Attribute = attr
	checks := run(t, c)
	schema := find(t, checks, "target: schema")
	if schema.OK {
		t.Fatalf("target schema check passed though the test schema has no %s", attr)
	}
	requireContains(t, "detail", schema.Detail, "missing", attr)
	requireContains(t, "fix", schema.Fix, "schema", "mapping.owner")
	if strings.Contains(schema.Detail, "extensionAttribute15") || strings.Contains(schema.Detail, "mailNickname") {
		t.Errorf("detail names attributes that exist: %s", schema.Detail)
	}
	// The owner attribute is only needed in the target; the source schema is still fine.
	if src := find(t, checks, "source: schema"); !src.OK {
		t.Errorf("source schema check failed: %s", src.Detail)
	}
	requireForestPasses(t, checks, "source")
	if !find(t, checks, "target: connect").OK {
		t.Error("target connect failed")
	}
}

func TestDoctor_MissingOU_FailsNamingIt(t *testing.T) {
	c := demoConfig(t)
	const ou = "OU=Nope,DC=northwind,DC=test"
	c.Target.OU = ou
	checks := run(t, c)
	ch := find(t, checks, "target: OU exists")
	if ch.OK {
		t.Fatalf("OU check passed for %s", ou)
	}
	requireContains(t, "name", ch.Name, ou)
	requireContains(t, "detail", ch.Detail, "no such object")
	requireContains(t, "fix", ch.Fix, "create the OU", "target.ou")
	for _, x := range checks {
		if strings.HasPrefix(x.Name, "target: the account may create users") {
			t.Error("the create-permission check ran on an OU that does not exist")
		}
	}
	requireForestPasses(t, checks, "source")
}

func TestDoctor_MissingScopeGroup_FailsNamingIt(t *testing.T) {
	c := demoConfig(t)
	c.Scope.Group = "CN=No-Such-Group,OU=Groups,OU=Contoso,DC=contoso,DC=test"
	checks := run(t, c)
	ch := find(t, checks, "source: scope group")
	if ch.OK {
		t.Fatal("scope group check passed for a group that does not exist")
	}
	requireContains(t, "detail", ch.Detail, c.Scope.Group, "not found")
	requireContains(t, "fix", ch.Fix, "scope.group")
	requireForestPasses(t, checks, "target")
}

func TestDoctor_StartTLS_Passes(t *testing.T) {
	cases := []struct {
		forest string
		url    string
		set    func(c *config.Config, url string)
	}{
		{"target", "ldap://[::1]", func(c *config.Config, url string) { c.Target.URL, c.Target.StartTLS = url, true }},
		{"source", "ldap://127.0.0.1", func(c *config.Config, url string) { c.Source.URL, c.Source.StartTLS = url, true }},
	}
	for _, tc := range cases {
		t.Run(tc.forest, func(t *testing.T) {
			c := demoConfig(t)
			tc.set(c, tc.url)
			if err := c.Validate(); err != nil {
				t.Fatalf("StartTLS configuration invalid: %v", err)
			}
			checks := run(t, c)
			conn := find(t, checks, tc.forest+": connect over StartTLS")
			if !conn.OK {
				t.Fatalf("StartTLS connect failed: %s (fix: %s)", conn.Detail, conn.Fix)
			}
			if !strings.Contains(conn.Detail, "("+tc.url+")") || !strings.Contains(conn.Detail, "invocationId") {
				t.Errorf("detail = %q, want the domain controller with the URL %q and its invocationId", conn.Detail, tc.url)
			}
			for _, ch := range checks {
				if !ch.OK {
					t.Errorf("FAIL %s: %s", ch.Name, ch.Detail)
				}
			}
		})
	}
}

// fakeConn stands in for a directory in the tests that need none.
type fakeConn struct{}

func (fakeConn) Search(*ldap.SearchRequest) (*ldap.SearchResult, error) {
	return nil, errors.New("fake directory: no entries")
}
func (fakeConn) Close() error { return nil }

// TestDoctor_PlaintextLDAP_NamedAndWarned needs no directory: it checks that a connection made
// without TLS is called so and warned about, whatever the case of the URL scheme.
func TestDoctor_PlaintextLDAP_NamedAndWarned(t *testing.T) {
	cases := []struct {
		name, url, bug string
	}{
		{name: "lower case", url: "ldap://dc1.contoso.com"},
		{name: "upper case scheme", url: "LDAP://dc1.contoso.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip(tc.bug)
			}
			c := config.Default()
			c.Source = config.Directory{URL: tc.url, InsecurePlaintextLDAP: true, BindDN: "svc@contoso.com",
				BaseDN: "DC=contoso,DC=com", PageSize: 1000, Timeout: time.Minute}
			c.Source.SetPassword("pw")
			c.Target.Directory = config.Directory{URL: "ldaps://dc1.northwind.com", BindDN: "svc@northwind.com",
				BaseDN: "DC=northwind,DC=com", PageSize: 1000, Timeout: time.Minute}
			c.Target.SetPassword("pw")
			c.Target.OU = "OU=X,DC=northwind,DC=com"
			c.Scope.Group = "CN=G,DC=contoso,DC=com"
			var dialled []string
			dial := func(_ context.Context, d *config.Directory) (doctor.Conn, error) {
				dialled = append(dialled, d.URL)
				return fakeConn{}, nil
			}
			checks := doctor.Run(context.Background(), &c, dial)
			if len(dialled) != 2 {
				t.Errorf("dialled %v, want source and target", dialled)
			}
			conn := find(t, checks, "source: connect")
			if !conn.OK {
				t.Fatalf("connect failed: %s", conn.Detail)
			}
			requireContains(t, "name", conn.Name, "PLAIN LDAP")
			requireContains(t, "detail", conn.Detail, "WARNING", "unencrypted")
			if tgt := find(t, checks, "target: connect"); !strings.Contains(tgt.Name, "LDAPS") || strings.Contains(tgt.Detail, "WARNING") {
				t.Errorf("target over LDAPS reported as %q (%s)", tgt.Name, tgt.Detail)
			}
			if !doctor.Failed(checks) {
				t.Error("the fake directory has no schema, yet nothing failed")
			}
		})
	}
}

// Least privilege, checked (issue 17 item 6): signed in as a plain domain user, doctor says the
// account may not create users in the OU and names the attributes it may not write on
// xtmsyncd's MailUsers there; as the demo's account it passes both.
func TestDoctor_RightsOnTheOU_NameWhatIsMissing(t *testing.T) {
	c := demoConfig(t)
	tgt := ldaptest.Open(t, "target")
	ou := tgt.TempOU(t, "xtm-plain")
	name := fmt.Sprintf("plain%d", time.Now().UnixNano()%1_000_000)
	pw := "Plain-" + ldaptestPassword(t)
	add := ldap.NewAddRequest("CN="+name+","+ou, nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{name})
	add.Attribute("userPrincipalName", []string{name + "@northwind.test"})
	add.Attribute("unicodePwd", []string{utf16Quoted(pw)})
	add.Attribute("userAccountControl", []string{"512"})
	if err := tgt.Conn.Add(add); err != nil {
		t.Fatalf("create a plain user: %v", err)
	}
	c.Target.BindDN = name + "@northwind.test"
	c.Target.SetPassword(pw)
	checks := run(t, c)
	if ch := find(t, checks, "target: the account may create users"); ch.OK {
		t.Error("a plain user may create users in the OU, says doctor")
	}
	ch := find(t, checks, "target: the account may write the attributes")
	if ch.OK {
		t.Fatalf("a plain user may write xtmsyncd's attributes, says doctor: %s", ch.Detail)
	}
	requireContains(t, "detail", ch.Detail, "msExchMailboxGuid", "proxyAddresses", "targetAddress")
	requireContains(t, "fix", ch.Fix, "dsacls", "WP")

	admin := run(t, demoConfig(t))
	if ch := find(t, admin, "target: the account may write the attributes"); !ch.OK || !strings.Contains(ch.Detail, "checked on") {
		t.Errorf("the demo's account: %+v", ch)
	}
}

// utf16Quoted is a password as AD's unicodePwd takes it: quoted, UTF-16LE.
func utf16Quoted(pw string) string {
	var b []byte
	for _, r := range `"` + pw + `"` {
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}
