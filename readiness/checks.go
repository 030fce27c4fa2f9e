// Package readiness answers "which mailboxes can move, which cannot and why": per source mailbox
// a verdict (ready, warning, blocked) with findings, each with a stable check ID, the object, the
// attribute, the expected and actual values and the fix. It is pure: it judges data that the
// caller read from both forests (and, later, from the tenants).
package readiness

// Severity of a finding: an error blocks the move.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Verdict for one mailbox.
type Verdict string

// Verdicts.
const (
	Ready   Verdict = "ready"
	Warn    Verdict = "warning"
	Blocked Verdict = "blocked"
	// Migrated: the mailbox has already moved (its target object is the remote mailbox that
	// cutover made of the MailUser). Neither ready nor blocked: nothing to prepare, never
	// batched, not counted as blocked.
	Migrated Verdict = "migrated"
)

// Check describes one check. Source says where the rule comes from.
type Check struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Severity Severity `json:"severity"`
	Source   string   `json:"source"`
	// OnPrem is false for checks only the tenants can answer: listed, never silently passed.
	OnPrem bool `json:"on_premises"`
}

// Check IDs. They are stable: scripts and spreadsheets key on them.
const (
	ScopeNotMember     = "SCOPE-NOT-MEMBER"
	ScopeNestedOnly    = "SCOPE-NESTED-ONLY"
	ScopeNestedGroup   = "SCOPE-NESTED-GROUP"
	ScopeReferral      = "SCOPE-REFERRAL"
	SourceOnPremMbx    = "SOURCE-ONPREM-MAILBOX"
	SourceNotMailbox   = "SOURCE-NOT-MAILBOX"
	SourceTypeUnknown  = "SOURCE-TYPE-UNKNOWN"
	SourceCloudLegacy  = "SOURCE-CLOUD-LEGACYDN"
	SourceNoGUID       = "SOURCE-NO-EXCHANGEGUID"
	SourceDuplicate    = "SOURCE-DUPLICATE-EXCHANGEGUID"
	SourceInvalid      = "SOURCE-INVALID"
	SourceProxyLeftOut = "SOURCE-PROXY-LEFT-OUT"
	SourceLitHold      = "SOURCE-LITIGATION-HOLD"
	SourceHoldPolicies = "SOURCE-HOLD-POLICIES"
	TargetNotCreated   = "TARGET-NOT-CREATED"
	TargetConflict     = "TARGET-CONFLICT"
	TargetIsMailbox    = "TARGET-IS-MAILBOX"
	TargetPrevGUID     = "TARGET-PREVIOUS-MAILBOX-GUID"
	TargetExchangeGUID = "TARGET-EXCHANGEGUID"
	TargetArchiveGUID  = "TARGET-ARCHIVEGUID"
	TargetLegacyX500   = "TARGET-X500-LEGACYDN"
	TargetPrimarySMTP  = "TARGET-PRIMARY-SMTP-ACCEPTED"
	TargetSMTPAccepted = "TARGET-SMTP-ACCEPTED"
	TargetAllX500      = "TARGET-X500-ALL"
	TargetExternalAddr = "TARGET-EXTERNAL-ADDRESS"
	TargetDelivery     = "TARGET-DELIVERY-PROXY"
	TargetRemoteType8  = "TARGET-REMOTE-TYPE-8"
	TargetOutOfDate    = "TARGET-OUT-OF-DATE"

	CloudT2T        = "CLOUD-T2T-LICENSE"
	CloudEXOLicense = "CLOUD-EXO-LICENSE"
	CloudSynced     = "CLOUD-SYNCED"
	CloudScope      = "CLOUD-SCOPE"
)

// Catalogue lists every check, on-premises ones first, in report order.
var Catalogue = []Check{
	{ScopeNotMember, "source is a direct member of the scope group", Error, "MailboxMovePublishedScopes (validation script check 6)", true},
	{ScopeNestedOnly, "source is a member only through a nested group", Error, "article: nested groups are not supported in the scope", true},
	{ScopeNestedGroup, "scope group contains nested groups", Warning, "article: nested groups are not supported in the scope", true},
	{ScopeReferral, "nothing in scope lies in another domain (referrals and members there are not read)", Warning, "LDAP continuation references (RFC 4511 4.5.3); scope group members outside base_dn", true},
	{SourceOnPremMbx, "source is not an on-premises mailbox (it must be in Exchange Online first)", Error, "article: cross-tenant moves go from Exchange Online to Exchange Online", true},
	{SourceNotMailbox, "source is a mailbox (user, shared, room, equipment), not a MailUser, contact or group", Error, "article: only mailboxes move", true},
	{SourceTypeUnknown, "source has a recipient type xtmsyncd knows (msExchRecipientTypeDetails)", Error, "facts §C.4: the type is never guessed", true},
	{SourceCloudLegacy, "source carries its cloud LegacyExchangeDN (/o=ExchangeLabs) as an x500", Warning, "article: every source x500 on the target; replies to old mail use the LegacyExchangeDN", true},
	{SourceNoGUID, "source has an ExchangeGUID", Error, "article: ExchangeGUID must match (MissingExchangeGuidException)", true},
	{SourceDuplicate, "source ExchangeGUID is unique", Error, "ExchangeGUID keys the move", true},
	{SourceInvalid, "source has what the target MailUser needs", Error, "article: target MailUser prerequisites", true},
	{SourceProxyLeftOut, "source secondary addresses are well-formed (a malformed one is left out of the target)", Warning, "x500/x400/SMTP address syntax; proxyAddresses rangeUpper 1123", true},
	{SourceLitHold, "source is not on litigation hold", Error, "article: mailboxes on any type of hold aren't migrated (check 4)", true},
	{SourceHoldPolicies, "source has no hold policies written back from the cloud", Error, "article: mailboxes on any type of hold aren't migrated (check 4)", true},
	{TargetNotCreated, "target MailUser exists", Error, "validation script check 1", true},
	{TargetConflict, "target object is one xtmsyncd can prepare", Error, "ownership and matching rules", true},
	{TargetIsMailbox, "target is not already a mailbox", Error, "article: the target must be a MailUser", true},
	{TargetPrevGUID, "target carries no previous, different mailbox GUID", Error, "article: Set-User -PermanentlyClearPreviousMailboxInfo", true},
	{TargetExchangeGUID, "ExchangeGUID equal on source and target", Error, "validation script check 8", true},
	{TargetArchiveGUID, "ArchiveGUID equal, or absent on both", Error, "validation script check 9", true},
	{TargetLegacyX500, "target has x500:<source LegacyExchangeDN>", Error, "validation script check 10", true},
	{TargetPrimarySMTP, "target primary SMTP address in an accepted domain", Error, "validation script check 11", true},
	{TargetSMTPAccepted, "no target SMTP proxy outside the accepted domains", Error, "validation script check 12 (NotAcceptedDomainException)", true},
	{TargetAllX500, "every source x500 present on the target", Error, "article: the move processes won't proceed if these x500 addresses aren't present (the validation script's check 13 only warns)", true},
	{TargetExternalAddr, "target targetAddress is one of the source's addresses", Error, "validation script check 14", true},
	{TargetDelivery, "target has a proxy in the target delivery domain", Error, "-TargetDeliveryDomain (TargetDeliveryDomainMismatchPermanentException)", true},
	{TargetRemoteType8, "target msExchRemoteRecipientType is not 8", Error, "article: 8 (DeprovisionMailbox) triggers proxy scrubbing", true},
	{TargetOutOfDate, "target matches what xtmsyncd would write", Warning, "xtmsyncd plan", true},

	{CloudT2T, "Cross Tenant User Data Migration licence on source or target", Error, "validation script check 3", false},
	{CloudEXOLicense, "no Exchange Online licence applied before the ExchangeGUID", Error, "article: a licence first provisions a new mailbox", false},
	{CloudSynced, "Azure AD Connect carried the MailUser to the target tenant", Error, "article: verify msExchMailboxGUID / proxyAddresses sync", false},
	{CloudScope, "the scope group's cloud membership matches on-premises", Error, "MailboxMovePublishedScopes is evaluated in the source tenant", false},
	{"CLOUD-HOLDS", "no delay, compliance-tag, in-place or org-wide holds in Exchange Online", Error, "validation script check 4", false},
	{"CLOUD-AUX-ARCHIVE", "at most 12 auxiliary archives (they exist only in Exchange Online)", Error, "validation script check 2", false},
	{"CLOUD-SUBSTRATE-HOLDS", "archive SubstrateHolds folder empty", Error, "validation script check 5", false},
	{"CLOUD-DUMPSTER", "recoverable items fit the target quota", Error, "validation script check 7", false},
	{"CLOUD-PREVIOUS-RECIPIENT", "no PreviousRecipientTypeDetails / soft-deleted mailbox on the target", Error, "article: PermanentlyClearPreviousMailboxInfo", false},
	{"CLOUD-ORG", "organization relationships, migration app and endpoint", Error, "validation script org checks", false},
}

// Lookup returns the catalogue entry of id.
func Lookup(id string) Check {
	for _, c := range Catalogue {
		if c.ID == id {
			return c
		}
	}
	return Check{ID: id, Severity: Error}
}
