package directory

// msExchRecipientTypeDetails values (Int64). Source: Exchange's RecipientTypeDetails enum, see
// exchange-directory-facts.md §C.4.
const (
	TypeUserMailbox            int64 = 1
	TypeLinkedMailbox          int64 = 2
	TypeSharedMailbox          int64 = 4
	TypeLegacyMailbox          int64 = 8
	TypeRoomMailbox            int64 = 16
	TypeEquipmentMailbox       int64 = 32
	TypeMailContact            int64 = 64
	TypeMailUser               int64 = 128
	TypeRemoteUserMailbox      int64 = 2147483648
	TypeRemoteRoomMailbox      int64 = 8589934592
	TypeRemoteEquipmentMailbox int64 = 17179869184
	TypeRemoteSharedMailbox    int64 = 34359738368
)

// recipientTypeNames are the names of the msExchRecipientTypeDetails values an object in a
// scope group may carry (facts §C.4), for messages.
var recipientTypeNames = map[int64]string{
	TypeUserMailbox: "UserMailbox", TypeLinkedMailbox: "LinkedMailbox", TypeSharedMailbox: "SharedMailbox",
	TypeLegacyMailbox: "LegacyMailbox", TypeRoomMailbox: "RoomMailbox", TypeEquipmentMailbox: "EquipmentMailbox",
	TypeMailContact: "MailContact", TypeMailUser: "MailUser",
	256: "MailUniversalDistributionGroup", 512: "MailNonUniversalGroup", 1024: "MailUniversalSecurityGroup",
	2048: "DynamicDistributionGroup", 4096: "PublicFolder", 8192: "SystemAttendantMailbox",
	16384: "SystemMailbox", 32768: "MailForestContact", 65536: "User", 131072: "Contact",
	2097152: "DisabledUser", 8388608: "ArbitrationMailbox", 33554432: "LinkedUser",
	536870912: "DiscoveryMailbox", 68719476736: "PublicFolderMailbox", 137438953472: "TeamMailbox",
	274877906944: "RemoteTeamMailbox", 1099511627776: "GroupMailbox", 8796093022208: "RemoteGroupMailbox",
	35184372088832:        "GuestMailUser",
	TypeRemoteUserMailbox: "RemoteUserMailbox", TypeRemoteRoomMailbox: "RemoteRoomMailbox",
	TypeRemoteEquipmentMailbox: "RemoteEquipmentMailbox", TypeRemoteSharedMailbox: "RemoteSharedMailbox",
}

// RecipientTypeName returns the Exchange name of a msExchRecipientTypeDetails value, "" when
// the value is not one xtmsyncd knows.
func RecipientTypeName(typeDetails int64) string { return recipientTypeNames[typeDetails] }

// msExchRecipientDisplayType values (Int32, signed).
const (
	DisplayMailboxUser            int64 = 0
	DisplayRemoteMailUser         int64 = 6
	DisplaySyncedMailboxUser      int64 = -2147483642
	DisplaySyncedConferenceRoom   int64 = -2147481850
	DisplaySyncedEquipmentMailbox int64 = -2147481594
)

// msExchRemoteRecipientType flags (Int64).
const (
	RemoteProvisionMailbox   int64 = 1
	RemoteProvisionArchive   int64 = 2
	RemoteMigrated           int64 = 4
	RemoteDeprovisionMailbox int64 = 8 // triggers cloud proxy scrubbing on MailUsers
	RemoteDeprovisionArchive int64 = 16
	RemoteRoomMailbox        int64 = 32
	RemoteEquipmentMailbox   int64 = 64
	RemoteSharedMailbox      int64 = 96
)

// msExchELCMailboxFlags bits (Int32).
const (
	ELCLitigationHold     int64 = 8
	ELCSingleItemRecovery int64 = 16
)

// IsOnPremMailbox reports whether a recipient type details value is a mailbox hosted in the
// on-premises organization (user, linked, shared, legacy, room or equipment mailbox).
func IsOnPremMailbox(typeDetails int64) bool {
	switch typeDetails {
	case TypeUserMailbox, TypeLinkedMailbox, TypeSharedMailbox, TypeLegacyMailbox, TypeRoomMailbox, TypeEquipmentMailbox:
		return true
	}
	return false
}

// MailboxKind is the shape of a mailbox that matters for cutover: user, shared, room or equipment.
type MailboxKind string

// Mailbox kinds.
const (
	KindUser      MailboxKind = "user"
	KindShared    MailboxKind = "shared"
	KindRoom      MailboxKind = "room"
	KindEquipment MailboxKind = "equipment"
)

// KindOfRecipient classifies a source recipient type details value.
func KindOfRecipient(typeDetails int64) MailboxKind {
	switch typeDetails {
	case TypeSharedMailbox, TypeRemoteSharedMailbox:
		return KindShared
	case TypeRoomMailbox, TypeRemoteRoomMailbox:
		return KindRoom
	case TypeEquipmentMailbox, TypeRemoteEquipmentMailbox:
		return KindEquipment
	}
	return KindUser
}

// IsRemoteMailbox reports whether a recipient type details value is a remote (cloud) mailbox:
// what the cutover makes of a target MailUser once its move has completed.
func IsRemoteMailbox(typeDetails int64) bool {
	switch typeDetails {
	case TypeRemoteUserMailbox, TypeRemoteRoomMailbox, TypeRemoteEquipmentMailbox, TypeRemoteSharedMailbox:
		return true
	}
	return false
}
