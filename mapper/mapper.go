// Package mapper turns source mailboxes into the target MailUsers Microsoft's cross-tenant move
// requires. It is pure: no I/O, deterministic output, every rule named after the article's text
// in mapper_test.go.
package mapper

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

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

// Invalid is a source mailbox that cannot be mapped.
type Invalid struct {
	Source  *directory.Mailbox
	Problem Problem
}

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
		d, p := mapOne(m, r)
		if p == nil && len(byGUID[d.Key]) > 1 {
			others := []string{}
			for _, j := range byGUID[d.Key] {
				if j != i {
					others = append(others, src[j].DN)
				}
			}
			dup := DuplicateGUID(m.DN, d.Key, others)
			p = &dup
		}
		if p != nil {
			fn(nil, &Invalid{Source: m, Problem: *p})
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

// One maps a single source mailbox. It cannot see duplicate ExchangeGUIDs across sources: a
// caller that maps one at a time checks those itself (see DuplicateGUID); Each does.
func One(m *directory.Mailbox, r Rules) (Desired, *Problem) { return mapOne(m, r) }

func mapOne(m *directory.Mailbox, r Rules) (Desired, *Problem) {
	bad := func(code, attr, found, fix string) (Desired, *Problem) {
		return Desired{}, &Problem{Code: code, Object: m.DN, Attribute: attr, Found: found, Fix: fix}
	}
	if len(m.MailboxGUID) == 0 {
		return bad("no_exchange_guid", directory.AttrMailboxGUID, "absent",
			"the source has no ExchangeGUID: is it a mailbox? Check Get-RemoteMailbox in the source and let Azure AD Connect write the GUID on-premises")
	}
	key, err := directory.GUIDFromAD(m.MailboxGUID)
	if err != nil {
		return bad("bad_exchange_guid", directory.AttrMailboxGUID, fmt.Sprintf("%d bytes", len(m.MailboxGUID)),
			"msExchMailboxGuid must be 16 bytes; restore it from the source tenant (Get-Mailbox | select ExchangeGuid)")
	}
	if key.IsZero() {
		return bad("no_exchange_guid", directory.AttrMailboxGUID, key.String(),
			"the ExchangeGUID is all zeros; restore it from the source tenant (Get-Mailbox | select ExchangeGuid)")
	}
	var archive directory.GUID
	if len(m.ArchiveGUID) > 0 {
		if archive, err = directory.GUIDFromAD(m.ArchiveGUID); err != nil {
			return bad("bad_archive_guid", directory.AttrArchiveGUID, fmt.Sprintf("%d bytes", len(m.ArchiveGUID)),
				"msExchArchiveGUID must be 16 bytes; restore it from the source tenant (Get-Mailbox | select ArchiveGuid)")
		}
	}
	if m.Alias == "" {
		return bad("no_alias", directory.AttrMailNickname, "absent", "set the source mailNickname (the Exchange alias)")
	}
	if m.LegacyExchangeDN == "" {
		return bad("no_legacy_dn", directory.AttrLegacyExchangeDN, "absent",
			"the target needs x500:<LegacyExchangeDN>; restore legacyExchangeDN on the source object")
	}
	routing := routingAddress(m, r.SourceRoutingDomain)
	if routing == "" {
		return bad("no_routing_address", directory.AttrProxyAddresses, summarize(m.Proxies),
			fmt.Sprintf("the source has no address in %s; add smtp:%s@%s to the source mailbox (the target's targetAddress must point at it)",
				r.SourceRoutingDomain, m.Alias, r.SourceRoutingDomain))
	}
	primary := primarySMTP(m)
	if primary == "" {
		return bad("no_primary_smtp", directory.AttrProxyAddresses, summarize(m.Proxies), "the source has no primary SMTP address (SMTP:) nor mail")
	}

	proxies := targetProxies(m, r, primary)
	targetAddr := "SMTP:" + routing
	// The targetAddress must not also be a proxy on the target (the article's worked example).
	for _, p := range proxies {
		if strings.EqualFold(directory.Proxy(p).Address(), routing) {
			return bad("routing_address_on_target", directory.AttrTargetAddress, routing,
				"the source routing address would also become a target proxy; remove its domain from mapping.domain_map")
		}
	}

	d := Desired{Source: m, Key: key, CN: cnOf(m), SAMBase: samBase(m.Alias), Attrs: make(map[string][]string, 24)}
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
	if m.ELCMailboxFlags != "" {
		set(directory.AttrELCMailboxFlags, m.ELCMailboxFlags)
	}
	for _, h := range []string{directory.AttrBlockedSendersHash, directory.AttrSafeSendersHash, directory.AttrSafeRecipientsHash} {
		if v, ok := m.Hashes[h]; ok {
			set(h, v)
		}
	}
	set(r.OwnerAttr, r.OwnerValue)
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

func primarySMTP(m *directory.Mailbox) string {
	for _, p := range m.Proxies {
		if p.IsSMTP() && p.IsPrimary() {
			return p.Address()
		}
	}
	return m.Mail
}

// targetProxies builds the target proxyAddresses: the primary first, then the delivery-domain
// proxy, mapped secondaries, x500:<LegacyExchangeDN> and every source x500 and x400.
func targetProxies(m *directory.Mailbox, r Rules, primary string) []string {
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
	add(directory.SMTP(directory.LocalPart(primary)+"@"+r.TargetPrimaryDomain, true))
	add(directory.SMTP(m.Alias+"@"+r.TargetDeliveryDomain, false))
	var rest []string
	for _, p := range m.Proxies {
		if !p.IsSMTP() {
			continue
		}
		if to, ok := r.DomainMap[p.Domain()]; ok {
			rest = append(rest, string(directory.SMTP(directory.LocalPart(p.Address())+"@"+to, false)))
		}
	}
	slices.Sort(rest)
	for _, p := range rest {
		add(directory.Proxy(p))
	}
	add(directory.X500FromLegacyDN(m.LegacyExchangeDN))
	rest = rest[:0]
	for _, p := range m.Proxies {
		switch p.Type() {
		case "x500", "x400":
			// copied as secondary addresses: the target keeps its own primary X500
			rest = append(rest, p.Type()+":"+p.Address())
		}
	}
	slices.Sort(rest)
	for _, p := range rest {
		add(directory.Proxy(p))
	}
	return out
}

func cnOf(m *directory.Mailbox) string {
	switch {
	case m.CN != "":
		return m.CN
	case m.DisplayName != "":
		return m.DisplayName
	}
	return m.Alias
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
	return strings.TrimRight(string(s), ".")
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
