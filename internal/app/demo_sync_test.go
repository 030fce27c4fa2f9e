package app_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// TestSyncDemoForest syncs the whole demo forest into the demo target OU and checks every
// MailUser it wrote against the article's rules, read back over LDAP with GUIDs compared byte
// for byte against the source; then checks that conflicts and invalid sources were untouched,
// and that a second plan is empty and a second sync writes nothing.
func TestSyncDemoForest(t *testing.T) {
	w := newWorld(t, ldaptest.DemoScopeGroup, ldaptest.DemoTargetOU)
	w.tgt.ResetDemoTarget(t)

	_, p := w.plan(t)
	wantClass := map[string]struct {
		action plan.Action
		reason string
	}{
		"Maria Lopez": {plan.Update, ""},
		"Anita Patel": {plan.Conflict, "onprem_mailbox"},
		"Priya Raman": {plan.Conflict, "not_owned"},
		"John Smith":  {plan.Conflict, "outside_target_ou"},
		"Leo Twin":    {plan.Invalid, "duplicate_exchange_guid"},
		"Mia Twin":    {plan.Invalid, "duplicate_exchange_guid"},
		"Nora Route":  {plan.Invalid, "no_routing_address"},
		"Tom Blank":   {plan.Invalid, "no_exchange_guid"},
		"Anna Berg":   {plan.Create, ""},
		"Sales Desk":  {plan.Create, ""},
	}
	for cn, want := range wantClass {
		c := changeFor(p, cn)
		if c == nil {
			t.Errorf("%s: not in the plan", cn)
			continue
		}
		if c.Action != want.action || c.Reason != want.reason {
			t.Errorf("%s: %s/%s, want %s/%s", cn, c.Action, c.Reason, want.action, want.reason)
		}
	}
	if changeFor(p, "Wendy Walker") != nil {
		t.Error("a member only through the nested group XTM-Wave2 was planned; nested groups are never followed")
	}
	if !slices.ContainsFunc(p.Warnings, func(x plan.Warning) bool { return x.Code == "nested_group" }) {
		t.Error("the nested group in the scope group is not reported")
	}

	// Conflicts must stay untouched: remember their uSNChanged.
	untouched := map[string]string{}
	for _, c := range p.Changes {
		if c.Action == plan.Conflict {
			untouched[c.DN] = read(t, w.tgt, c.DN).GetAttributeValue("uSNChanged")
		}
	}

	r := w.rig(t)
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if res.Applied != p.Summary.Writes() || res.Failed != 0 {
		t.Fatalf("applied %d, failed %d; the plan had %d writes", res.Applied, res.Failed, p.Summary.Writes())
	}
	for dn, usn := range untouched {
		if got := read(t, w.tgt, dn).GetAttributeValue("uSNChanged"); got != usn {
			t.Errorf("conflict %s was written (uSNChanged %s -> %s)", dn, usn, got)
		}
	}

	// Every written object, read back, satisfies the rules.
	sams := map[string]string{}
	for _, c := range p.Writable() {
		src := read(t, w.src, c.Source)
		tgt := read(t, w.tgt, c.DN)
		t.Run(tgt.GetAttributeValue("cn"), func(t *testing.T) {
			checkMailUser(t, w, src, tgt)
		})
		sam := strings.ToLower(tgt.GetAttributeValue("sAMAccountName"))
		if other, dup := sams[sam]; dup {
			t.Errorf("sAMAccountName %s on %s and %s", sam, other, c.DN)
		}
		sams[sam] = c.DN
	}
	// The target cloud's x500 that AADC wrote back on the already-stamped MailUser survived.
	lopez := proxies(read(t, w.tgt, "CN=Maria Lopez,"+ldaptest.DemoTargetOU))
	if !slices.ContainsFunc(lopez, func(p directory.Proxy) bool {
		return p.Type() == "x500" && strings.Contains(p.Address(), "ExchangeLabs") && strings.HasSuffix(p.Address(), "-mlopez") && !hasSourceProxy(t, w, "Maria Lopez", p)
	}) {
		t.Error("the write-back x500 of the target cloud was removed from Maria Lopez")
	}

	// Journal: exactly one intent and one outcome per write, all applied.
	changes, err := w.j.Changes(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != res.Applied {
		t.Errorf("journal has %d changes for %d writes", len(changes), res.Applied)
	}
	for _, ch := range changes {
		if ch.Status != journal.StatusApplied || ch.OutcomeAt == nil || ch.IntentAt.IsZero() {
			t.Errorf("journal change %d %s: status %s, intent %v, outcome %v", ch.ID, ch.DN, ch.Status, ch.IntentAt, ch.OutcomeAt)
		}
	}

	// Idempotency: the next plan writes nothing, and the next sync journals no change.
	_, again := w.plan(t)
	if n := again.Summary.Writes(); n != 0 {
		var b bytes.Buffer
		_ = plan.WriteText(&b, again, plan.TextOptions{})
		t.Fatalf("second plan has %d writes:\n%s", n, b.String())
	}
	_, res2 := w.sync(t)
	if n, _ := w.j.Changes(context.Background(), res2.RunID); len(n) != 0 {
		t.Errorf("second sync journaled %d changes", len(n))
	}
}

func hasSourceProxy(t *testing.T, w *world, cn string, p directory.Proxy) bool {
	src := read(t, w.src, "CN="+cn+",OU=Staff,OU=Contoso,DC=contoso,DC=test")
	return hasProxy(proxies(src), string(p)) || strings.EqualFold(src.GetAttributeValue("legacyExchangeDN"), p.Address())
}

// checkMailUser checks one target MailUser against its source mailbox, rule by rule.
func checkMailUser(t *testing.T, w *world, src, tgt *ldap.Entry) {
	t.Helper()
	m := w.cfg.Mapping
	if !bytes.Equal(src.GetRawAttributeValue("msExchMailboxGuid"), tgt.GetRawAttributeValue("msExchMailboxGuid")) {
		t.Errorf("ExchangeGUID: source %x, target %x", src.GetRawAttributeValue("msExchMailboxGuid"), tgt.GetRawAttributeValue("msExchMailboxGuid"))
	}
	if !bytes.Equal(src.GetRawAttributeValue("msExchArchiveGUID"), tgt.GetRawAttributeValue("msExchArchiveGUID")) {
		t.Errorf("ArchiveGUID: source %x, target %x (must match, or be absent on both)", src.GetRawAttributeValue("msExchArchiveGUID"), tgt.GetRawAttributeValue("msExchArchiveGUID"))
	}
	tp := proxies(tgt)
	if !hasProxy(tp, "x500:"+src.GetAttributeValue("legacyExchangeDN")) {
		t.Error("x500:<source LegacyExchangeDN> missing")
	}
	for _, p := range proxies(src) {
		if (p.Type() == "x500" || p.Type() == "x400") && !hasProxy(tp, string(p)) {
			t.Errorf("source %s missing on the target", p)
		}
	}
	var primary, delivery int
	for _, p := range tp {
		if !p.IsSMTP() {
			continue
		}
		if !slices.Contains(m.AcceptedDomains, p.Domain()) || slices.Contains(m.SourceDomains, p.Domain()) {
			t.Errorf("SMTP proxy %s is not in an accepted target domain", p)
		}
		if p.IsPrimary() {
			primary++
			if p.Domain() != m.TargetPrimaryDomain || !strings.EqualFold(p.Address(), tgt.GetAttributeValue("mail")) {
				t.Errorf("primary %s: want the target primary domain, equal to mail %s", p, tgt.GetAttributeValue("mail"))
			}
		}
		if p.Domain() == m.TargetDeliveryDomain {
			delivery++
		}
	}
	if primary != 1 || delivery != 1 {
		t.Errorf("%d primary SMTP and %d delivery-domain proxies, want 1 and 1", primary, delivery)
	}
	ta := directory.Proxy(tgt.GetAttributeValue("targetAddress"))
	if ta.Prefix() != "SMTP" || ta.Domain() != m.SourceRoutingDomain || !hasProxy(proxies(src), "smtp:"+ta.Address()) {
		t.Errorf("targetAddress %s: must be SMTP:<a source proxy in %s>", ta, m.SourceRoutingDomain)
	}
	if hasProxy(tp, "smtp:"+ta.Address()) {
		t.Errorf("targetAddress %s is also a target proxy", ta)
	}
	if u := tgt.GetAttributeValue("userPrincipalName"); !strings.HasSuffix(u, "@"+m.TargetUPNSuffix) {
		t.Errorf("userPrincipalName %s not in %s", u, m.TargetUPNSuffix)
	}
	for attr, want := range map[string]string{
		"msExchRecipientTypeDetails": "128", "msExchRecipientDisplayType": "-2147483642",
		"msExchRemoteRecipientType": "", "mailNickname": src.GetAttributeValue("mailNickname"),
		m.Owner.Attribute: m.Owner.Value,
	} {
		if got := tgt.GetAttributeValue(attr); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	for _, h := range []string{"msExchSafeSendersHash", "msExchBlockedSendersHash", "msExchSafeRecipientsHash", "msExchELCMailboxFlags"} {
		if s := src.GetRawAttributeValue(h); len(s) > 0 && !bytes.Equal(s, tgt.GetRawAttributeValue(h)) {
			t.Errorf("%s not copied", h)
		}
	}
	if s := tgt.GetAttributeValue("sAMAccountName"); len(s) == 0 || len(s) > 20 {
		t.Errorf("sAMAccountName %q", s)
	}
	if strings.Contains(tgt.DN, "Maria Lopez") {
		return // created by an earlier run: its account state is not ours to judge
	}
	uac, _ := strconv.Atoi(tgt.GetAttributeValue("userAccountControl"))
	if uac&2 == 0 {
		t.Errorf("userAccountControl %d: the account must be created disabled", uac)
	}
}
