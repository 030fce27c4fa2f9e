package directory

import (
	"slices"
	"strings"
)

// Syntax is how an attribute's values are held in the directory (its attributeSyntax family).
type Syntax string

// Syntaxes.
const (
	SyntaxString  Syntax = "string"  // Unicode or case-insensitive string (2.5.5.12, 2.5.5.4, 2.5.5.5)
	SyntaxInteger Syntax = "integer" // Int32 or Int64 (2.5.5.9, 2.5.5.16), values in decimal
	SyntaxBoolean Syntax = "boolean" // 2.5.5.8
	SyntaxTime    Syntax = "time"    // GeneralizedTime (2.5.5.11)
	SyntaxGUID    Syntax = "guid"    // 16-byte octet string in AD byte order (2.5.5.10)
	SyntaxBinary  Syntax = "binary"  // other octet strings (2.5.5.10)
	SyntaxDN      Syntax = "dn"      // a DN (2.5.5.1); linked attributes
)

// Policy is what xtmsyncd does with a target attribute it writes.
type Policy string

// Policies.
const (
	PolicyNone   Policy = ""        // not written on the target
	PolicyOwned  Policy = "owned"   // set to what the source says on every sync (absent: cleared)
	PolicyMerged Policy = "merged"  // proxyAddresses: SMTP values owned, x500/x400 added never removed, other types left alone
	PolicyCreate Policy = "create"  // set when the object is created (renamed only to stay unique), else left alone
	PolicyCopied Policy = "copied"  // set when the source has it, never removed (AADC write-back attributes)
	PolicyCutter Policy = "cutover" // written by cutover, not by sync
)

// Attribute is one attribute the product reads or writes: the registry's row.
type Attribute struct {
	Name   string
	Syntax Syntax
	Multi  bool
	// Exchange: the attribute comes from Exchange's schema extension (or is one Exchange
	// relies on); doctor checks each forest's schema has it, and the test forests add it.
	Exchange bool
	// Source: read from every source mailbox. Target: read from every target object the plan
	// is diffed against.
	Source, Target bool
	// Policy: how sync (or cutover) writes it on target MailUsers.
	Policy Policy
}

// Attributes is the attribute registry: every attribute xtmsyncd reads or writes, once. The
// readers' attribute lists, the writer's, doctor's schema and rights checks, the test
// forests' schema (testdata/schema/exchange-attributes.tsv) and the README's table are derived
// from it or checked against it.
var Attributes = []Attribute{
	{Name: AttrObjectGUID, Syntax: SyntaxGUID, Source: true, Target: true},
	{Name: AttrCN, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyCreate},
	{Name: AttrDisplayName, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrGivenName, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrSurname, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrSAMAccountName, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyCreate},
	{Name: AttrUPN, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrMail, Syntax: SyntaxString, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrMailNickname, Syntax: SyntaxString, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrProxyAddresses, Syntax: SyntaxString, Multi: true, Exchange: true, Source: true, Target: true, Policy: PolicyMerged},
	{Name: AttrTargetAddress, Syntax: SyntaxString, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrLegacyExchangeDN, Syntax: SyntaxString, Exchange: true, Source: true},
	{Name: AttrMailboxGUID, Syntax: SyntaxGUID, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrArchiveGUID, Syntax: SyntaxGUID, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrPreviousMailboxGUID, Syntax: SyntaxGUID, Exchange: true, Target: true},
	{Name: AttrRecipientTypeDetails, Syntax: SyntaxInteger, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrRecipientDisplayType, Syntax: SyntaxInteger, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrRemoteRecipientType, Syntax: SyntaxInteger, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrVersion, Syntax: SyntaxInteger, Exchange: true, Target: true, Policy: PolicyOwned},
	{Name: AttrELCMailboxFlags, Syntax: SyntaxInteger, Exchange: true, Source: true, Target: true, Policy: PolicyOwned},
	{Name: AttrLitigationHoldDate, Syntax: SyntaxTime, Exchange: true, Source: true},
	{Name: AttrUserHoldPolicies, Syntax: SyntaxString, Multi: true, Exchange: true, Source: true},
	{Name: AttrBlockedSendersHash, Syntax: SyntaxBinary, Exchange: true, Source: true, Target: true, Policy: PolicyCopied},
	{Name: AttrSafeSendersHash, Syntax: SyntaxBinary, Exchange: true, Source: true, Target: true, Policy: PolicyCopied},
	{Name: AttrSafeRecipientsHash, Syntax: SyntaxBinary, Exchange: true, Source: true, Target: true, Policy: PolicyCopied},
	{Name: AttrPublicDelegates, Syntax: SyntaxDN, Multi: true, Exchange: true, Source: true, Target: true, Policy: PolicyCutter},
	{Name: AttrPublicDelegatesBL, Syntax: SyntaxDN, Multi: true, Exchange: true},
	{Name: AttrDelegateListLink, Syntax: SyntaxDN, Multi: true, Exchange: true, Source: true},
	{Name: AttrDelegateListBL, Syntax: SyntaxDN, Multi: true, Exchange: true},
	{Name: AttrHideFromAddressLists, Syntax: SyntaxBoolean, Exchange: true},
	{Name: "extensionAttribute1", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute2", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute3", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute4", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute5", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute6", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute7", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute8", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute9", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute10", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute11", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute12", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute13", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute14", Syntax: SyntaxString, Exchange: true},
	{Name: "extensionAttribute15", Syntax: SyntaxString, Exchange: true},
}

// Lookup returns the registry's row for name (case-insensitive).
func Lookup(name string) (Attribute, bool) {
	i := slices.IndexFunc(Attributes, func(a Attribute) bool { return strings.EqualFold(a.Name, name) })
	if i < 0 {
		return Attribute{}, false
	}
	return Attributes[i], true
}

// names returns the names of the rows keep selects, in registry order.
func names(keep func(Attribute) bool) []string {
	var out []string
	for _, a := range Attributes {
		if keep(a) {
			out = append(out, a.Name)
		}
	}
	return out
}

// Derived lists. Each is a fresh slice: callers may append to it.
var (
	// SourceAttributes are read for every source mailbox.
	SourceAttributes = names(func(a Attribute) bool { return a.Source })
	// TargetAttributes are read for every target object the plan is diffed against.
	TargetAttributes = names(func(a Attribute) bool { return a.Target })
	// ExchangeAttributes are the Exchange schema attributes the product needs in both forests;
	// `doctor` checks that each schema has them.
	ExchangeAttributes = names(func(a Attribute) bool { return a.Exchange })
	// WrittenAttributes are written on existing target MailUsers by sync or cutover, so the
	// account needs the right to write them (those set only at create need the create right;
	// the ownership marker, configurable, is not among them).
	WrittenAttributes = names(func(a Attribute) bool { return a.Policy != PolicyNone && a.Policy != PolicyCreate })
)

// kindOf is the presentation kind of a syntax.
func (s Syntax) kind() Kind {
	switch s {
	case SyntaxGUID:
		return KindGUID
	case SyntaxBinary:
		return KindBinary
	}
	return KindString
}
