package mapper

import (
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Rule "only Exchange Online mailboxes move" (issue 16.1; article: cross-tenant moves go from
// Exchange Online to Exchange Online; facts §C.4 for the values): a remote mailbox of each kind
// is prepared; an on-premises mailbox, a MailUser, a contact, a group, an unknown or a missing
// type is not, each with its own code, the value found and a fix.
func TestSourceTypeRule_OnlyExchangeOnlineMailboxesMove(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     int64
		has     bool
		code    string // "" movable
		found   string
		fixWord string
	}{
		{"remote user mailbox", directory.TypeRemoteUserMailbox, true, "", "", ""},
		{"remote shared mailbox", directory.TypeRemoteSharedMailbox, true, "", "", ""},
		{"remote room mailbox", directory.TypeRemoteRoomMailbox, true, "", "", ""},
		{"remote equipment mailbox", directory.TypeRemoteEquipmentMailbox, true, "", "", ""},
		{"on-premises user mailbox", directory.TypeUserMailbox, true, CodeOnPremMailbox, "1 (UserMailbox)", "New-MoveRequest -Remote"},
		{"on-premises shared mailbox", directory.TypeSharedMailbox, true, CodeOnPremMailbox, "4 (SharedMailbox)", "Exchange Online"},
		{"on-premises room mailbox", directory.TypeRoomMailbox, true, CodeOnPremMailbox, "16 (RoomMailbox)", "Exchange Online"},
		{"linked mailbox", directory.TypeLinkedMailbox, true, CodeOnPremMailbox, "2 (LinkedMailbox)", "Exchange Online"},
		{"MailUser", directory.TypeMailUser, true, CodeMailUserSource, "128 (MailUser)", "no mailbox"},
		{"mail contact", directory.TypeMailContact, true, CodeNotAMailbox, "64 (MailContact)", "scope group"},
		{"security group", 1024, true, CodeNotAMailbox, "1024 (MailUniversalSecurityGroup)", "scope group"},
		{"team mailbox", 137438953472, true, CodeNotAMailbox, "TeamMailbox", "scope group"},
		{"unknown value", 3, true, CodeUnknownType, "3 (not a recipient type", "does not guess"},
		{"no type at all", 0, false, CodeNoRecipientType, "absent", "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &directory.Mailbox{DN: "CN=x,DC=contoso,DC=test", TypeDetails: tc.typ, HasTypeDetails: tc.has}
			p := SourceTypeRule(m)
			if tc.code == "" {
				if p != nil {
					t.Fatalf("refused a movable source: %+v", p)
				}
				return
			}
			switch {
			case p == nil:
				t.Fatalf("type %d accepted, want %s", tc.typ, tc.code)
			case p.Code != tc.code || p.Object != m.DN || p.Attribute != directory.AttrRecipientTypeDetails:
				t.Errorf("problem %+v, want code %s on %s's msExchRecipientTypeDetails", p, tc.code, m.DN)
			case !strings.Contains(p.Found, tc.found) || !strings.Contains(p.Fix, tc.fixWord):
				t.Errorf("found %q fix %q; want %q and a fix mentioning %q", p.Found, p.Fix, tc.found, tc.fixWord)
			}
		})
	}
}

// The type is the reason: an on-premises mailbox is invalid first for what it is, whatever else
// is wrong with it; a MailUser that is otherwise complete is mapped with Unmovable set (the plan
// decides: migrated, or invalid), and one that is not complete is invalid with the type first.
func TestPrepare_SourceTypeIsTheFirstProblem(t *testing.T) {
	r := baseRules()
	m := lara(t)
	m.TypeDetails = directory.TypeUserMailbox
	m.Alias = ""
	_, probs := Prepare(&m, r)
	if len(probs) < 2 || probs[0].Code != CodeOnPremMailbox || probs[1].Code != "no_alias" {
		t.Errorf("on-premises mailbox without alias: %+v, want %s then no_alias", probs, CodeOnPremMailbox)
	}

	m = lara(t)
	m.TypeDetails = directory.TypeMailUser
	d, probs := Prepare(&m, r)
	if len(probs) != 0 || d.Unmovable == nil || d.Unmovable.Code != CodeMailUserSource {
		t.Errorf("complete MailUser: probs %+v unmovable %+v, want mapped with Unmovable %s", probs, d.Unmovable, CodeMailUserSource)
	}
	m.LegacyExchangeDN = ""
	_, probs = Prepare(&m, r)
	if len(probs) < 2 || probs[0].Code != CodeMailUserSource || probs[1].Code != "no_legacy_dn" {
		t.Errorf("MailUser without legacyExchangeDN: %+v, want %s then no_legacy_dn", probs, CodeMailUserSource)
	}
}

// A msExchELCMailboxFlags value that is not a number is refused, naming the attribute.
func TestPrepare_ELCFlagsNotANumberIsInvalid(t *testing.T) {
	m := lara(t)
	m.ELCMailboxFlags = "lots"
	_, probs := Prepare(&m, baseRules())
	if len(probs) != 1 || probs[0].Code != "bad_elc_flags" || probs[0].Attribute != directory.AttrELCMailboxFlags {
		t.Errorf("problems %+v, want one bad_elc_flags on msExchELCMailboxFlags", probs)
	}
}
