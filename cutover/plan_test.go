package cutover_test

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Fixtures: source remote mailboxes in the contoso forest (hybrid shape: their mailboxes live in
// the contoso tenant) and the MailUsers xtmsyncd prepared for them in the northwind forest. The
// rules come from facts §C.4 (enum values), §C.8 (targetAddress after the move,
// Enable-RemoteMailbox) and the article's FAQ (Free/Busy does not chase chains).

const (
	ou        = "OU=Migrated,OU=Users,DC=northwind,DC=test"
	otherOU   = "OU=Staff,OU=Users,DC=northwind,DC=test"
	ownerAttr = "extensionAttribute15"
	ownerVal  = "xtmsyncd"
	delivery  = "northwind.mail.onmicrosoft.com"
	routingSD = "contoso.mail.onmicrosoft.com" // the source routing domain the MailUser pointed at
)

func opts() cutover.Options {
	return cutover.Options{TargetDeliveryDomain: delivery, OU: ou, OwnerAttr: ownerAttr, OwnerValue: ownerVal}
}

// guidOf derives a distinct, stable GUID from a name.
func guidOf(name string) directory.GUID {
	var g directory.GUID
	for i := range g {
		g[i] = byte(i*37 + 11)
	}
	for i, c := range []byte(name) {
		g[i%16] ^= c
		g[(i+7)%16] += c * 3
	}
	return g
}

func srcDN(cn string) string { return "CN=" + cn + ",OU=Staff,DC=contoso,DC=test" }
func tgtDN(cn string) string { return "CN=" + cn + "," + ou }

// mbx is a source remote mailbox of the given recipient type details.
func mbx(cn, alias, primary string, typ int64) directory.Mailbox {
	return directory.Mailbox{
		DN:               srcDN(cn),
		ObjectGUID:       guidOf("src-object:" + alias),
		CN:               cn,
		Alias:            alias,
		LegacyExchangeDN: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + alias,
		MailboxGUID:      guidOf(alias).AD(),
		Proxies: []directory.Proxy{
			directory.SMTP(primary+"@contoso.com", true),
			directory.SMTP(alias+"@"+routingSD, false),
		},
		TargetAddress:  "SMTP:" + alias + "@" + routingSD,
		TypeDetails:    typ,
		HasTypeDetails: true,
	}
}

func lara() directory.Mailbox {
	return mbx("Lara Newton", "LaraN", "lara.newton", directory.TypeRemoteUserMailbox)
}
func maria() directory.Mailbox {
	return mbx("Maria Lopez", "MariaL", "maria.lopez", directory.TypeRemoteUserMailbox)
}

// mailUser is the target MailUser xtmsyncd prepared for m (facts §C.7): type 128, targetAddress
// at the source routing address, a proxy in the delivery domain, owned, in the OU.
func mailUser(m directory.Mailbox) *directory.Entry {
	e := directory.NewEntry(tgtDN(m.CN))
	e.ObjectGUID = guidOf("tgt-object:" + m.Alias)
	g, _ := directory.GUIDFromAD(m.MailboxGUID)
	primary := directory.Proxy(m.Proxies[0]).Address()
	e.Set(directory.AttrMailboxGUID, g.String())
	e.Set(directory.AttrProxyAddresses,
		"SMTP:"+directory.LocalPart(primary)+"@northwind.com",
		"smtp:"+m.Alias+"@"+delivery,
		"x500:"+m.LegacyExchangeDN)
	e.Set(directory.AttrTargetAddress, "SMTP:"+m.Alias+"@"+routingSD)
	e.Set(directory.AttrRecipientTypeDetails, "128")
	e.Set(directory.AttrRecipientDisplayType, "-2147483642")
	e.Set(ownerAttr, ownerVal)
	return e
}

// sourceNow is the source object as read back before the cutover: a remote mailbox pointing at
// the source tenant.
func sourceNow(m directory.Mailbox) *directory.Entry {
	e := directory.NewEntry(m.DN)
	e.ObjectGUID = m.ObjectGUID
	e.Set(directory.AttrTargetAddress, m.TargetAddress)
	e.Set(directory.AttrRecipientTypeDetails, strconv.FormatInt(m.TypeDetails, 10))
	e.Set(directory.AttrRecipientDisplayType, "-2147483642")
	e.Set(directory.AttrRemoteRecipientType, "4")
	return e
}

// world is every mailbox with its prepared MailUser and its current source object.
func world(ms ...directory.Mailbox) cutover.Input {
	in := cutover.Input{SourceNow: map[string]*directory.Entry{}}
	for _, m := range ms {
		in.Sources = append(in.Sources, m)
		in.Target = append(in.Target, mailUser(m))
		in.SourceNow[strings.ToLower(m.DN)] = sourceNow(m)
	}
	return in
}

func guidString(m directory.Mailbox) string {
	g, _ := directory.GUIDFromAD(m.MailboxGUID)
	return g.String()
}

// completed lists m as completed, by ExchangeGuid (the export's first column).
func completed(ms ...directory.Mailbox) []cutover.Completion {
	var out []cutover.Completion
	for i, m := range ms {
		out = append(out, cutover.Completion{Row: i + 1, ExchangeGUID: guidString(m), Status: "Completed", HasStatus: true})
	}
	return out
}

func targetOf(in cutover.Input, m directory.Mailbox) *directory.Entry {
	for _, e := range in.Target {
		if strings.EqualFold(e.First(directory.AttrMailboxGUID), guidString(m)) {
			return e
		}
	}
	return nil
}

func change(p *plan.Plan, forest, source string) *plan.Change {
	for i := range p.Changes {
		if p.Changes[i].Forest == forest && strings.EqualFold(p.Changes[i].Source, source) {
			return &p.Changes[i]
		}
	}
	return nil
}

func mustChange(t *testing.T, p *plan.Plan, forest, source string) *plan.Change {
	t.Helper()
	c := change(p, forest, source)
	if c == nil {
		t.Fatalf("no %s change for %s in %+v", forest, source, p.Changes)
	}
	return c
}

func attrOf(c *plan.Change, name string) *plan.AttrChange {
	for i := range c.Attrs {
		if strings.EqualFold(c.Attrs[i].Name, name) {
			return &c.Attrs[i]
		}
	}
	return nil
}

func afterOf(t *testing.T, c *plan.Change, name string) []string {
	t.Helper()
	a := attrOf(c, name)
	if a == nil {
		t.Fatalf("%s change of %s has no %s: %+v", c.Forest, c.DN, name, c.Attrs)
	}
	return a.After
}

// final is attr's value once c is applied to e: its After when c replaces it, else e's.
func final(c *plan.Change, e *directory.Entry, attr string) []string {
	if a := attrOf(c, attr); a != nil {
		return a.After
	}
	return e.Get(attr)
}

func warnings(p *plan.Plan, code string) []plan.Warning {
	var out []plan.Warning
	for _, w := range p.Warnings {
		if w.Code == code {
			out = append(out, w)
		}
	}
	return out
}

// apply writes the plan's changes into the input, the way the engine would.
func apply(in *cutover.Input, p *plan.Plan) {
	byDN := map[string]*directory.Entry{}
	for _, e := range in.Target {
		byDN[plan.ForestTarget+"|"+strings.ToLower(e.DN)] = e
	}
	for dn, e := range in.SourceNow {
		byDN[plan.ForestSource+"|"+dn] = e
	}
	for _, c := range p.Writable() {
		e := byDN[c.Forest+"|"+strings.ToLower(c.DN)]
		for _, a := range c.Attrs {
			if a.Incremental() {
				vals := slices.Clone(e.Get(a.Name))
				vals = slices.DeleteFunc(vals, func(v string) bool {
					return slices.ContainsFunc(a.Delete, func(d string) bool { return strings.EqualFold(d, v) })
				})
				e.Set(a.Name, append(vals, a.Add...)...)
				continue
			}
			e.Set(a.Name, a.After...)
		}
	}
}

// TestCutover_TargetBecomesRemoteMailbox_PerKind: once moved, the target MailUser takes
// Enable-RemoteMailbox's shape for its kind, with Migrated (4) and, with an archive,
// ProvisionArchive (2) in msExchRemoteRecipientType (facts §C.4, §C.8, §D.5).
func TestCutover_TargetBecomesRemoteMailbox_PerKind(t *testing.T) {
	for _, tc := range []struct {
		name              string
		typ               int64
		hasType           bool
		archive           bool
		wantTyp, wantDisp string
		wantRemote        string
	}{
		{"user", directory.TypeRemoteUserMailbox, true, false, "2147483648", "-2147483642", "4"},
		{"user with archive", directory.TypeRemoteUserMailbox, true, true, "2147483648", "-2147483642", "6"},
		{"user without msExchRecipientTypeDetails", 0, false, false, "2147483648", "-2147483642", "4"},
		{"shared", directory.TypeRemoteSharedMailbox, true, false, "34359738368", "-2147483642", "100"},
		{"shared with archive", directory.TypeRemoteSharedMailbox, true, true, "34359738368", "-2147483642", "102"},
		{"shared (on-premises type 4)", directory.TypeSharedMailbox, true, false, "34359738368", "-2147483642", "100"},
		{"room", directory.TypeRemoteRoomMailbox, true, false, "8589934592", "-2147481850", "36"},
		{"room (on-premises type 16)", directory.TypeRoomMailbox, true, false, "8589934592", "-2147481850", "36"},
		{"equipment", directory.TypeRemoteEquipmentMailbox, true, false, "17179869184", "-2147481594", "68"},
		{"equipment with archive", directory.TypeRemoteEquipmentMailbox, true, true, "17179869184", "-2147481594", "70"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mbx("Res One", "res1", "res1", tc.typ)
			m.HasTypeDetails = tc.hasType
			if tc.archive {
				m.ArchiveGUID = guidOf("archive").AD()
			}
			in := world(m)
			targetOf(in, m).Set(directory.AttrRecipientDisplayType, "6") // New-MailUser's value: every shape attribute changes
			in.Completed = completed(m)
			p := cutover.Plan(in, opts())
			c := mustChange(t, p, plan.ForestTarget, m.DN)
			if c.Action != plan.Update || c.DN != tgtDN("Res One") || c.Key != guidString(m) ||
				c.ObjectGUID != guidOf("tgt-object:res1").String() {
				t.Fatalf("target change %+v", c)
			}
			for attr, want := range map[string]string{
				directory.AttrRecipientTypeDetails: tc.wantTyp,
				directory.AttrRecipientDisplayType: tc.wantDisp,
				directory.AttrRemoteRecipientType:  tc.wantRemote,
			} {
				if got := afterOf(t, c, attr); !slices.Equal(got, []string{want}) {
					t.Errorf("%s = %q, want %s", attr, got, want)
				}
			}
			if a := attrOf(c, directory.AttrRecipientTypeDetails); !slices.Equal(a.Before, []string{"128"}) {
				t.Errorf("msExchRecipientTypeDetails before = %q, want the MailUser's 128", a.Before)
			}
			if a := attrOf(c, directory.AttrRemoteRecipientType); len(a.Before) != 0 {
				t.Errorf("msExchRemoteRecipientType before = %q, want absent", a.Before)
			}
			// Only the remote-mailbox shape and the routing address change: nothing else is touched.
			var names []string
			for _, a := range c.Attrs {
				names = append(names, a.Name)
				if a.Incremental() {
					t.Errorf("%s changes incrementally: %+v", a.Name, a)
				}
			}
			want := []string{directory.AttrRecipientDisplayType, directory.AttrRecipientTypeDetails, directory.AttrRemoteRecipientType, directory.AttrTargetAddress}
			if !slices.Equal(names, want) {
				t.Errorf("attrs %v, want %v (sorted)", names, want)
			}
		})
	}
}

// An all-zero msExchArchiveGUID is Exchange's "no archive" (facts §C.3); mapper and readiness
// treat it so. The cutover must not then claim ProvisionArchive.
func TestCutover_ZeroArchiveGUIDIsNoArchive(t *testing.T) {
	m := lara()
	m.ArchiveGUID = make([]byte, 16)
	in := world(m)
	in.Completed = completed(m)
	c := mustChange(t, cutover.Plan(in, opts()), plan.ForestTarget, m.DN)
	if got := afterOf(t, c, directory.AttrRemoteRecipientType); !slices.Equal(got, []string{"4"}) {
		t.Errorf("msExchRemoteRecipientType = %q, want 4 (no archive)", got)
	}
}

// TestCutover_RoutingAddressAlwaysExplicit: the target's targetAddress becomes SMTP:<its own proxy
// in the delivery domain> and never stays at the source routing address. Enable-RemoteMailbox
// without -RemoteRoutingAddress keeps a MailUser's old targetAddress, still pointing at the
// source tenant (facts §C.8), so the cutover always writes it.
func TestCutover_RoutingAddressAlwaysExplicit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string // target proxyAddresses; nil keeps the fixture's
		before  []string // target targetAddress before; nil keeps the fixture's
		want    string
	}{
		{"the target's proxy in the delivery domain", nil, nil, "SMTP:LaraN@northwind.mail.onmicrosoft.com"},
		{"a proxy whose local part is not the alias",
			[]string{"SMTP:lara.newton@northwind.com", "smtp:lara.newton@northwind.mail.onmicrosoft.com"}, nil,
			"SMTP:lara.newton@northwind.mail.onmicrosoft.com"},
		{"the delivery domain written in another case",
			[]string{"SMTP:lara.newton@northwind.com", "smtp:Lara.N@NorthWind.Mail.OnMicrosoft.com"}, nil,
			"SMTP:Lara.N@NorthWind.Mail.OnMicrosoft.com"},
		{"an x500 or another domain is never taken",
			[]string{"x500:/o=Northwind/cn=LaraN@northwind.mail.onmicrosoft.com", "SMTP:lara.newton@northwind.com", "smtp:ln@northwind.onmicrosoft.com"}, nil,
			"SMTP:LaraN@northwind.mail.onmicrosoft.com"},
		{"no proxy in the delivery domain: alias@delivery domain", []string{"SMTP:lara.newton@northwind.com"}, nil,
			"SMTP:LaraN@northwind.mail.onmicrosoft.com"},
		{"no targetAddress before", nil, []string{}, "SMTP:LaraN@northwind.mail.onmicrosoft.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lara()
			in := world(m)
			e := targetOf(in, m)
			if tc.proxies != nil {
				e.Set(directory.AttrProxyAddresses, tc.proxies...)
			}
			if tc.before != nil {
				e.Set(directory.AttrTargetAddress, tc.before...)
			}
			old := e.Get(directory.AttrTargetAddress)
			in.Completed = completed(m)
			c := mustChange(t, cutover.Plan(in, opts()), plan.ForestTarget, m.DN)
			a := attrOf(c, directory.AttrTargetAddress)
			if a == nil {
				t.Fatalf("targetAddress not written: %+v", c.Attrs)
			}
			if !slices.Equal(a.After, []string{tc.want}) {
				t.Errorf("targetAddress = %q, want %s", a.After, tc.want)
			}
			if !slices.Equal(a.Before, old) {
				t.Errorf("before = %q, want %q", a.Before, old)
			}
			if p := directory.Proxy(a.After[0]); p.Domain() != delivery || p.Prefix() != "SMTP" || strings.Contains(strings.ToLower(a.After[0]), routingSD) {
				t.Errorf("targetAddress %s is not an SMTP: address in the delivery domain", a.After[0])
			}
		})
	}
}

// TestCutover_SourceTargetAddressRewritten: the source object follows the mailbox to the target
// routing address, the same one the target gets, because Free/Busy does not chase a chain of
// referrals (article FAQ, facts §C.8).
func TestCutover_SourceTargetAddressRewritten(t *testing.T) {
	for _, tc := range []struct {
		name       string
		proxies    []string // target proxyAddresses; nil keeps the fixture's
		srcBefore  []string
		want       string
		wantAction plan.Action
	}{
		{"from the source routing address", nil, []string{"SMTP:LaraN@contoso.mail.onmicrosoft.com"},
			"SMTP:LaraN@northwind.mail.onmicrosoft.com", plan.Update},
		{"to the target's own delivery proxy",
			[]string{"SMTP:lara.newton@northwind.com", "smtp:lara.newton@northwind.mail.onmicrosoft.com"},
			[]string{"SMTP:LaraN@contoso.mail.onmicrosoft.com"}, "SMTP:lara.newton@northwind.mail.onmicrosoft.com", plan.Update},
		{"absent before", nil, []string{}, "SMTP:LaraN@northwind.mail.onmicrosoft.com", plan.Update},
		{"already there (other case): unchanged", nil, []string{"smtp:laran@NORTHWIND.mail.onmicrosoft.com"}, "", plan.Unchanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lara()
			in := world(m)
			if tc.proxies != nil {
				targetOf(in, m).Set(directory.AttrProxyAddresses, tc.proxies...)
			}
			now := in.SourceNow[strings.ToLower(m.DN)]
			now.Set(directory.AttrTargetAddress, tc.srcBefore...)
			in.Completed = completed(m)
			p := cutover.Plan(in, opts())
			tc2 := mustChange(t, p, plan.ForestTarget, m.DN)
			sc := mustChange(t, p, plan.ForestSource, m.DN)
			if sc.DN != m.DN || sc.Key != guidString(m) || sc.ObjectGUID != m.ObjectGUID.String() {
				t.Errorf("source change identifies %q %q %q", sc.DN, sc.Key, sc.ObjectGUID)
			}
			if sc.Action != tc.wantAction {
				t.Fatalf("source action %s, want %s: %+v", sc.Action, tc.wantAction, sc.Attrs)
			}
			if tc.wantAction == plan.Unchanged {
				if len(sc.Attrs) != 0 {
					t.Errorf("unchanged source with attrs %+v", sc.Attrs)
				}
				return
			}
			if len(sc.Attrs) != 1 || sc.Attrs[0].Name != directory.AttrTargetAddress {
				t.Fatalf("without convert_source only targetAddress changes: %+v", sc.Attrs)
			}
			a := sc.Attrs[0]
			if !slices.Equal(a.After, []string{tc.want}) || !slices.Equal(a.Before, tc.srcBefore) {
				t.Errorf("source targetAddress %q -> %q, want %q -> %s", a.Before, a.After, tc.srcBefore, tc.want)
			}
			if got := afterOf(t, tc2, directory.AttrTargetAddress); !slices.Equal(got, a.After) {
				t.Errorf("source points at %q, target at %q: they must be the same address", a.After, got)
			}
		})
	}
}

// TestCutover_ConvertSourceClearsRemoteRecipientType: with convert_source the source remote
// mailbox becomes a MailUser (128, the configured display type) and msExchRemoteRecipientType is
// removed, never left at 8 (Disable-RemoteMailbox's value, which makes the cloud scrub proxies),
// and the mark is stamped (facts §C.1, §C.8).
func TestCutover_ConvertSourceClearsRemoteRecipientType(t *testing.T) {
	for _, tc := range []struct {
		name       string
		remote     []string // source msExchRemoteRecipientType now
		display    int64
		wantRemote bool // a change removing it
	}{
		{"left at 8 by Disable-RemoteMailbox", []string{"8"}, directory.DisplayRemoteMailUser, true},
		{"migrated remote mailbox (4)", []string{"4"}, directory.DisplaySyncedMailboxUser, true},
		{"shared (100)", []string{"100"}, directory.DisplayRemoteMailUser, true},
		{"already absent", nil, directory.DisplayRemoteMailUser, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lara()
			in := world(m)
			in.SourceNow[strings.ToLower(m.DN)].Set(directory.AttrRemoteRecipientType, tc.remote...)
			in.Completed = completed(m)
			o := opts()
			o.ConvertSource, o.SourceDisplayType = true, tc.display
			o.SourceMarkAttr, o.SourceMarkValue = "extensionAttribute14", "moved-to-northwind"
			sc := mustChange(t, cutover.Plan(in, o), plan.ForestSource, m.DN)
			if sc.Action != plan.Update {
				t.Fatalf("source action %s", sc.Action)
			}
			if got := afterOf(t, sc, directory.AttrRecipientTypeDetails); !slices.Equal(got, []string{"128"}) {
				t.Errorf("msExchRecipientTypeDetails = %q, want 128 (MailUser)", got)
			}
			if got := final(sc, in.SourceNow[strings.ToLower(m.DN)], directory.AttrRecipientDisplayType); !slices.Equal(got, []string{strconv.FormatInt(tc.display, 10)}) {
				t.Errorf("msExchRecipientDisplayType = %q, want %d", got, tc.display)
			}
			if got := afterOf(t, sc, "extensionAttribute14"); !slices.Equal(got, []string{"moved-to-northwind"}) {
				t.Errorf("mark = %q", got)
			}
			if got := afterOf(t, sc, directory.AttrTargetAddress); !slices.Equal(got, []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}) {
				t.Errorf("targetAddress = %q", got)
			}
			a := attrOf(sc, directory.AttrRemoteRecipientType)
			switch {
			case tc.wantRemote && a == nil:
				t.Errorf("msExchRemoteRecipientType %q is left in place", tc.remote)
			case tc.wantRemote && (len(a.After) != 0 || a.Incremental() || !slices.Equal(a.Before, tc.remote)):
				t.Errorf("msExchRemoteRecipientType change %+v, want removed (no values) from %q", a, tc.remote)
			case !tc.wantRemote && a != nil:
				t.Errorf("msExchRemoteRecipientType is absent, yet changed: %+v", a)
			}
			// Converted once, the next run writes nothing to the source.
			apply(&in, cutover.Plan(in, o))
			if sc := mustChange(t, cutover.Plan(in, o), plan.ForestSource, m.DN); sc.Action != plan.Unchanged {
				t.Errorf("second run: source %s %+v", sc.Action, sc.Attrs)
			}
		})
	}
}

func TestCutover_ConvertSourceWithoutMark(t *testing.T) {
	m := lara()
	in := world(m)
	in.Completed = completed(m)
	o := opts()
	o.ConvertSource, o.SourceDisplayType = true, directory.DisplayRemoteMailUser
	sc := mustChange(t, cutover.Plan(in, o), plan.ForestSource, m.DN)
	for _, a := range sc.Attrs {
		if a.Name == "" {
			t.Errorf("an unnamed attribute is written when no mark is configured: %+v", sc.Attrs)
		}
	}
	if len(sc.Attrs) != 4 {
		t.Errorf("attrs %+v, want targetAddress, type, display type and remote type", sc.Attrs)
	}
}

// TestCutover_SendOnBehalfRestamped: publicDelegates does not migrate (article); the target gets
// the delegate's TARGET object once that delegate has moved (in this run, or earlier: it is
// already a remote mailbox on the target). Otherwise a warning says why; values already there
// are never deleted.
func TestCutover_SendOnBehalfRestamped(t *testing.T) {
	const localAdmin = "CN=Local Admin,OU=Admins,DC=northwind,DC=test"
	type scenario struct {
		name         string
		delegateDone bool   // the delegate's move completes in this run
		delegateType string // the delegate's target msExchRecipientTypeDetails ("" = no target object)
		inScope      bool
		existing     []string // the boss's target publicDelegates before
		wantAdd      bool
		wantWarning  string
	}
	for _, tc := range []scenario{
		{name: "delegate completed in this run", delegateDone: true, delegateType: "128", inScope: true, wantAdd: true},
		{name: "delegate already a remote mailbox on the target", delegateType: "2147483648", inScope: true, wantAdd: true},
		{name: "delegate already a remote shared mailbox", delegateType: "34359738368", inScope: true, wantAdd: true},
		{name: "delegate not migrated", delegateType: "128", inScope: true, wantWarning: "delegate_not_migrated"},
		{name: "delegate out of scope", delegateType: "128", wantWarning: "delegate_out_of_scope"},
		{name: "delegate without a target object", inScope: true, wantWarning: "delegate_no_target"},
		{name: "existing values kept", delegateDone: true, delegateType: "128", inScope: true, existing: []string{localAdmin}, wantAdd: true},
		{name: "existing values kept when the delegate has not moved", delegateType: "128", inScope: true, existing: []string{localAdmin}, wantWarning: "delegate_not_migrated"},
		{name: "already stamped (other case): nothing added", delegateDone: true, delegateType: "128", inScope: true,
			existing: []string{strings.ToUpper(tgtDN("Maria Lopez")), localAdmin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boss, assistant := lara(), maria()
			boss.PublicDelegates = []string{assistant.DN}
			in := world(boss, assistant)
			if tc.existing != nil {
				targetOf(in, boss).Set(directory.AttrPublicDelegates, tc.existing...)
			}
			if tc.delegateType == "" {
				in.Target = slices.DeleteFunc(in.Target, func(e *directory.Entry) bool { return e == targetOf(in, assistant) })
			} else {
				targetOf(in, assistant).Set(directory.AttrRecipientTypeDetails, tc.delegateType)
			}
			if !tc.inScope {
				in.Sources = in.Sources[:1]
			}
			in.Completed = completed(boss)
			if tc.delegateDone {
				in.Completed = completed(boss, assistant)
			}
			p := cutover.Plan(in, opts())
			c := mustChange(t, p, plan.ForestTarget, boss.DN)
			a := attrOf(c, directory.AttrPublicDelegates)
			if tc.wantAdd {
				if a == nil {
					t.Fatalf("publicDelegates not restamped: %+v; warnings %+v", c.Attrs, p.Warnings)
				}
				if !slices.Equal(a.Add, []string{tgtDN("Maria Lopez")}) {
					t.Errorf("add %q, want the delegate's target DN %s (never its source DN)", a.Add, tgtDN("Maria Lopez"))
				}
				if len(a.Delete) != 0 || len(a.After) != 0 {
					t.Errorf("publicDelegates must only gain values: %+v", a)
				}
				if !slices.Equal(a.Before, tc.existing) {
					t.Errorf("before %q, want %q", a.Before, tc.existing)
				}
			} else if a != nil {
				t.Errorf("publicDelegates changed: %+v", a)
			}
			var codes []string
			for _, w := range p.Warnings {
				if strings.HasPrefix(w.Code, "delegate_") {
					codes = append(codes, w.Code)
					if w.Object != boss.DN || !strings.Contains(w.Message, "Send on Behalf") {
						t.Errorf("warning %+v: want it on %s, explaining Send on Behalf", w, boss.DN)
					}
				}
			}
			var want []string
			if tc.wantWarning != "" {
				want = []string{tc.wantWarning}
			}
			if !slices.Equal(codes, want) {
				t.Errorf("delegate warnings %v, want %v", codes, want)
			}
		})
	}
}

func TestCutover_SendOnBehalfSeveralDelegatesSorted(t *testing.T) {
	boss, a, b := lara(), maria(), mbx("Anton Berg", "AntonB", "anton.berg", directory.TypeRemoteUserMailbox)
	boss.PublicDelegates = []string{b.DN, a.DN}
	in := world(boss, a, b)
	in.Completed = completed(boss, a, b)
	p1 := cutover.Plan(in, opts())
	got := attrOf(mustChange(t, p1, plan.ForestTarget, boss.DN), directory.AttrPublicDelegates)
	want := []string{tgtDN("Anton Berg"), tgtDN("Maria Lopez")}
	if got == nil || !slices.Equal(got.Add, want) {
		t.Fatalf("publicDelegates %+v, want add %q", got, want)
	}
	apply(&in, p1)
	if p := cutover.Plan(in, opts()); p.Summary.Writes() != 0 {
		t.Errorf("after restamping, a re-run writes %d objects: %+v", p.Summary.Writes(), p.Changes)
	}
}

// TestCutover_MatchOrder: a completed row matches by ExchangeGUID first; a GUID that matches
// nothing is not matched by address instead; else EmailAddress against the source and target SMTP
// addresses; else Alias, then Identity.
func TestCutover_MatchOrder(t *testing.T) {
	unknown := "0f0e0d0c-0b0a-4908-8706-050403020100"
	for _, tc := range []struct {
		name string
		row  cutover.Completion
		want string // alias matched, "" = unmatched
	}{
		{"ExchangeGuid", cutover.Completion{ExchangeGUID: guidString(lara())}, "LaraN"},
		{"ExchangeGuid upper case in braces", cutover.Completion{ExchangeGUID: "{" + strings.ToUpper(guidString(lara())) + "}"}, "LaraN"},
		{"ExchangeGuid wins over EmailAddress", cutover.Completion{ExchangeGUID: guidString(lara()), EmailAddress: "maria.lopez@contoso.com", Alias: "MariaL"}, "LaraN"},
		{"unknown ExchangeGuid is not matched by address", cutover.Completion{ExchangeGUID: unknown, EmailAddress: "lara.newton@contoso.com"}, ""},
		{"unknown ExchangeGuid is not matched by alias", cutover.Completion{ExchangeGUID: unknown, Alias: "LaraN", Identity: "LaraN"}, ""},
		{"EmailAddress: source primary", cutover.Completion{EmailAddress: "lara.newton@contoso.com"}, "LaraN"},
		{"EmailAddress: source routing address", cutover.Completion{EmailAddress: "LaraN@contoso.mail.onmicrosoft.com"}, "LaraN"},
		{"EmailAddress: target primary (the batch CSV's address)", cutover.Completion{EmailAddress: "lara.newton@northwind.com"}, "LaraN"},
		{"EmailAddress: target delivery proxy", cutover.Completion{EmailAddress: "laran@northwind.mail.onmicrosoft.com"}, "LaraN"},
		{"EmailAddress in another case with an SMTP: prefix", cutover.Completion{EmailAddress: "SMTP:Lara.Newton@Contoso.com"}, "LaraN"},
		{"EmailAddress wins over Alias", cutover.Completion{EmailAddress: "maria.lopez@northwind.com", Alias: "LaraN"}, "MariaL"},
		{"Identity as an address", cutover.Completion{Identity: "lara.newton@northwind.com"}, "LaraN"},
		{"Alias", cutover.Completion{Alias: "laran"}, "LaraN"},
		{"unknown EmailAddress falls back to Alias", cutover.Completion{EmailAddress: "nobody@northwind.com", Alias: "MariaL"}, "MariaL"},
		{"Identity as an alias", cutover.Completion{Identity: "MARIAL"}, "MariaL"},
		{"Alias before Identity", cutover.Completion{Alias: "MariaL", Identity: "LaraN"}, "MariaL"},
		{"an address not in scope", cutover.Completion{EmailAddress: "nobody@contoso.com"}, ""},
		{"an x500 is not an address", cutover.Completion{EmailAddress: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=LaraN"}, ""},
		{"display name", cutover.Completion{Identity: "Lara Newton"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := world(lara(), maria())
			row := tc.row
			row.Row, row.Status, row.HasStatus = 7, "Completed", true
			in.Completed = []cutover.Completion{row}
			p := cutover.Plan(in, opts())
			var got []string
			for _, c := range p.Changes {
				if c.Forest == plan.ForestTarget {
					got = append(got, c.Source)
				}
			}
			unmatched := warnings(p, "completion_unmatched")
			if tc.want == "" {
				if len(got) != 0 || len(unmatched) != 1 {
					t.Fatalf("matched %v (warnings %+v), want unmatched", got, p.Warnings)
				}
				if !strings.Contains(unmatched[0].Object, "row 7") {
					t.Errorf("the warning does not name the row: %+v", unmatched[0])
				}
				return
			}
			want := map[string]string{"LaraN": lara().DN, "MariaL": maria().DN}[tc.want]
			if !slices.Equal(got, []string{want}) || len(unmatched) != 0 {
				t.Errorf("matched %v (warnings %+v), want %s", got, p.Warnings, want)
			}
		})
	}
}

// Rows whose move has not completed are warnings and plan nothing; rows without a Status column
// are all completed, with a warning saying so.
func TestCutover_NotCompletedRowsAreWarnings(t *testing.T) {
	for _, status := range []string{"InProgress", "Synced", "Failed", "AutoSuspended", "Queued", ""} {
		t.Run("status "+status, func(t *testing.T) {
			m := lara()
			in := world(m)
			in.Completed = []cutover.Completion{{Row: 3, Alias: "LaraN", Status: status, HasStatus: true}}
			p := cutover.Plan(in, opts())
			if len(p.Changes) != 0 {
				t.Errorf("planned %+v for a move that has not completed", p.Changes)
			}
			w := warnings(p, "completion_not_completed")
			if len(w) != 1 || !strings.Contains(w[0].Object, "row 3") || !strings.Contains(w[0].Message, "LaraN") {
				t.Errorf("warnings %+v", p.Warnings)
			}
		})
	}
	t.Run("no status column", func(t *testing.T) {
		m := lara()
		in := world(m)
		in.Completed = []cutover.Completion{{Row: 1, Alias: "LaraN"}}
		p := cutover.Plan(in, opts())
		if c := change(p, plan.ForestTarget, m.DN); c == nil || c.Action != plan.Update {
			t.Errorf("without a Status column the row is completed: %+v", p.Changes)
		}
		if len(warnings(p, "completion_no_status")) != 1 {
			t.Errorf("warnings %+v, want completion_no_status", p.Warnings)
		}
	})
	t.Run("with a status column there is no no_status warning", func(t *testing.T) {
		m := lara()
		in := world(m)
		in.Completed = completed(m)
		if p := cutover.Plan(in, opts()); len(p.Warnings) != 0 {
			t.Errorf("warnings %+v", p.Warnings)
		}
	})
	t.Run("nothing completed", func(t *testing.T) {
		p := cutover.Plan(world(lara()), opts())
		if len(p.Changes) != 0 || len(p.Warnings) != 0 || p.Kind != "cutover" || p.Target != ou {
			t.Errorf("plan %+v", p)
		}
	})
}

// Idempotent: a target already in the desired shape, and a source already pointing at it, plan
// nothing; applying a plan and planning again writes nothing.
func TestCutover_Idempotent(t *testing.T) {
	kinds := []directory.Mailbox{
		lara(),
		mbx("Shared Desk", "desk", "desk", directory.TypeRemoteSharedMailbox),
		mbx("Room 1", "room1", "room1", directory.TypeRemoteRoomMailbox),
		mbx("Beamer", "beamer", "beamer", directory.TypeRemoteEquipmentMailbox),
	}
	kinds[0].ArchiveGUID = guidOf("archive").AD()
	kinds[0].PublicDelegates = []string{kinds[1].DN}
	for _, convert := range []bool{false, true} {
		t.Run(fmt.Sprintf("convert_source=%v", convert), func(t *testing.T) {
			in := world(kinds...)
			in.Completed = completed(kinds...)
			o := opts()
			o.ConvertSource, o.SourceDisplayType, o.SourceMarkAttr, o.SourceMarkValue = convert, 6, "extensionAttribute14", "moved"
			p1 := cutover.Plan(in, o)
			if p1.Summary.Update != 8 || p1.Summary.Writes() != 8 {
				t.Fatalf("first run: %+v", p1.Summary)
			}
			apply(&in, p1)
			p2 := cutover.Plan(in, o)
			if p2.Summary.Writes() != 0 || p2.Summary.Unchanged != 8 {
				t.Fatalf("second run: %+v %+v", p2.Summary, p2.Changes)
			}
			for _, c := range p2.Changes {
				if len(c.Attrs) != 0 {
					t.Errorf("unchanged %s %s with attrs %+v", c.Forest, c.DN, c.Attrs)
				}
			}
		})
	}
	t.Run("already a remote mailbox, values in another case", func(t *testing.T) {
		m := lara()
		in := world(m)
		e := targetOf(in, m)
		e.Set(directory.AttrRecipientTypeDetails, "2147483648")
		e.Set(directory.AttrRemoteRecipientType, "4")
		e.Set(directory.AttrTargetAddress, "smtp:laran@NORTHWIND.MAIL.ONMICROSOFT.COM")
		in.SourceNow[strings.ToLower(m.DN)].Set(directory.AttrTargetAddress, "SMTP:LaraN@northwind.mail.onmicrosoft.com")
		in.Completed = completed(m)
		p := cutover.Plan(in, opts())
		if p.Summary.Unchanged != 2 || p.Summary.Writes() != 0 {
			t.Errorf("plan %+v %+v", p.Summary, p.Changes)
		}
	})
}

// Conflicts: the cutover writes only the owned MailUser in the OU that holds the ExchangeGUID;
// otherwise the target change is a conflict and the source is left alone.
func TestCutover_Conflicts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(in *cutover.Input, m *directory.Mailbox)
		action plan.Action
		reason string
	}{
		{"no target object", func(in *cutover.Input, m *directory.Mailbox) {
			in.Target = nil
		}, plan.Conflict, "no_target"},
		{"not owned", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).Set(ownerAttr, "someone-else")
		}, plan.Conflict, "not_owned"},
		{"owner marker absent", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).Set(ownerAttr)
		}, plan.Conflict, "not_owned"},
		{"outside the OU", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).DN = "CN=Lara Newton," + otherOU
		}, plan.Conflict, "outside_target_ou"},
		{"in an OU whose name only ends like it", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).DN = "CN=Lara Newton,OU=NotMigrated,OU=Users,DC=northwind,DC=test"
		}, plan.Conflict, "outside_target_ou"},
		{"the OU itself", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).DN = ou
		}, plan.Conflict, "outside_target_ou"},
		{"an on-premises user mailbox", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).Set(directory.AttrRecipientTypeDetails, "1")
		}, plan.Conflict, "onprem_mailbox"},
		{"an on-premises shared mailbox", func(in *cutover.Input, m *directory.Mailbox) {
			targetOf(*in, *m).Set(directory.AttrRecipientTypeDetails, "4")
		}, plan.Conflict, "onprem_mailbox"},
		{"two targets with the ExchangeGUID", func(in *cutover.Input, m *directory.Mailbox) {
			dup := mailUser(*m)
			dup.DN = tgtDN("Lara Newton (2)")
			in.Target = append(in.Target, dup)
		}, plan.Conflict, "ambiguous_match"},
		{"no ExchangeGUID on the source (matched by alias)", func(in *cutover.Input, m *directory.Mailbox) {
			in.Sources[0].MailboxGUID = nil
			in.Completed = []cutover.Completion{{Row: 1, Alias: "LaraN", Status: "Completed", HasStatus: true}}
		}, plan.Invalid, "no_exchange_guid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lara()
			in := world(m)
			in.Completed = completed(m)
			tc.mutate(&in, &m)
			p := cutover.Plan(in, opts())
			if len(p.Changes) != 1 {
				t.Fatalf("changes %+v, want only the target's", p.Changes)
			}
			c := p.Changes[0]
			if c.Forest != plan.ForestTarget || c.Action != tc.action || c.Reason != tc.reason {
				t.Fatalf("change %s %s %s, want target %s %s", c.Forest, c.Action, c.Reason, tc.action, tc.reason)
			}
			if len(c.Attrs) != 0 || len(c.Problems) != 1 || c.Problems[0].Code != tc.reason || c.Problems[0].Fix == "" || c.Problems[0].Object == "" {
				t.Errorf("change %+v: want no attrs and one problem with code, object and fix", c)
			}
			if p.Summary.Writes() != 0 {
				t.Errorf("summary %+v", p.Summary)
			}
		})
	}
}

func TestCutover_SourceGone(t *testing.T) {
	m := lara()
	in := world(m)
	in.Completed = completed(m)
	delete(in.SourceNow, strings.ToLower(m.DN))
	p := cutover.Plan(in, opts())
	if c := mustChange(t, p, plan.ForestTarget, m.DN); c.Action != plan.Update {
		t.Errorf("target %s", c.Action)
	}
	sc := mustChange(t, p, plan.ForestSource, m.DN)
	if sc.Action != plan.Conflict || sc.Reason != "source_gone" || len(sc.Attrs) != 0 {
		t.Errorf("source change %+v", sc)
	}
	if p.Summary.Update != 1 || p.Summary.Conflict != 1 {
		t.Errorf("summary %+v", p.Summary)
	}
}

// The plan does not depend on the order the forests or the export list objects in: changes are
// by source DN, target before source.
func TestCutover_DeterministicOrder(t *testing.T) {
	ms := []directory.Mailbox{
		mbx("Zoe Adams", "ZoeA", "zoe.adams", directory.TypeRemoteUserMailbox),
		maria(),
		mbx("anton Berg", "AntonB", "anton.berg", directory.TypeRemoteSharedMailbox),
		lara(),
	}
	ms[3].PublicDelegates = []string{ms[0].DN, ms[1].DN, ms[2].DN}
	in := world(ms...)
	in.Completed = completed(ms...)
	p1 := cutover.Plan(in, opts())

	rev := world(ms...)
	slices.Reverse(rev.Sources)
	slices.Reverse(rev.Target)
	rev.Completed = slices.Clone(in.Completed)
	slices.Reverse(rev.Completed)
	p2 := cutover.Plan(rev, opts())
	if !reflect.DeepEqual(p1.Changes, p2.Changes) || !reflect.DeepEqual(p1.Summary, p2.Summary) {
		t.Fatalf("the plan depends on input order:\n%+v\n%+v", p1.Changes, p2.Changes)
	}
	var got []string
	for _, c := range p1.Changes {
		got = append(got, c.Forest+" "+c.Source)
	}
	want := []string{
		"target " + ms[2].DN, "source " + ms[2].DN, // anton (case-insensitive order)
		"target " + ms[3].DN, "source " + ms[3].DN, // lara
		"target " + ms[1].DN, "source " + ms[1].DN, // maria
		"target " + ms[0].DN, "source " + ms[0].DN, // zoe
	}
	if !slices.Equal(got, want) {
		t.Errorf("order\n%q\nwant\n%q", got, want)
	}
	for _, c := range p1.Changes {
		if !slices.IsSortedFunc(c.Attrs, func(a, b plan.AttrChange) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}) {
			t.Errorf("%s attrs not sorted: %+v", c.DN, c.Attrs)
		}
	}
	if p1.Summary != (plan.Summary{Update: 8}) {
		t.Errorf("summary %+v", p1.Summary)
	}
	// Run to run, the same input gives the same plan.
	if p3 := cutover.Plan(in, opts()); !reflect.DeepEqual(p1, p3) {
		t.Error("two runs over the same input differ")
	}
}

// A mailbox listed twice (Get-MoveRequest and Get-MigrationUser rows concatenated) is planned once.
func TestCutover_DuplicateRowsPlannedOnce(t *testing.T) {
	m := lara()
	in := world(m)
	in.Completed = []cutover.Completion{
		{Row: 1, ExchangeGUID: guidString(m), Status: "Completed", HasStatus: true},
		{Row: 2, EmailAddress: "lara.newton@northwind.com", Status: "CompletedWithWarning", HasStatus: true},
	}
	if p := cutover.Plan(in, opts()); len(p.Changes) != 2 || len(p.Warnings) != 0 {
		t.Errorf("changes %d, warnings %+v; want one target and one source change", len(p.Changes), p.Warnings)
	}
}
