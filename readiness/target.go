package readiness

import (
	"strconv"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// checkTarget runs the validation script's on-premises checks (8 to 14) and the article's other
// MailUser rules against the target object as it is now.
func checkTarget(m *directory.Mailbox, e *directory.Entry, c *plan.Change, r mapper.Rules, add func(id, attr, expected, actual, fix string)) {
	const resync = "run xtmsyncd sync --confirm (it writes this value), then let Azure AD Connect export it"
	found := 0
	inner := add
	add = func(id, attr, expected, actual, fix string) { found++; inner(id, attr, expected, actual, fix) }
	typ, _ := strconv.ParseInt(e.First(directory.AttrRecipientTypeDetails), 10, 64)
	if directory.IsOnPremMailbox(typ) || directory.IsRemoteMailbox(typ) {
		add(TargetIsMailbox, directory.AttrRecipientTypeDetails, "128 (MailUser)", e.First(directory.AttrRecipientTypeDetails),
			"the target already has a mailbox: if this mailbox has moved, there is nothing to do; otherwise remove the target mailbox before moving")
		return
	}
	src, _ := directory.GUIDFromAD(m.MailboxGUID)
	if prev := e.First(directory.AttrPreviousMailboxGUID); prev != "" && !strings.EqualFold(prev, src.String()) {
		add(TargetPrevGUID, directory.AttrPreviousMailboxGUID, "absent or "+src.String(), prev,
			"the target user had another mailbox before: in the target tenant run Set-User -PermanentlyClearPreviousMailboxInfo on it (irreversible: that mailbox's data is gone for good), then move")
	}
	if g := e.First(directory.AttrMailboxGUID); !strings.EqualFold(g, src.String()) {
		add(TargetExchangeGUID, directory.AttrMailboxGUID, src.String(), orAbsent(g), resync)
	}
	var archive string
	if len(m.ArchiveGUID) > 0 {
		if a, err := directory.GUIDFromAD(m.ArchiveGUID); err == nil && !a.IsZero() {
			archive = a.String()
		}
	}
	if got := e.First(directory.AttrArchiveGUID); !strings.EqualFold(got, archive) {
		add(TargetArchiveGUID, directory.AttrArchiveGUID, orAbsent(archive), orAbsent(got), resync)
	}
	var tp []directory.Proxy
	keys := map[string]bool{}
	for _, v := range e.Get(directory.AttrProxyAddresses) {
		tp = append(tp, directory.Proxy(v))
		keys[directory.Proxy(v).Key()] = true
	}
	if want := directory.X500FromLegacyDN(m.LegacyExchangeDN); m.LegacyExchangeDN != "" && !keys[want.Key()] {
		add(TargetLegacyX500, directory.AttrProxyAddresses, string(want), "missing", resync)
	}
	accepted := map[string]bool{}
	for _, d := range r.AcceptedDomains {
		accepted[d] = true
	}
	var primary directory.Proxy
	delivery := false
	for _, p := range tp {
		if !p.IsSMTP() {
			continue
		}
		if p.IsPrimary() {
			primary = p
		}
		if p.Domain() == r.TargetDeliveryDomain {
			delivery = true
		}
		if !accepted[p.Domain()] {
			add(TargetSMTPAccepted, directory.AttrProxyAddresses, "only accepted target domains", string(p),
				"a non-owned SMTP proxy blocks the MailUser-to-mailbox conversion; "+resync+" (xtmsyncd removes it)")
		}
	}
	if primary == "" || !accepted[primary.Domain()] {
		add(TargetPrimarySMTP, directory.AttrProxyAddresses, "SMTP:<address>@"+r.TargetPrimaryDomain, orAbsent(string(primary)), resync)
	}
	if !delivery {
		add(TargetDelivery, directory.AttrProxyAddresses, "smtp:"+m.Alias+"@"+r.TargetDeliveryDomain, "no proxy in "+r.TargetDeliveryDomain,
			"New-MigrationBatch -TargetDeliveryDomain needs a matching proxy; "+resync)
	}
	var missing []string
	for _, p := range m.Proxies {
		// A malformed source value is never written (SOURCE-PROXY-LEFT-OUT says so): not missing.
		if (p.Type() == "x500" || p.Type() == "x400") && !keys[p.Key()] && mapper.SecondaryRule(p, r.Limit(directory.AttrProxyAddresses)) == "" {
			missing = append(missing, string(p))
		}
	}
	if len(missing) > 0 {
		add(TargetAllX500, directory.AttrProxyAddresses, "every source x500", "missing: "+strings.Join(missing, "; "),
			"the move processes won't proceed while a source x500 is missing from the target (article), and missing x500s break replies to old mail and cached recipients (IMCEAEX NDRs); "+resync)
	}
	ta := directory.Proxy(e.First(directory.AttrTargetAddress))
	srcAddr := false
	for _, p := range m.Proxies {
		if p.IsSMTP() && strings.EqualFold(p.Address(), ta.Address()) {
			srcAddr = true
		}
	}
	switch {
	case ta == "" || !srcAddr:
		add(TargetExternalAddr, directory.AttrTargetAddress, "SMTP:<a source address in "+r.SourceRoutingDomain+">", orAbsent(string(ta)), resync)
	case keys[directory.SMTP(ta.Address(), false).Key()]:
		add(TargetExternalAddr, directory.AttrTargetAddress, "not also a target proxy", string(ta)+" is a target proxy too", resync)
	}
	if rt, _ := strconv.ParseInt(e.First(directory.AttrRemoteRecipientType), 10, 64); rt&directory.RemoteDeprovisionMailbox != 0 {
		add(TargetRemoteType8, directory.AttrRemoteRecipientType, "absent", e.First(directory.AttrRemoteRecipientType),
			"8 (DeprovisionMailbox) makes the cloud scrub non-owned proxies and reset the primary address; "+resync+" (xtmsyncd clears it)")
	}
	if c.Action == plan.Update && found == 0 {
		// a drift no specific check names (display name, UPN, ...)
		names := make([]string, len(c.Attrs))
		for i, a := range c.Attrs {
			names[i] = a.Name
		}
		add(TargetOutOfDate, strings.Join(names, ", "), "as xtmsyncd would write it", "differs", "run xtmsyncd plan to see the change, then sync --confirm")
	}
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}
