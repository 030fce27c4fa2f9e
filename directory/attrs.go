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

// kinds lists every attribute that is not a plain string.
var kinds = []struct {
	name string
	kind Kind
}{
	{"msExchMailboxGuid", KindGUID},
	{"msExchArchiveGUID", KindGUID},
	{"msExchPreviousMailboxGuid", KindGUID},
	{"objectGUID", KindGUID},
	{"msExchBlockedSendersHash", KindBinary},
	{"msExchSafeSendersHash", KindBinary},
	{"msExchSafeRecipientsHash", KindBinary},
}

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

// ExchangeAttributes are the Exchange schema attributes the product needs in both forests;
// `doctor` checks that each schema has them.
var ExchangeAttributes = []string{
	AttrMailboxGUID, AttrArchiveGUID, AttrPreviousMailboxGUID, AttrMailNickname, AttrTargetAddress,
	AttrRecipientTypeDetails, AttrRecipientDisplayType, AttrRemoteRecipientType, AttrVersion,
	AttrELCMailboxFlags, AttrLitigationHoldDate, AttrUserHoldPolicies,
	AttrBlockedSendersHash, AttrSafeSendersHash, AttrSafeRecipientsHash,
	AttrPublicDelegates, AttrPublicDelegatesBL, AttrDelegateListLink, AttrDelegateListBL,
	AttrHideFromAddressLists, AttrProxyAddresses, AttrLegacyExchangeDN,
	"extensionAttribute1", "extensionAttribute2", "extensionAttribute3", "extensionAttribute4",
	"extensionAttribute5", "extensionAttribute6", "extensionAttribute7", "extensionAttribute8",
	"extensionAttribute9", "extensionAttribute10", "extensionAttribute11", "extensionAttribute12",
	"extensionAttribute13", "extensionAttribute14", "extensionAttribute15",
}
