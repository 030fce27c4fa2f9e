package mapper

import (
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Problem codes of SourceTypeRule: what a source that may not move is.
const (
	CodeOnPremMailbox   = "onprem_mailbox_source"
	CodeMailUserSource  = "mailuser_source"
	CodeNotAMailbox     = "not_a_mailbox_source"
	CodeNoRecipientType = "no_recipient_type"
	CodeUnknownType     = "unknown_recipient_type"
)

// SourceTypeRule is the rule "only Exchange Online mailboxes move": a cross-tenant move goes
// from Exchange Online to Exchange Online, so in a hybrid source forest the object of a movable
// mailbox is a remote mailbox (user, shared, room or equipment; msExchRecipientTypeDetails per
// the facts file §C.4). It returns nil for those, else what the source is and what to do. A
// type that is absent or unknown is a problem too: it is never guessed.
//
// A MailUser (CodeMailUserSource) is the one case the plan looks at again: cutover turns the
// source of a finished move into a MailUser, and while its target is the remote mailbox the move
// made, the plan reports it as migrated instead.
func SourceTypeRule(m *directory.Mailbox) *Problem {
	p := func(code, found, fix string) *Problem {
		return &Problem{Code: code, Object: m.DN, Attribute: directory.AttrRecipientTypeDetails, Found: found, Fix: fix}
	}
	t := m.TypeDetails
	found := fmt.Sprintf("%d (%s)", t, directory.RecipientTypeName(t))
	switch {
	case !m.HasTypeDetails:
		return p(CodeNoRecipientType, "absent",
			"the object has no msExchRecipientTypeDetails, so xtmsyncd cannot tell whether it has a mailbox in Exchange Online; if it has, stamp it as a remote mailbox (Enable-RemoteMailbox, or Set-RemoteMailbox in an Exchange Management Shell of the source), else remove it from the scope group")
	case directory.IsRemoteMailbox(t):
		return nil
	case directory.IsOnPremMailbox(t):
		return p(CodeOnPremMailbox, found,
			"this mailbox is still on the source's Exchange servers, and cross-tenant moves go from Exchange Online to Exchange Online: move it to the source tenant first (a hybrid onboarding move, New-MoveRequest -Remote), then it is a remote mailbox and can be prepared; or remove it from the scope group")
	case t == directory.TypeMailUser:
		return p(CodeMailUserSource, found,
			"a MailUser has no mailbox to move; remove it from the scope group (if it is the source of a mailbox moved and cut over, its target is reported as migrated instead)")
	case directory.RecipientTypeName(t) != "":
		return p(CodeNotAMailbox, found,
			"only remote mailboxes (user, shared, room, equipment) move; remove this object from the scope group")
	}
	return p(CodeUnknownType, fmt.Sprintf("%d (not a recipient type xtmsyncd knows)", t),
		"only remote mailboxes (user, shared, room, equipment) move, and xtmsyncd does not guess an unknown type: check the object in the source (Get-Recipient | select RecipientTypeDetails) and correct msExchRecipientTypeDetails, or remove it from the scope group")
}
