package directory

import "strings"

// LDAP display names of the attributes xtmsyncd reads or writes.
const (
	AttrObjectClass           = "objectClass"
	AttrObjectGUID            = "objectGUID"
	AttrCN                    = "cn"
	AttrDisplayName           = "displayName"
	AttrGivenName             = "givenName"
	AttrSurname               = "sn"
	AttrSAMAccountName        = "sAMAccountName"
	AttrUPN                   = "userPrincipalName"
	AttrMail                  = "mail"
	AttrMailNickname          = "mailNickname"
	AttrProxyAddresses        = "proxyAddresses"
	AttrTargetAddress         = "targetAddress"
	AttrLegacyExchangeDN      = "legacyExchangeDN"
	AttrMailboxGUID           = "msExchMailboxGuid"
	AttrArchiveGUID           = "msExchArchiveGUID"
	AttrPreviousMailboxGUID   = "msExchPreviousMailboxGuid"
	AttrRecipientTypeDetails  = "msExchRecipientTypeDetails"
	AttrRecipientDisplayType  = "msExchRecipientDisplayType"
	AttrRemoteRecipientType   = "msExchRemoteRecipientType"
	AttrVersion               = "msExchVersion"
	AttrELCMailboxFlags       = "msExchELCMailboxFlags"
	AttrLitigationHoldDate    = "msExchLitigationHoldDate"
	AttrUserHoldPolicies      = "msExchUserHoldPolicies"
	AttrBlockedSendersHash    = "msExchBlockedSendersHash"
	AttrSafeSendersHash       = "msExchSafeSendersHash"
	AttrSafeRecipientsHash    = "msExchSafeRecipientsHash"
	AttrPublicDelegates       = "publicDelegates"
	AttrPublicDelegatesBL     = "publicDelegatesBL"
	AttrDelegateListLink      = "msExchDelegateListLink"
	AttrDelegateListBL        = "msExchDelegateListBL"
	AttrHideFromAddressLists  = "msExchHideFromAddressLists"
	AttrMember                = "member"
	AttrMemberOf              = "memberOf"
	AttrUserAccountControl    = "userAccountControl"
	AttrExtensionAttrPrefix   = "extensionAttribute"
	AttrGroupType             = "groupType"
	AttrDistinguishedName     = "distinguishedName"
	AttrMSExchArchiveStatus   = "msExchArchiveStatus"
	AttrPreviousRecipientType = "msExchPreviousRecipientTypeDetails"
)

// Kind says how an attribute's values are presented in plans and journals, and so how the
// adapters convert them to and from the bytes on the wire.
type Kind int

const (
	KindString Kind = iota // Unicode string or integer in decimal: sent as is
	KindGUID               // 16-byte GUID in AD order: shown in canonical string form
	KindBinary             // other octet strings (hashes): shown in standard base64
)

type kindRow struct {
	name string
	kind Kind
}

// kinds are the registry's attributes that are not plain strings, for KindOf.
var kinds = func() []kindRow {
	var out []kindRow
	for _, a := range Attributes {
		if k := a.Syntax.kind(); k != KindString {
			out = append(out, kindRow{a.Name, k})
		}
	}
	return out
}()

// KindOf returns the presentation kind of an attribute (case-insensitive name). It is called
// for every value compared, so it does not allocate.
func KindOf(attr string) Kind {
	for _, k := range kinds {
		if len(k.name) == len(attr) && strings.EqualFold(k.name, attr) {
			return k.kind
		}
	}
	return KindString
}
