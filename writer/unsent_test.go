package writer

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// unsent tells apart a write go-ldap never sent (safe to send again) from one whose answer was
// lost (outcome unknown), from go-ldap's own errors on a real connection to the target forest.
func TestUnsent_GoLDAPErrors(t *testing.T) {
	d := ldaptest.Open(t, "target")
	c, err := ldapconn.Dial(context.Background(), &d.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	err = c.Modify(ldap.NewModifyRequest("CN=nobody,"+d.Base, nil))
	if err == nil || !unsent(err) || !unsent(fmt.Errorf("modify: %w", err)) {
		t.Errorf("a modify on a closed go-ldap connection: %v; want it recognised as never sent", err)
	}
	for _, e := range []error{
		ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: response channel closed")),
		fmt.Errorf("add: %w", directory.ErrOutcomeUnknown),
		ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("no")),
		nil,
	} {
		if unsent(e) {
			t.Errorf("%v counted as never sent", e)
		}
	}
	if !unsent(fmt.Errorf("write: %w", errors.New("unable to send request: write tcp: broken pipe"))) {
		t.Error("a failed socket write is a request never sent whole")
	}
}
