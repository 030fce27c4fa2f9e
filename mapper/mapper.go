// Package mapper turns source mailboxes into the target MailUsers Microsoft's cross-tenant move
// requires. It is pure: no I/O, deterministic output, every rule named after the article's text
// in mapper_test.go.
package mapper

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Rules are the mapping settings (from config.Mapping).
type Rules struct {
	SourceRoutingDomain  string
	SourceDomains        []string
	TargetPrimaryDomain  string
	TargetDeliveryDomain string
	TargetUPNSuffix      string
	AcceptedDomains      []string
	DomainMap            map[string]string
	DisplayType          int64
	ExchangeVersion      int64
	OwnerAttr            string
	OwnerValue           string
	// MaxLength overrides Limits with the target schema's rangeUpper by attribute, when it was
	// read; nil or a missing attribute uses Limits (AD's documented values).
	MaxLength map[string]int
}

// Desired is the MailUser a source mailbox should have in the target forest.
type Desired struct {
	Source *directory.Mailbox
	// Key is the ExchangeGUID: changes are keyed by it.
	Key directory.GUID
	// CN is the relative name for a new object; SAMBase the sAMAccountName before uniqueness.
	CN      string
	SAMBase string
	// Attrs are the attributes xtmsyncd owns, in presentation form. A key with no values means
	// "must be absent". Attributes it does not manage are not keys.
	Attrs map[string][]string
	// Warnings name the source values left out of the target because they are not valid
	// (secondary proxy addresses): the object is still prepared without them.
	Warnings []Problem
	// Unmovable is set for a source MailUser (SourceTypeRule): it may not move, and the plan
	// makes it invalid, unless its target is the remote mailbox of a move already finished.
	Unmovable *Problem
}

// Problem explains why a source cannot be prepared: which object, which attribute, what was
// found and what to do.
type Problem struct {
	Code      string `json:"code"`
	Object    string `json:"object"`
	Attribute string `json:"attribute,omitempty"`
	Found     string `json:"found,omitempty"`
	Fix       string `json:"fix"`
}

// Invalid is a source mailbox that cannot be mapped: Problem is the reason, More the other
// problems found in the same source, in rule order.
type Invalid struct {
	Source  *directory.Mailbox
	Problem Problem
	More    []Problem
}

// Problems returns every problem of the source, the reason first.
func (iv *Invalid) Problems() []Problem { return append([]Problem{iv.Problem}, iv.More...) }

// Map maps every source mailbox. Each source ends up either in desired or in invalid, never both.
// Sources are processed in DN order, so the output is deterministic.
func Map(src []directory.Mailbox, r Rules) ([]Desired, []Invalid) {
	desired := make([]Desired, 0, len(src))
	var invalid []Invalid
	Each(src, r, func(d *Desired, inv *Invalid) {
		if inv != nil {
			invalid = append(invalid, *inv)
		} else {
			desired = append(desired, *d)
		}
	})
	return desired, invalid
}

// Each maps the sources one at a time in DN order and calls fn with either the desired MailUser
// or the reason the source is invalid, so a caller can diff without holding every desired
// object. The pointers are valid only during the call.
func Each(src []directory.Mailbox, r Rules, fn func(*Desired, *Invalid)) {
	order := make([]int, len(src))
	keys := make([]string, len(src))
	for i := range order {
		order[i] = i
		keys[i] = strings.ToLower(src[i].DN)
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	keys = nil

	// The same ExchangeGUID on two sources: neither can move (the move service keys on it).
	byGUID := make(map[directory.GUID][]int, len(src))
	for _, i := range order {
		if g, err := directory.GUIDFromAD(src[i].MailboxGUID); err == nil && !g.IsZero() {
			byGUID[g] = append(byGUID[g], i)
		}
	}
	for _, i := range order {
		m := &src[i]
		d, probs := Prepare(m, r)
		if len(probs) == 0 && len(byGUID[d.Key]) > 1 {
			others := []string{}
			for _, j := range byGUID[d.Key] {
				if j != i {
					others = append(others, src[j].DN)
				}
			}
			probs = []Problem{DuplicateGUID(m.DN, d.Key, others)}
		}
		if len(probs) > 0 {
			fn(nil, &Invalid{Source: m, Problem: probs[0], More: probs[1:]})
			continue
		}
		fn(&d, nil)
	}
}

// DuplicateGUID is the problem of a source whose ExchangeGUID other sources (others, by DN in
// DN order) carry too: neither can move, as the move service keys on it.
func DuplicateGUID(dn string, key directory.GUID, others []string) Problem {
	return Problem{Code: "duplicate_exchange_guid", Object: dn, Attribute: directory.AttrMailboxGUID,
		Found: fmt.Sprintf("%s, also on %s", key, strings.Join(others, "; ")),
		Fix:   "two source objects carry the same ExchangeGUID; find the stale copy (often a leftover from an earlier migration) and clear its msExchMailboxGuid"}
}

// One maps a single source mailbox and returns the first of its problems (see Prepare). It cannot
// see duplicate ExchangeGUIDs across sources: a caller that maps one at a time checks those
// itself (see DuplicateGUID); Each does.
func One(m *directory.Mailbox, r Rules) (Desired, *Problem) {
	d, probs := Prepare(m, r)
	if len(probs) > 0 {
		return Desired{}, &probs[0]
	}
	return d, nil
}

// Prepare maps one source mailbox and checks every value it would write to the target: it
// returns the desired MailUser, or every problem that makes the source invalid, in rule order
// (the first is the reason). A secondary proxy address that is not valid does not make the
// source invalid: it is left out, with a warning in Desired.Warnings. Like One, it cannot see
// duplicate ExchangeGUIDs across sources.
func Prepare(m *directory.Mailbox, r Rules) (Desired, []Problem) {
	var probs []Problem
	bad := func(code, attr, found, fix string) {
		probs = append(probs, Problem{Code: code, Object: m.DN, Attribute: attr, Found: found, Fix: fix})
	}
	// Only Exchange Online mailboxes move; a MailUser is decided by the plan (see Unmovable).
	unmovable := SourceTypeRule(m)
	if unmovable != nil && unmovable.Code != CodeMailUserSource {
		probs = append(probs, *unmovable)
		unmovable = nil
	}
	failed := func() []Problem {
		if unmovable != nil {
			return append([]Problem{*unmovable}, probs...)
		}
		return probs
	}
	tooLong := func(attr, v string) bool {
		why := LengthRule(v, r.limit(attr))
		if why != "" {
			bad("value_too_long", attr, preview(v)+": "+why,
				fmt.Sprintf("shorten %s on the source to at most %d characters; the target refuses a longer value", attr, r.limit(attr)))
		}
		return why != ""
	}

	var key, archive directory.GUID
	var err error
	switch {
	case len(m.MailboxGUID) == 0:
		bad("no_exchange_guid", directory.AttrMailboxGUID, "absent",
			"the source has no ExchangeGUID: is it a mailbox? Check Get-RemoteMailbox in the source and let Azure AD Connect write the GUID on-premises")
	default:
		if key, err = directory.GUIDFromAD(m.MailboxGUID); err != nil {
			bad("bad_exchange_guid", directory.AttrMailboxGUID, fmt.Sprintf("%d bytes", len(m.MailboxGUID)),
				"msExchMailboxGuid must be 16 bytes; restore it from the source tenant (Get-Mailbox | select ExchangeGuid)")
		} else if key.IsZero() {
			bad("no_exchange_guid", directory.AttrMailboxGUID, key.String(),
				"the ExchangeGUID is all zeros; restore it from the source tenant (Get-Mailbox | select ExchangeGuid)")
		}
	}
	if len(m.ArchiveGUID) > 0 {
		if archive, err = directory.GUIDFromAD(m.ArchiveGUID); err != nil {
			bad("bad_archive_guid", directory.AttrArchiveGUID, fmt.Sprintf("%d bytes", len(m.ArchiveGUID)),
				"msExchArchiveGUID must be 16 bytes; restore it from the source tenant (Get-Mailbox | select ArchiveGuid)")
		}
	}

	// The alias becomes the target's mailNickname, the local part of its delivery-domain proxy
	// and the prefix of its UPN.
	if m.Alias == "" {
		bad("no_alias", directory.AttrMailNickname, "absent", "set the source mailNickname (the Exchange alias)")
	} else if why := AliasRule(m.Alias); why != "" {
		bad("bad_alias", directory.AttrMailNickname, preview(m.Alias)+": "+why,
			"give the source a valid alias (Set-RemoteMailbox -Alias): letters, digits and "+aliasSpecials+", a period only between other characters")
	} else if !tooLong(directory.AttrMailNickname, m.Alias) {
		if why := UPNPrefixRule(m.Alias); why != "" {
			bad("bad_upn_prefix", directory.AttrUPN, preview(m.Alias+"@"+r.TargetUPNSuffix)+": "+why,
				"the target UPN is <alias>@"+r.TargetUPNSuffix+"; give the source an alias Microsoft Entra ID accepts before the @: letters A-Z, digits and ' . - _ ! # ^ ~")
		}
	}
	// Values copied as they are.
	tooLong(directory.AttrDisplayName, m.DisplayName)
	tooLong(directory.AttrGivenName, m.GivenName)
	tooLong(directory.AttrSurname, m.Surname)

	switch x500len := len("x500:") + Length(m.LegacyExchangeDN); {
	case m.LegacyExchangeDN == "":
		bad("no_legacy_dn", directory.AttrLegacyExchangeDN, "absent",
			"the target needs x500:<LegacyExchangeDN>; restore legacyExchangeDN on the source object")
	case X500Rule(m.LegacyExchangeDN) != "":
		bad("bad_legacy_dn", directory.AttrLegacyExchangeDN, preview(m.LegacyExchangeDN)+": "+X500Rule(m.LegacyExchangeDN),
			"the target needs x500:<LegacyExchangeDN>, a path such as /o=Org/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=name; restore the source's legacyExchangeDN (Get-RemoteMailbox | select LegacyExchangeDN)")
	case x500len > r.limit(directory.AttrProxyAddresses) && r.limit(directory.AttrProxyAddresses) > 0:
		bad("bad_legacy_dn", directory.AttrLegacyExchangeDN,
			fmt.Sprintf("%s: as x500: %d characters, more than the %d a proxyAddresses value may hold", preview(m.LegacyExchangeDN), x500len, r.limit(directory.AttrProxyAddresses)),
			"the target needs x500:<LegacyExchangeDN> as a proxyAddresses value; restore a legacyExchangeDN short enough for it")
	}
	elc, why := ELCRule(m.ELCMailboxFlags)
	if why != "" {
		bad("bad_elc_flags", directory.AttrELCMailboxFlags, preview(m.ELCMailboxFlags)+": "+why,
			"msExchELCMailboxFlags is a number (flags); correct or clear it on the source (Set-Mailbox -LitigationHoldEnabled / -SingleItemRecoveryEnabled in the source tenant write it back)")
	}
	routing := routingAddress(m, r.SourceRoutingDomain)
	if routing == "" {
		bad("no_routing_address", directory.AttrProxyAddresses, summarize(m.Proxies),
			fmt.Sprintf("the source has no address in %s; add smtp:%s@%s to the source mailbox (the target's targetAddress must point at it)",
				r.SourceRoutingDomain, m.Alias, r.SourceRoutingDomain))
	} else if why := SMTPAddressRule(routing); why != "" {
		bad("bad_routing_address", directory.AttrProxyAddresses, preview(routing)+": "+why,
			fmt.Sprintf("the target's targetAddress must point at the source's address in %s; correct that address on the source mailbox", r.SourceRoutingDomain))
	}
	primary, primaryAttr := primarySMTP(m)
	if primary == "" {
		bad("no_primary_smtp", directory.AttrProxyAddresses, summarize(m.Proxies), "the source has no primary SMTP address (SMTP:) nor mail")
	} else if why := SMTPAddressRule(primary); why != "" {
		found := primary
		if primaryAttr == directory.AttrProxyAddresses {
			found = "SMTP:" + primary
		}
		bad("bad_primary_smtp", primaryAttr, preview(found)+": "+why,
			"the target's primary address is <local part>@"+r.TargetPrimaryDomain+"; correct the source's primary SMTP address (Set-RemoteMailbox -PrimarySmtpAddress)")
	}
	if len(probs) > 0 {
		return Desired{}, failed()
	}

	d := Desired{Source: m, Unmovable: unmovable, Key: key, CN: cnOf(m, r.limit(directory.AttrCN)), SAMBase: samBase(m.Alias), Attrs: make(map[string][]string, 24)}
	proxies := targetProxies(m, r, primary, &d.Warnings)
	targetAddr := "SMTP:" + routing
	// The targetAddress must not also be a proxy on the target (the article's worked example).
	for _, p := range proxies {
		if strings.EqualFold(directory.Proxy(p).Address(), routing) {
			bad("routing_address_on_target", directory.AttrTargetAddress, routing,
				"the source routing address would also become a target proxy; remove its domain from mapping.domain_map")
			return Desired{}, failed()
		}
	}

	// Single values share one backing array: one allocation instead of one per attribute.
	one := make([]string, 0, 20)
	set := func(a string, v ...string) {
		if len(v) == 1 && len(one) < cap(one) {
			one = append(one, v[0])
			d.Attrs[a] = one[len(one)-1 : len(one) : len(one)]
			return
		}
		d.Attrs[a] = v
	}
	set(directory.AttrMailboxGUID, key.String())
	if len(m.ArchiveGUID) > 0 && !archive.IsZero() {
		set(directory.AttrArchiveGUID, archive.String())
	} else {
		set(directory.AttrArchiveGUID) // no archive at the source: none on the target
	}
	set(directory.AttrProxyAddresses, proxies...)
	set(directory.AttrTargetAddress, targetAddr)
	set(directory.AttrMail, directory.Proxy(proxies[0]).Address())
	set(directory.AttrMailNickname, m.Alias)
	set(directory.AttrUPN, m.Alias+"@"+r.TargetUPNSuffix)
	if m.DisplayName != "" {
		set(directory.AttrDisplayName, m.DisplayName)
	} else {
		set(directory.AttrDisplayName, d.CN)
	}
	if m.GivenName != "" {
		set(directory.AttrGivenName, m.GivenName)
	}
	if m.Surname != "" {
		set(directory.AttrSurname, m.Surname)
	}
	set(directory.AttrRecipientTypeDetails, strconv.FormatInt(directory.TypeMailUser, 10))
	set(directory.AttrRecipientDisplayType, strconv.FormatInt(r.DisplayType, 10))
	set(directory.AttrRemoteRecipientType) // absent: 8 would trigger the cloud's proxy scrubbing
	if r.ExchangeVersion != 0 {
		set(directory.AttrVersion, strconv.FormatInt(r.ExchangeVersion, 10))
	}
	if elc != 0 {
		set(directory.AttrELCMailboxFlags, strconv.FormatInt(elc, 10))
	} else {
		set(directory.AttrELCMailboxFlags) // the source has neither bit (any more): cleared
	}
	for _, h := range []string{directory.AttrBlockedSendersHash, directory.AttrSafeSendersHash, directory.AttrSafeRecipientsHash} {
		if v, ok := m.Hashes[h]; ok {
			set(h, v)
		}
	}
	set(r.OwnerAttr, r.OwnerValue)
	// Derived values (mail, UPN, the required proxies, targetAddress) within the schema's
	// limits; the copied ones were checked above.
	for _, a := range []string{directory.AttrMail, directory.AttrUPN, directory.AttrProxyAddresses, directory.AttrTargetAddress} {
		for _, v := range d.Attrs[a] {
			tooLong(a, v)
		}
	}
	if len(probs) > 0 {
		return Desired{}, failed()
	}
	return d, nil
}

// routingAddress returns the source's SMTP address in the source routing domain, as written.
// With several, it prefers the one the source's own targetAddress points at, then
// <alias>@<routing domain>, then the smallest, so the choice never depends on value order.
func routingAddress(m *directory.Mailbox, domain string) string {
	var cands []string
	for _, p := range m.Proxies {
		if p.IsSMTP() && p.Domain() == domain {
			cands = append(cands, p.Address())
		}
	}
	if len(cands) <= 1 {
		return strings.Join(cands, "")
	}
	own := directory.Proxy(m.TargetAddress).Address()
	for _, want := range []string{own, m.Alias + "@" + domain} {
		for _, c := range cands {
			if strings.EqualFold(c, want) {
				return c
			}
		}
	}
	slices.SortFunc(cands, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return cands[0]
}

// primarySMTP returns the source's primary SMTP address and the attribute it came from: the
// SMTP: proxy, else mail.
func primarySMTP(m *directory.Mailbox) (string, string) {
	for _, p := range m.Proxies {
		if p.IsSMTP() && p.IsPrimary() {
			return p.Address(), directory.AttrProxyAddresses
		}
	}
	return m.Mail, directory.AttrMail
}

// targetProxies builds the target proxyAddresses: the primary first, then the delivery-domain
// proxy, mapped secondaries, x500:<LegacyExchangeDN> and every source x500 and x400. A secondary
// that is not valid (secondaryRule) is left out, with a warning in warns.
func targetProxies(m *directory.Mailbox, r Rules, primary string, warns *[]Problem) []string {
	accepted := map[string]bool{}
	for _, a := range r.AcceptedDomains {
		accepted[a] = true
	}
	sourceOwned := map[string]bool{r.SourceRoutingDomain: true}
	for _, s := range r.SourceDomains {
		sourceOwned[s] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(p directory.Proxy) {
		if p.IsSMTP() && (!accepted[p.Domain()] || sourceOwned[p.Domain()]) {
			return // never a source-owned or unaccepted SMTP domain on the target
		}
		if k := p.Key(); !seen[k] {
			seen[k] = true
			out = append(out, string(p))
		}
	}
	// A secondary address, as written to the target and as the source holds it.
	type secondary struct{ v, src string }
	rest := make([]secondary, 0, len(m.Proxies))
	// addRest adds the secondaries in rest in value order. One that is not valid is left out
	// alone, with a warning naming the source value it came from.
	addRest := func() {
		slices.SortFunc(rest, func(a, b secondary) int {
			if c := strings.Compare(a.v, b.v); c != 0 {
				return c
			}
			return strings.Compare(a.src, b.src)
		})
		for _, s := range rest {
			p := directory.Proxy(s.v)
			if p.IsSMTP() && (!accepted[p.Domain()] || sourceOwned[p.Domain()]) {
				continue // not written anyway
			}
			if why := secondaryRule(p, r.limit(directory.AttrProxyAddresses)); why != "" {
				*warns = append(*warns, Problem{Code: "proxy_left_out", Object: m.DN, Attribute: directory.AttrProxyAddresses,
					Found: preview(s.src) + ": " + why,
					Fix:   "correct or remove this address on the source mailbox; the target gets the other addresses without it"})
				continue
			}
			add(p)
		}
		rest = rest[:0]
	}
	add(directory.SMTP(directory.LocalPart(primary)+"@"+r.TargetPrimaryDomain, true))
	add(directory.SMTP(m.Alias+"@"+r.TargetDeliveryDomain, false))
	for _, p := range m.Proxies {
		if !p.IsSMTP() {
			continue
		}
		if to, ok := r.DomainMap[p.Domain()]; ok {
			rest = append(rest, secondary{string(directory.SMTP(directory.LocalPart(p.Address())+"@"+to, false)), string(p)})
		}
	}
	addRest()
	add(directory.X500FromLegacyDN(m.LegacyExchangeDN))
	for _, p := range m.Proxies {
		switch p.Type() {
		case "x500", "x400":
			// copied as secondary addresses: the target keeps its own primary X500
			rest = append(rest, secondary{p.Type() + ":" + p.Address(), string(p)})
		}
	}
	addRest()
	return out
}

// cnOf is the relative name of a new object: the source CN, else the display name, else the
// alias, cut to the target's cn limit (the name is xtmsyncd's choice, not migration data).
func cnOf(m *directory.Mailbox, limit int) string {
	cn := m.Alias
	switch {
	case m.CN != "":
		cn = m.CN
	case m.DisplayName != "":
		cn = m.DisplayName
	}
	return CutName(cn, limit)
}

// CutName cuts s to at most limit UTF-16 code units (whole runes), dropping the spaces the cut
// leaves at the end; s is returned as it is when it fits (or limit is 0).
func CutName(s string, limit int) string {
	if limit <= 0 || Length(s) <= limit {
		return s
	}
	n := 0
	for i, c := range s {
		if n+utf16.RuneLen(c) > limit {
			return strings.TrimRight(s[:i], " ")
		}
		n += utf16.RuneLen(c)
	}
	return s
}

// samBase derives a sAMAccountName candidate from the alias: characters AD refuses removed,
// at most 20 characters, no trailing period.
func samBase(alias string) string {
	var b strings.Builder
	for _, c := range alias {
		if strings.ContainsRune(`"/\[]:;|=,+*?<>@ `, c) || c < 0x20 {
			continue
		}
		b.WriteRune(c)
	}
	s := []rune(b.String())
	if len(s) > 20 {
		s = s[:20]
	}
	if out := strings.TrimRight(string(s), "."); out != "" {
		return out
	}
	return "mailuser" // nothing of the alias is left (the alias rules make this unreachable)
}

func summarize(ps []directory.Proxy) string {
	var smtp []string
	for _, p := range ps {
		if p.IsSMTP() {
			smtp = append(smtp, string(p))
		}
	}
	if len(smtp) == 0 {
		return "no SMTP proxies"
	}
	return strings.Join(smtp, ", ")
}
