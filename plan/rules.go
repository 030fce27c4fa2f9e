package plan

import (
	"fmt"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// The classification rules: why a source is a conflict, migrated, an update or a create. This
// file is the whole of them, in the order classify (finish.go) applies them, each with its
// stable reason code (scripts and spreadsheets key on them) and the fix the plan prints. They
// look only at plain facts about the source and the target objects; gathering those facts
// (packed attributes, hashed address claims, held target objects) is builder.go's and
// finish.go's business.
//
//  1. match: the target object holding the source's ExchangeGUID, else the one whose anchor
//     attribute (mapping.anchor) has the source's value. Several: ambiguous_match.
//  2. a source MailUser (mapper.SourceTypeRule) is migrated when its match is the remote
//     mailbox of its finished move (finishedMove), else invalid: it has nothing to move.
//  3. the matched object must be in target.ou (outside_target_ou), not an on-premises mailbox
//     (onprem_mailbox), carry the ownership marker (not_owned) and hold no other ExchangeGUID
//     (guid_mismatch); a remote mailbox is the source's finished move: migrated.
//  4. no other target object may hold an address (address_in_use) or the UPN (upn_in_use) the
//     source's MailUser needs.
//  5. no two sources may want one address: both are conflicts (address_claimed_twice).
//  6. no match: create; a match: update when an owned attribute differs, else unchanged.
//
// Sources that cannot be mapped at all are invalid before any of this (mapper.Prepare), and so
// are sources sharing an ExchangeGUID (mapper.DuplicateGUID).

// verdict is a conflict: its reason code, the attribute concerned, what was found there and what
// to do.
type verdict struct{ reason, attr, found, fix string }

// Reason codes of the rules.
const (
	ReasonAmbiguous    = "ambiguous_match"
	ReasonOutsideOU    = "outside_target_ou"
	ReasonOnPremMbx    = "onprem_mailbox"
	ReasonNotOwned     = "not_owned"
	ReasonGUIDMismatch = "guid_mismatch"
	ReasonAddrInUse    = "address_in_use"
	ReasonUPNInUse     = "upn_in_use"
	ReasonClaimedTwice = "address_claimed_twice"
	ReasonMigrated     = "migrated"
)

// Rule 1: more than one target object holds the ExchangeGUID, or the anchor value.
func ambiguousByGUID(dns string) verdict {
	return verdict{ReasonAmbiguous, directory.AttrMailboxGUID, dns,
		"several target objects hold this ExchangeGUID; keep one and clear msExchMailboxGuid on the others"}
}

func ambiguousByAnchor(anchor, value, dns string) verdict {
	return verdict{ReasonAmbiguous, anchor, dns,
		fmt.Sprintf("several target objects have %s=%s; make it unique or stamp the right one's msExchMailboxGuid", anchor, value)}
}

// target is what rules 2 and 3 need to know of the matched target object. The values as read,
// which only a conflict's message needs, are looked up when one is reported.
type target struct {
	dn          string
	inOU, owned bool
	typ         int64 // msExchRecipientTypeDetails (0: absent or not a number)
	holdsOther  bool  // it holds an ExchangeGUID other than the source's
	rec         *tgtRec
}

func (t target) typeFound() string   { return t.rec.typeFound() }   // msExchRecipientTypeDetails as read
func (t target) ownerFound() string  { return t.rec.ownerFound() }  // the ownership attribute as read
func (t target) mailboxGUID() string { return t.rec.mailboxGUID() } // msExchMailboxGuid as read

// Rule 2: the remote mailbox a finished move of the source made (cutover converted the
// MailUser): in the target OU, owned, holding the source's ExchangeGUID and no other.
func finishedMove(t target) bool {
	return t.inOU && t.owned && !t.holdsOther && directory.IsRemoteMailbox(t.typ)
}

// Rule 3: the matched object is one xtmsyncd may prepare. It returns the conflict, or migrated
// for the source's finished move; neither means the match is the source's MailUser. anchorFound
// names the anchor value when the match was by anchor ("" by ExchangeGUID).
func matchRule(t target, anchorFound string, opt Options) (v *verdict, migrated bool) {
	switch {
	case !t.inOU:
		found := t.dn
		if anchorFound != "" {
			found = anchorFound
		}
		return &verdict{ReasonOutsideOU, opt.Anchor, found,
			"the matching target object is outside target.ou; move it into the OU, or give it another " + opt.Anchor + " if it is a different person"}, false
	case directory.IsOnPremMailbox(t.typ):
		return &verdict{ReasonOnPremMbx, directory.AttrRecipientTypeDetails, t.typeFound(),
			"the target object is an on-premises mailbox; a MailUser cannot be prepared over it. Move or remove that mailbox first, or exclude the source from scope"}, false
	case !t.owned:
		return &verdict{ReasonNotOwned, opt.OwnerAttr, fmt.Sprintf("%q", t.ownerFound()),
			fmt.Sprintf("xtmsyncd changes only objects it owns; if this object is the prepared MailUser, set %s=%s on it, else resolve the clash", opt.OwnerAttr, opt.OwnerValue)}, false
	case t.holdsOther:
		return &verdict{ReasonGUIDMismatch, directory.AttrMailboxGUID, t.mailboxGUID(),
			"the target holds a different ExchangeGUID; clear it on the target only if that object is not a mailbox anywhere (Get-User -Identity ... | select *recipient*)"}, false
	case directory.IsRemoteMailbox(t.typ):
		// The move completed and cutover made it a remote mailbox: sync must not turn it back
		// into a MailUser pointing at the source.
		return nil, true
	}
	return nil, false
}

// Rule 4: another target object holds an address or the UPN the source's MailUser needs
// (found: the value as that object holds it).
func addressInUse(found string) verdict {
	return verdict{ReasonAddrInUse, directory.AttrProxyAddresses, found,
		"another target object already holds this address; remove it there, or change the mapping"}
}

func upnInUse(found string) verdict {
	return verdict{ReasonUPNInUse, directory.AttrUPN, found, "another target object already has this userPrincipalName"}
}

// Rule 5: two sources map to one target address; neither may have it.
func claimedTwice(value string) verdict {
	return verdict{ReasonClaimedTwice, directory.AttrProxyAddresses, value,
		"two source mailboxes map to this target address; give one of them another primary address or alias"}
}

// problem is the verdict as the plan reports it, on object.
func (v verdict) problem(object string) mapper.Problem {
	return mapper.Problem{Code: v.reason, Object: object, Attribute: v.attr, Found: v.found, Fix: v.fix}
}
