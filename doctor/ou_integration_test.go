package doctor_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/doctor"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
)

// addComputer adds a computer account with the given userAccountControl under ou.
func addComputer(t *testing.T, d *ldaptest.Dir, ou, name string, uac string) string {
	t.Helper()
	dn := "CN=" + name + "," + ou
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"computer"})
	req.Attribute("sAMAccountName", []string{name + "$"})
	req.Attribute("userAccountControl", []string{uac})
	if err := d.Conn.Add(req); err != nil {
		t.Fatalf("add %s (userAccountControl %s): %v", dn, uac, err)
	}
	return dn
}

// An OU of the test's own holding only MailUsers passes; one holding a domain controller's
// computer account (userAccountControl SERVER_TRUST_ACCOUNT, as dcpromo leaves it), even one
// level down, fails naming it (issue 14, finding 6).
func TestCheckTargetOU_DomainControllerAccountRefused(t *testing.T) {
	tgt := ldaptest.Open(t, "target")
	ou := tgt.TempOU(t, "xtm-ouchk")
	if err := doctor.CheckTargetOU(tgt.Conn, ou); err != nil {
		t.Fatalf("an empty OU: %v", err)
	}
	addComputer(t, tgt, ou, "WS-XTM1", "4096") // a workstation: fine
	if err := doctor.CheckTargetOU(tgt.Conn, ou); err != nil {
		t.Fatalf("an OU with a workstation account: %v", err)
	}
	sub := "OU=Servers," + ou
	req := ldap.NewAddRequest(sub, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	if err := tgt.Conn.Add(req); err != nil {
		t.Fatal(err)
	}
	dc := addComputer(t, tgt, sub, "DC-XTM9", "532480") // SERVER_TRUST_ACCOUNT | TRUSTED_FOR_DELEGATION
	err := doctor.CheckTargetOU(tgt.Conn, ou)
	if !errors.Is(err, doctor.ErrUnsafeOU) {
		t.Fatalf("an OU holding %s: %v", dc, err)
	}
	for _, want := range []string{ou, dc, "domain controller", "target.ou"} {
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	t.Logf("CheckTargetOU: %v", err)
}

// The domain's own containers, which config.Validate refuses by name, fail on the live target
// too: the Domain Controllers OU holds the DC, CN=Users and CN=Builtin the critical built-ins.
func TestCheckTargetOU_DomainContainersRefused(t *testing.T) {
	tgt := ldaptest.Open(t, "target")
	for _, c := range []struct{ ou, want string }{
		{"OU=Domain Controllers," + tgt.Base, "domain controller"},
		{"CN=Users," + tgt.Base, "isCriticalSystemObject"},
		{"CN=Builtin," + tgt.Base, "isCriticalSystemObject"},
		{tgt.Base, "domain controller"},
	} {
		err := doctor.CheckTargetOU(tgt.Conn, c.ou)
		if !errors.Is(err, doctor.ErrUnsafeOU) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrUnsafeOU naming %q", c.ou, err, c.want)
			continue
		}
		t.Logf("%s: %v", c.ou, err)
	}
}

// doctor reports the check, and fails it for an OU holding a domain controller.
func TestDoctor_OUWithADomainController_FailsNamingIt(t *testing.T) {
	c := demoConfig(t)
	ch := find(t, run(t, c), "target: OU holds no domain controller")
	if !ch.OK {
		t.Fatalf("the demo OU: %s", ch.Detail)
	}
	tgt := ldaptest.Open(t, "target")
	c.Target.OU = tgt.TempOU(t, "xtm-ouchk")
	dc := addComputer(t, tgt, c.Target.OU, "DC-XTM8", "8192")
	ch = find(t, run(t, c), "target: OU holds no domain controller")
	if ch.OK {
		t.Fatalf("passed for an OU holding %s", dc)
	}
	requireContains(t, "detail", ch.Detail, dc, "domain controller")
	requireContains(t, "fix", ch.Fix, "target.ou")
}
