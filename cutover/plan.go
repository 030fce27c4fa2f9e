package cutover

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Options are the cutover rules (from the config).
type Options struct {
	TargetDeliveryDomain string
	OU                   string
	OwnerAttr            string
	OwnerValue           string
	// ConvertSource turns the source remote mailbox into a MailUser (type 128, display type
	// SourceDisplayType, msExchRemoteRecipientType cleared rather than left at 8) and stamps
	// SourceMarkAttr=SourceMarkValue when set.
	ConvertSource     bool
	SourceDisplayType int64
	SourceMarkAttr    string
	SourceMarkValue   string
}

// Input is what the caller read.
type Input struct {
	Sources   []directory.Mailbox         // the mailboxes in scope
	Target    []*directory.Entry          // the target forest (with publicDelegates)
	SourceNow map[string]*directory.Entry // current source objects of the completed mailboxes, by lower DN
	Completed []Completion
}

// remoteShape is what a target MailUser becomes once its mailbox has moved: Enable-RemoteMailbox's
// values for each kind, with the Migrated flag (4) since the mailbox moved in, plus
// ProvisionArchive (2) when it has an archive (6 = migrated + archive, facts §C.4).
func remoteShape(kind directory.MailboxKind, archive bool) (typ, display, remote int64) {
	switch kind {
	case directory.KindShared:
		typ, display, remote = directory.TypeRemoteSharedMailbox, directory.DisplaySyncedMailboxUser, directory.RemoteSharedMailbox|directory.RemoteMigrated
	case directory.KindRoom:
		typ, display, remote = directory.TypeRemoteRoomMailbox, directory.DisplaySyncedConferenceRoom, directory.RemoteRoomMailbox|directory.RemoteMigrated
	case directory.KindEquipment:
		typ, display, remote = directory.TypeRemoteEquipmentMailbox, directory.DisplaySyncedEquipmentMailbox, directory.RemoteEquipmentMailbox|directory.RemoteMigrated
	default:
		typ, display, remote = directory.TypeRemoteUserMailbox, directory.DisplaySyncedMailboxUser, directory.RemoteMigrated
	}
	if archive {
		remote |= directory.RemoteProvisionArchive
	}
	return typ, display, remote
}

// Plan matches the completed moves to the mailboxes in scope and plans, for each, the target
// and source changes. Rows that match nothing, or whose status is not completed, become
// warnings. Already cut-over objects plan nothing (idempotent).
func Plan(in Input, o Options) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Kind: "cutover", Target: o.OU}
	ou, _ := ldap.ParseDN(o.OU)
	byGUID := map[directory.GUID]*directory.Mailbox{}
	byDN := map[string]*directory.Mailbox{}
	byAlias := map[string]*directory.Mailbox{}
	byAddr := map[string]*directory.Mailbox{}
	for i := range in.Sources {
		m := &in.Sources[i]
		byDN[strings.ToLower(m.DN)] = m
		if g, err := directory.GUIDFromAD(m.MailboxGUID); err == nil && !g.IsZero() {
			byGUID[g] = m
		}
		if m.Alias != "" {
			byAlias[strings.ToLower(m.Alias)] = m
		}
		for _, px := range m.Proxies {
			if px.IsSMTP() {
				byAddr[strings.ToLower(px.Address())] = m
			}
		}
	}
	targets := map[directory.GUID][]*directory.Entry{}
	for _, e := range in.Target {
		if g, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil {
			targets[g] = append(targets[g], e)
		}
		for _, v := range e.Get(directory.AttrProxyAddresses) {
			px := directory.Proxy(v)
			if !px.IsSMTP() {
				continue
			}
			if g, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil {
				if m := byGUID[g]; m != nil {
					byAddr[strings.ToLower(px.Address())] = m
				}
			}
		}
	}

	// Which sources completed.
	done := map[*directory.Mailbox]bool{}
	unknown := map[*directory.Mailbox]bool{} // an unknown outcome vetoes any other row's "completed"
	warn := func(code, obj, msg string) {
		p.Warnings = append(p.Warnings, plan.Warning{Code: code, Object: obj, Message: msg})
	}
	for _, c := range in.Completed {
		m := match(c, byGUID, byAddr, byAlias)
		row := fmt.Sprintf("row %d (%s)", c.Row, firstOf(c.ExchangeGUID, c.EmailAddress, c.Identity, c.Alias))
		if c.Row == 0 { // not from a file: named by the source object
			row = firstOf(c.Identity, c.EmailAddress, c.ExchangeGUID, c.Alias)
		}
		reason := ""
		if c.Reason != "" {
			reason = ": " + c.Reason
		}
		switch {
		case m == nil:
			warn("completion_unmatched", row, "matches no mailbox in scope (by ExchangeGuid, else by address, identity or alias): check the export and scope")
		case c.Unknown:
			unknown[m] = true
			warn("completion_unknown", row, fmt.Sprintf("%s is not cut over: whether its move completed is unknown%s", m.Alias, reason))
		case !c.Completed():
			warn("completion_not_completed", row, fmt.Sprintf("status %q: %s is not cut over until its move completes%s", c.Status, m.Alias, reason))
		default:
			done[m] = true
		}
	}
	for m := range unknown {
		delete(done, m)
	}
	if len(in.Completed) > 0 && !in.Completed[0].HasStatus {
		warn("completion_no_status", "completed moves file", "the file has no Status column: every row is taken as completed")
	}

	// Migrated is what the target forest already shows, or what this run completes.
	migrated := func(m *directory.Mailbox) bool {
		if done[m] {
			return true
		}
		g, err := directory.GUIDFromAD(m.MailboxGUID)
		if err != nil {
			return false
		}
		ts := targets[g]
		return len(ts) == 1 && directory.IsRemoteMailbox(intOf(ts[0], directory.AttrRecipientTypeDetails))
	}

	order := make([]*directory.Mailbox, 0, len(done))
	for m := range done {
		order = append(order, m)
	}
	slices.SortFunc(order, func(a, b *directory.Mailbox) int {
		return strings.Compare(strings.ToLower(a.DN), strings.ToLower(b.DN))
	})
	for _, m := range order {
		g, _ := directory.GUIDFromAD(m.MailboxGUID)
		tc, routing := targetChange(m, g, targets[g], ou, o, byDN, targets, migrated, warn)
		p.Changes = append(p.Changes, tc)
		if tc.Action == plan.Conflict || tc.Action == plan.Invalid {
			continue
		}
		p.Changes = append(p.Changes, sourceChange(m, g, in.SourceNow[strings.ToLower(m.DN)], routing, o))
	}
	for _, c := range p.Changes {
		p.Summary.Add(c.Action)
	}
	return p
}

func match(c Completion, byGUID map[directory.GUID]*directory.Mailbox, byAddr, byAlias map[string]*directory.Mailbox) *directory.Mailbox {
	if c.ExchangeGUID != "" {
		if g, err := directory.ParseGUID(c.ExchangeGUID); err == nil {
			return byGUID[g] // a GUID that matches nothing is not matched by address instead
		}
	}
	for _, v := range []string{c.EmailAddress, c.Identity} {
		if m := byAddr[strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(v, "SMTP:"), "smtp:"))]; v != "" && m != nil {
			return m
		}
	}
	for _, v := range []string{c.Alias, c.Identity} {
		if m := byAlias[strings.ToLower(v)]; v != "" && m != nil {
			return m
		}
	}
	return nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return "empty"
}

func intOf(e *directory.Entry, attr string) int64 {
	v, _ := strconv.ParseInt(e.First(attr), 10, 64)
	return v
}

// routingAddress is the target's proxy in the delivery domain (the address MRS stamps on the
// source), else <alias>@<delivery domain>. With several, <alias>@domain wins, then the
// smallest, so the choice never depends on the order the directory returns values in.
func routingAddress(m *directory.Mailbox, e *directory.Entry, domain string) string {
	want := m.Alias + "@" + domain
	var cands []string
	for _, v := range e.Get(directory.AttrProxyAddresses) {
		if px := directory.Proxy(v); px.IsSMTP() && px.Domain() == domain {
			if strings.EqualFold(px.Address(), want) {
				return px.Address()
			}
			cands = append(cands, px.Address())
		}
	}
	if len(cands) == 0 {
		return want
	}
	slices.SortFunc(cands, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return cands[0]
}

func targetChange(m *directory.Mailbox, g directory.GUID, ts []*directory.Entry, ou *ldap.DN, o Options,
	byDN map[string]*directory.Mailbox, targets map[directory.GUID][]*directory.Entry,
	migrated func(*directory.Mailbox) bool, warn func(code, obj, msg string)) (plan.Change, string) {
	c := plan.Change{Key: g.String(), Source: m.DN, Forest: plan.ForestTarget}
	conflict := func(reason, obj, attr, found, fix string) (plan.Change, string) {
		c.Action, c.Reason = plan.Conflict, reason
		c.Problems = []mapper.Problem{{Code: reason, Object: obj, Attribute: attr, Found: found, Fix: fix}}
		return c, ""
	}
	if g.IsZero() {
		c.Action, c.Reason = plan.Invalid, "no_exchange_guid"
		c.Problems = []mapper.Problem{{Code: c.Reason, Object: m.DN, Attribute: directory.AttrMailboxGUID, Found: "absent", Fix: "the source has no ExchangeGUID"}}
		return c, ""
	}
	switch len(ts) {
	case 0:
		return conflict("no_target", m.DN, directory.AttrMailboxGUID, g.String(),
			"no target object holds this ExchangeGUID: the move could not have used xtmsyncd's MailUser; check the target forest")
	case 1:
	default:
		return conflict("ambiguous_match", m.DN, directory.AttrMailboxGUID, fmt.Sprintf("%d target objects", len(ts)),
			"several target objects hold this ExchangeGUID; keep one")
	}
	e := ts[0]
	c.DN = e.DN
	if !e.ObjectGUID.IsZero() {
		c.ObjectGUID = e.ObjectGUID.String()
	}
	if d, err := ldap.ParseDN(e.DN); err != nil || ou == nil || !ou.AncestorOfFold(d) {
		return conflict("outside_target_ou", e.DN, "", e.DN, "the target object is outside target.ou; xtmsyncd writes only there")
	}
	if !strings.EqualFold(e.First(o.OwnerAttr), o.OwnerValue) {
		return conflict("not_owned", e.DN, o.OwnerAttr, fmt.Sprintf("%q", e.First(o.OwnerAttr)),
			"xtmsyncd changes only objects it owns")
	}
	if directory.IsOnPremMailbox(intOf(e, directory.AttrRecipientTypeDetails)) {
		return conflict("onprem_mailbox", e.DN, directory.AttrRecipientTypeDetails, e.First(directory.AttrRecipientTypeDetails),
			"the target is an on-premises mailbox, not the prepared MailUser")
	}
	a, err := directory.GUIDFromAD(m.ArchiveGUID)
	typ, display, remote := remoteShape(directory.KindOfRecipient(m.TypeDetails), err == nil && !a.IsZero())
	routing := routingAddress(m, e, o.TargetDeliveryDomain)
	want := map[string][]string{
		directory.AttrRecipientTypeDetails: {strconv.FormatInt(typ, 10)},
		directory.AttrRecipientDisplayType: {strconv.FormatInt(display, 10)},
		directory.AttrRemoteRecipientType:  {strconv.FormatInt(remote, 10)},
		directory.AttrTargetAddress:        {"SMTP:" + routing},
	}
	c.Attrs = replaceDiff(want, e)
	// Send on Behalf does not move: restamp it with the delegates' target objects once they moved.
	var add []string
	have := map[string]bool{}
	for _, v := range e.Get(directory.AttrPublicDelegates) {
		have[strings.ToLower(v)] = true
	}
	for _, dn := range m.PublicDelegates {
		d := byDN[strings.ToLower(dn)]
		if d == nil {
			warn("delegate_out_of_scope", m.DN, fmt.Sprintf("Send on Behalf delegate %s is not in scope: restamp it by hand in the target tenant", dn))
			continue
		}
		dg, err := directory.GUIDFromAD(d.MailboxGUID)
		if err != nil || len(targets[dg]) != 1 {
			warn("delegate_no_target", m.DN, fmt.Sprintf("Send on Behalf delegate %s has no target object yet", dn))
			continue
		}
		if !migrated(d) {
			warn("delegate_not_migrated", m.DN, fmt.Sprintf("Send on Behalf delegate %s has not moved yet: restamped on a later cutover run", d.Alias))
			continue
		}
		if t := targets[dg][0].DN; !have[strings.ToLower(t)] {
			add = append(add, t)
		}
	}
	if len(add) > 0 {
		slices.Sort(add)
		c.Attrs = append(c.Attrs, plan.AttrChange{Name: directory.AttrPublicDelegates, Before: slices.Clone(e.Get(directory.AttrPublicDelegates)), Add: add})
	}
	sortAttrs(c.Attrs)
	c.Action = plan.Unchanged
	if len(c.Attrs) > 0 {
		c.Action = plan.Update
	}
	return c, routing
}

func sourceChange(m *directory.Mailbox, g directory.GUID, now *directory.Entry, routing string, o Options) plan.Change {
	c := plan.Change{Key: g.String(), Source: m.DN, DN: m.DN, Forest: plan.ForestSource}
	if !m.ObjectGUID.IsZero() {
		c.ObjectGUID = m.ObjectGUID.String()
	}
	if now == nil {
		c.Action, c.Reason = plan.Conflict, "source_gone"
		c.Problems = []mapper.Problem{{Code: c.Reason, Object: m.DN, Fix: "the source object could not be read back; re-run cutover"}}
		return c
	}
	want := map[string][]string{directory.AttrTargetAddress: {"SMTP:" + routing}}
	if o.ConvertSource {
		want[directory.AttrRecipientTypeDetails] = []string{strconv.FormatInt(directory.TypeMailUser, 10)}
		want[directory.AttrRecipientDisplayType] = []string{strconv.FormatInt(o.SourceDisplayType, 10)}
		want[directory.AttrRemoteRecipientType] = nil // cleared, never left at 8: 8 triggers proxy scrubbing
		if o.SourceMarkAttr != "" {
			want[o.SourceMarkAttr] = []string{o.SourceMarkValue}
		}
	}
	c.Attrs = replaceDiff(want, now)
	c.Action = plan.Unchanged
	if len(c.Attrs) > 0 {
		c.Action = plan.Update
	}
	return c
}

// replaceDiff compares single-valued attributes case-insensitively; no values means "absent".
func replaceDiff(want map[string][]string, e *directory.Entry) []plan.AttrChange {
	var out []plan.AttrChange
	for name, vals := range want {
		cur := e.Get(name)
		if len(cur) == len(vals) && (len(vals) == 0 || strings.EqualFold(cur[0], vals[0])) {
			continue
		}
		out = append(out, plan.AttrChange{Name: name, Before: slices.Clone(cur), After: slices.Clone(vals)})
	}
	sortAttrs(out)
	return out
}

func sortAttrs(a []plan.AttrChange) {
	slices.SortFunc(a, func(x, y plan.AttrChange) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
}
