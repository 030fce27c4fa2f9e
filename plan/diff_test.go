package plan

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// Fixtures: sources in the contoso forest, target MailUsers in the northwind forest. The mapping
// rules are as config.Validate leaves them (lower-case domains, routing domain among the source
// domains). Desired objects come from mapper.Map, so the tests exercise the real contract
// between the two packages.

const (
	testOU     = "OU=Migrated,OU=Users,DC=northwind,DC=test"
	otherOU    = "OU=Staff,OU=Users,DC=northwind,DC=test"
	ownerAttr  = "extensionAttribute15"
	ownerValue = "xtmsyncd"

	// writeBackX500 is the target cloud's own LegacyExchangeDN, which Azure AD Connect writes
	// back into the target proxyAddresses (§C.6).
	writeBackX500 = "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=0a1b2c3d4e5f60718293a4b5c6d7e8f9-LaraN"
)

func rules() mapper.Rules {
	return mapper.Rules{
		SourceRoutingDomain:  "contoso.mail.onmicrosoft.com",
		SourceDomains:        []string{"contoso.com", "contoso.onmicrosoft.com", "contoso.mail.onmicrosoft.com"},
		TargetPrimaryDomain:  "northwind.com",
		TargetDeliveryDomain: "northwind.mail.onmicrosoft.com",
		TargetUPNSuffix:      "northwind.onmicrosoft.com",
		AcceptedDomains:      []string{"northwind.com", "northwind.onmicrosoft.com", "northwind.mail.onmicrosoft.com"},
		DisplayType:          directory.DisplaySyncedMailboxUser,
		ExchangeVersion:      88218628259840,
		OwnerAttr:            ownerAttr,
		OwnerValue:           ownerValue,
	}
}

func opts() Options {
	return Options{OU: testOU, Anchor: directory.AttrMailNickname, OwnerAttr: ownerAttr, OwnerValue: ownerValue}
}

// guidFor derives a distinct, stable ExchangeGUID from a name.
func guidFor(name string) directory.GUID {
	var g directory.GUID
	for i := range g {
		g[i] = byte(i*31 + 7)
	}
	for i, c := range []byte(name) {
		g[i%16] ^= c
		g[(i+5)%16] += c
	}
	return g
}

// src is a source remote mailbox: cn, alias, primary local part.
func src(cn, alias, primary string) directory.Mailbox {
	return directory.Mailbox{
		DN:               "CN=" + ldap.EscapeDN(cn) + ",OU=Staff,DC=contoso,DC=test",
		Alias:            alias,
		CN:               cn,
		DisplayName:      cn,
		LegacyExchangeDN: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + alias,
		MailboxGUID:      guidFor(alias).AD(),
		Proxies: []directory.Proxy{
			directory.SMTP(primary+"@contoso.com", true),
			directory.SMTP(alias+"@contoso.onmicrosoft.com", false),
			directory.SMTP(alias+"@contoso.mail.onmicrosoft.com", false),
			directory.Proxy("X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=cloud-" + alias),
		},
		TypeDetails:    directory.TypeRemoteUserMailbox,
		HasTypeDetails: true,
	}
}

func lara() directory.Mailbox  { return src("Lara Newton", "LaraN", "Lara.Newton") }
func maria() directory.Mailbox { return src("Maria Lopez", "MariaL", "maria.lopez") }

func mapAll(t *testing.T, ms ...directory.Mailbox) ([]mapper.Desired, []mapper.Invalid) {
	t.Helper()
	return mapper.Map(ms, rules())
}

func mapValid(t *testing.T, ms ...directory.Mailbox) []mapper.Desired {
	t.Helper()
	ds, inv := mapAll(t, ms...)
	if len(inv) != 0 {
		t.Fatalf("fixture invalid: %+v", inv[0].Problem)
	}
	return ds
}

// entry builds a target object from attribute/value pairs.
func entry(dn string, kv ...string) *directory.Entry {
	e := directory.NewEntry(dn)
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs[kv[i]] = append(e.Attrs[kv[i]], kv[i+1])
	}
	return e
}

// created returns the target object as it looks after the create change c was applied.
func created(c Change) *directory.Entry {
	e := directory.NewEntry(c.DN)
	e.ObjectGUID = guidFor("object:" + c.DN)
	for _, a := range c.Attrs {
		e.Set(a.Name, slices.Clone(a.After)...)
	}
	return e
}

// apply applies the attribute changes of an update to e the way the writer does: replace by
// After, or delete the exact values (AD matches them case-insensitively) then add.
func apply(e *directory.Entry, c Change) {
	for _, a := range c.Attrs {
		if !a.Incremental() {
			e.Set(a.Name, slices.Clone(a.After)...)
			continue
		}
		vals := slices.DeleteFunc(slices.Clone(e.Get(a.Name)), func(v string) bool {
			return slices.ContainsFunc(a.Delete, func(d string) bool { return strings.EqualFold(d, v) })
		})
		e.Set(a.Name, append(vals, a.Add...)...)
	}
}

// prepared returns the desired object for m and the target object xtmsyncd created for it.
func prepared(t *testing.T, m directory.Mailbox) (mapper.Desired, *directory.Entry) {
	t.Helper()
	ds := mapValid(t, m)
	p := Diff(ds, nil, nil, opts())
	if len(p.Changes) != 1 || p.Changes[0].Action != Create {
		t.Fatalf("fixture: want one create, got %+v", p.Changes)
	}
	return ds[0], created(p.Changes[0])
}

func only(t *testing.T, p *Plan) Change {
	t.Helper()
	if len(p.Changes) != 1 {
		t.Fatalf("plan has %d changes, want 1: %+v", len(p.Changes), p.Changes)
	}
	return p.Changes[0]
}

func attr(c Change, name string) *AttrChange {
	for i := range c.Attrs {
		if strings.EqualFold(c.Attrs[i].Name, name) {
			return &c.Attrs[i]
		}
	}
	return nil
}

func keys(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = directory.Proxy(v).Key()
	}
	slices.Sort(out)
	return out
}

// --- create ---

// A source with no target object is created in the target OU as a user with cn and
// sAMAccountName, carrying every desired attribute as After, and none it wants absent.
func TestDiff_CreateInTargetOU(t *testing.T) {
	ds := mapValid(t, lara())
	d := ds[0]
	c := only(t, Diff(ds, nil, nil, opts()))

	if c.Action != Create {
		t.Fatalf("action = %s, want create", c.Action)
	}
	ou, _ := ldap.ParseDN(testOU)
	if !InOU(ou, c.DN) {
		t.Errorf("DN %s is not under %s", c.DN, testOU)
	}
	if dn, err := ldap.ParseDN(c.DN); err != nil || len(dn.RDNs) != len(ou.RDNs)+1 {
		t.Errorf("DN %s is not a direct child of the OU (%v)", c.DN, err)
	}
	if c.Key != d.Key.String() || c.Source != d.Source.DN {
		t.Errorf("key/source = %s/%s, want %s/%s", c.Key, c.Source, d.Key, d.Source.DN)
	}
	for name, want := range map[string]string{
		directory.AttrObjectClass:    "user",
		directory.AttrCN:             "Lara Newton",
		directory.AttrSAMAccountName: "LaraN",
	} {
		a := attr(c, name)
		if a == nil || !slices.Equal(a.After, []string{want}) {
			t.Errorf("%s = %+v, want After [%s]", name, a, want)
		}
	}
	for name, vals := range d.Attrs {
		a := attr(c, name)
		if len(vals) == 0 {
			if a != nil {
				t.Errorf("%s must be absent but the create sets %q", name, a.After)
			}
			continue
		}
		if a == nil {
			t.Errorf("desired %s missing from the create", name)
			continue
		}
		if !slices.Equal(a.After, vals) {
			t.Errorf("%s After = %q, want %q", name, a.After, vals)
		}
	}
	for _, a := range c.Attrs {
		if len(a.Before) != 0 || a.Incremental() {
			t.Errorf("%s: a create has only After values, got %+v", a.Name, a)
		}
	}
	if !slices.IsSortedFunc(c.Attrs, func(x, y AttrChange) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	}) {
		t.Error("create attributes not in name order")
	}
	if a := attr(c, ownerAttr); a == nil || !slices.Equal(a.After, []string{ownerValue}) {
		t.Errorf("the create does not stamp the owner marker: %+v", a)
	}
}

// The CN is escaped in the DN (RFC 4514), and the cn attribute holds the plain value.
func TestDiff_CreateEscapesCN(t *testing.T) {
	for _, cn := range []string{"Newton, Lara", "Lara+Newton", `Lara "LN" Newton`, "#hash", "Lara; Newton <x>"} {
		t.Run(cn, func(t *testing.T) {
			m := lara()
			m.CN = cn
			c := only(t, Diff(mapValid(t, m), nil, nil, opts()))
			dn, err := ldap.ParseDN(c.DN)
			if err != nil {
				t.Fatalf("DN %q does not parse: %v", c.DN, err)
			}
			if got := dn.RDNs[0].Attributes[0].Value; got != cn {
				t.Errorf("RDN value = %q, want %q", got, cn)
			}
			if a := attr(c, directory.AttrCN); a == nil || !slices.Equal(a.After, []string{cn}) {
				t.Errorf("cn = %+v, want %q", a, cn)
			}
		})
	}
}

// --- update, unchanged, idempotency ---

// An owned object that drifted is updated attribute by attribute, each with the value read
// (Before) and the value wanted (After); attributes xtmsyncd does not manage are left alone.
func TestDiff_UpdateAttributeLevelBeforeAfter(t *testing.T) {
	d, e := prepared(t, lara())
	e.Set(directory.AttrDisplayName, "Lara N. (old)")
	e.Set(directory.AttrTargetAddress, "SMTP:LaraN@contoso.onmicrosoft.com")
	e.Set(directory.AttrRecipientDisplayType, "6")
	e.Set(directory.AttrMailNickname) // lost
	e.Set("description", "set by an admin")
	e.Set("telephoneNumber", "+1 555 0100")

	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	if c.Action != Update {
		t.Fatalf("action = %s, want update", c.Action)
	}
	if c.DN != e.DN || c.ObjectGUID != e.ObjectGUID.String() {
		t.Errorf("DN/objectGUID = %s/%s, want the matched object's %s/%s", c.DN, c.ObjectGUID, e.DN, e.ObjectGUID)
	}
	want := map[string][2][]string{
		directory.AttrDisplayName:          {{"Lara N. (old)"}, d.Attrs[directory.AttrDisplayName]},
		directory.AttrTargetAddress:        {{"SMTP:LaraN@contoso.onmicrosoft.com"}, d.Attrs[directory.AttrTargetAddress]},
		directory.AttrRecipientDisplayType: {{"6"}, d.Attrs[directory.AttrRecipientDisplayType]},
		directory.AttrMailNickname:         {nil, {"LaraN"}},
	}
	if len(c.Attrs) != len(want) {
		t.Errorf("changed attributes = %v, want exactly %d", c.Attrs, len(want))
	}
	for name, ba := range want {
		a := attr(c, name)
		if a == nil {
			t.Errorf("%s not changed", name)
			continue
		}
		if !slices.Equal(a.Before, ba[0]) || !slices.Equal(a.After, ba[1]) {
			t.Errorf("%s: before %q after %q, want before %q after %q", name, a.Before, a.After, ba[0], ba[1])
		}
	}
	for _, unmanaged := range []string{"description", "telephoneNumber", directory.AttrCN, directory.AttrSAMAccountName, directory.AttrObjectClass} {
		if a := attr(c, unmanaged); a != nil {
			t.Errorf("unmanaged or create-only %s changed: %+v", unmanaged, a)
		}
	}
}

// Idempotency: the object a create produces, read back, diffs to nothing; so does it once
// Azure AD Connect has written the target cloud x500 back.
func TestDiff_UnchangedAfterCreate(t *testing.T) {
	d, e := prepared(t, lara())
	p := Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts())
	c := only(t, p)
	if c.Action != Unchanged || len(c.Attrs) != 0 {
		t.Fatalf("re-diff of the created object = %s %+v, want unchanged with no attributes", c.Action, c.Attrs)
	}
	if c.DN != e.DN {
		t.Errorf("DN = %s, want %s", c.DN, e.DN)
	}
	if p.Summary != (Summary{Unchanged: 1}) || p.Summary.Writes() != 0 {
		t.Errorf("summary = %+v, want one unchanged", p.Summary)
	}
}

// Idempotency of updates: applying an update and re-diffing gives unchanged, for every kind
// of drift (replace, add, delete, primary change).
func TestDiff_UpdateConverges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drift func(e *directory.Entry)
	}{
		{"single-valued drift", func(e *directory.Entry) {
			e.Set(directory.AttrDisplayName, "Old")
			e.Set(directory.AttrUPN, "old@northwind.onmicrosoft.com")
		}},
		{"archive and remote type to remove", func(e *directory.Entry) {
			e.Set(directory.AttrArchiveGUID, guidFor("stray archive").String())
			e.Set(directory.AttrRemoteRecipientType, "8")
		}},
		{"proxies: primary changed, stale and missing values", func(e *directory.Entry) {
			e.Set(directory.AttrProxyAddresses, "SMTP:old@northwind.com", "smtp:LaraN@contoso.com", "SIP:lara@northwind.com", writeBackX500)
		}},
		{"proxies: primary demoted", func(e *directory.Entry) {
			var vs []string
			for _, v := range e.Get(directory.AttrProxyAddresses) {
				vs = append(vs, strings.Replace(v, "SMTP:", "smtp:", 1))
			}
			e.Set(directory.AttrProxyAddresses, append(vs, "SMTP:someone.else@northwind.com")...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, e := prepared(t, lara())
			tc.drift(e)
			c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
			if c.Action != Update {
				t.Fatalf("drift not detected: %s", c.Action)
			}
			apply(e, c)
			c2 := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
			if c2.Action != Unchanged {
				t.Errorf("after applying the update the re-diff is %s: %+v", c2.Action, c2.Attrs)
			}
		})
	}
}

// With no target object holding the ExchangeGUID yet, the anchor (mailNickname by default)
// matches the object, and the update stamps the GUID (§D.2 match order).
func TestDiff_MatchByAnchorStampsExchangeGUID(t *testing.T) {
	d, e := prepared(t, lara())
	e.Set(directory.AttrMailboxGUID)
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	if c.Action != Update || c.DN != e.DN {
		t.Fatalf("action %s on %s, want an update of %s", c.Action, c.DN, e.DN)
	}
	a := attr(c, directory.AttrMailboxGUID)
	if a == nil || len(a.Before) != 0 || !slices.Equal(a.After, []string{d.Key.String()}) {
		t.Errorf("msExchMailboxGuid change = %+v, want none -> %s", a, d.Key)
	}
}

// The ExchangeGUID match wins over the anchor: an owned object holding the GUID is the match
// even when its alias changed (the alias is then updated, not a second object created).
func TestDiff_MatchByGUIDBeforeAnchor(t *testing.T) {
	d, e := prepared(t, lara())
	e.Set(directory.AttrMailNickname, "renamed")
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	if c.Action != Update || c.DN != e.DN {
		t.Fatalf("action %s on %s, want an update of %s", c.Action, c.DN, e.DN)
	}
	if a := attr(c, directory.AttrMailNickname); a == nil || !slices.Equal(a.After, []string{"LaraN"}) {
		t.Errorf("mailNickname change = %+v", a)
	}
}

// AD compares attribute names case-insensitively; the configured anchor matches a pre-staged
// object (owned, in the OU, no ExchangeGUID or addresses yet) whatever the case of its name.
func TestDiff_AnchorAttributeNameCaseInsensitive(t *testing.T) {
	for _, anchor := range []string{"mailNickname", "mailnickname", "MAILNICKNAME"} {
		t.Run(anchor, func(t *testing.T) {
			d := mapValid(t, lara())[0]
			staged := entry("CN=Lara Newton,"+testOU, directory.AttrMailNickname, "LaraN", ownerAttr, ownerValue,
				directory.AttrRecipientTypeDetails, "128")
			o := opts()
			o.Anchor = anchor
			c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{staged}, o))
			if c.Action == Update && c.DN == staged.DN {
				return
			}
			if anchor != directory.AttrMailNickname && c.Action == Create {
				t.Fatalf("regression: plan/diff.go:140 looks the anchor up in the desired attributes with the configured name's exact "+
					"case (d.Attrs[opt.Anchor]); anchor %q never matches the desired key %q, so the pre-staged object %s is not "+
					"matched and a second object %s is planned (when the staged object already holds the addresses, the result "+
					"is a spurious address_in_use conflict instead)", anchor, directory.AttrMailNickname, staged.DN, c.DN)
			}
			t.Errorf("anchor %q: %s %s on %s, want an update of %s", anchor, c.Action, c.Reason, c.DN, staged.DN)
		})
	}
}

// §C.2: attribute values compare the way AD compares them: GUID strings and Unicode strings
// case-insensitively, octet strings (the hashes, shown in base64) exactly.
func TestDiff_ValueComparisonByKind(t *testing.T) {
	m := lara()
	m.Hashes = map[string]string{directory.AttrSafeSendersHash: "AQIDBA=="}
	for _, tc := range []struct {
		name      string
		attr      string
		value     func(d mapper.Desired) string
		unchanged bool
	}{
		{"GUID in upper case", directory.AttrMailboxGUID, func(d mapper.Desired) string { return strings.ToUpper(d.Key.String()) }, true},
		{"targetAddress prefix and address case", directory.AttrTargetAddress, func(d mapper.Desired) string { return "smtp:laran@CONTOSO.mail.onmicrosoft.com" }, true},
		{"display name case (AD strings compare case-insensitively)", directory.AttrDisplayName, func(d mapper.Desired) string { return "LARA NEWTON" }, true},
		{"hash equal", directory.AttrSafeSendersHash, func(d mapper.Desired) string { return "AQIDBA==" }, true},
		{"hash differs only in base64 letter case", directory.AttrSafeSendersHash, func(d mapper.Desired) string { return "aqidba==" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, e := prepared(t, m)
			e.Set(tc.attr, tc.value(d))
			c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
			if got := c.Action == Unchanged; got != tc.unchanged {
				t.Errorf("%s = %q: action %s (%+v), want unchanged=%v", tc.attr, tc.value(d), c.Action, c.Attrs, tc.unchanged)
			}
		})
	}
}

// cn, sAMAccountName and objectClass are set when an object is created and never diffed:
// renaming an existing object is not xtmsyncd's business.
func TestDiff_CreateOnlyAttributesNotDiffed(t *testing.T) {
	d, e := prepared(t, lara())
	e.Set(directory.AttrSAMAccountName, "lnewton")
	e.Set(directory.AttrCN, "Newton, Lara")
	e.Set(directory.AttrObjectClass, "top", "person", "organizationalPerson", "user")
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	if c.Action != Unchanged {
		t.Errorf("action %s %+v, want unchanged", c.Action, c.Attrs)
	}
}

// --- proxyAddresses ownership policy (§C.6, §D.2, §D.3) ---

func proxyDiff(t *testing.T, m directory.Mailbox, have func(d mapper.Desired) []string) (Change, *AttrChange, []string) {
	t.Helper()
	d, e := prepared(t, m)
	h := have(d)
	e.Set(directory.AttrProxyAddresses, h...)
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	return c, attr(c, directory.AttrProxyAddresses), h
}

func desiredProxies(d mapper.Desired) []string {
	return slices.Clone(d.Attrs[directory.AttrProxyAddresses])
}

// §C.6: Azure AD Connect writes the target cloud LegacyExchangeDN back as an x500; it is
// foreign-owned, never deleted, and its presence is not a change (no flapping).
func TestDiff_WriteBackX500Survives(t *testing.T) {
	c, pa, _ := proxyDiff(t, lara(), func(d mapper.Desired) []string {
		return append(desiredProxies(d), writeBackX500, "x500:/o=Northwind/cn=older-writeback")
	})
	if c.Action != Unchanged || pa != nil {
		t.Fatalf("write-back x500s caused %s %+v, want unchanged", c.Action, pa)
	}
	// And when something else does change, the write-back value is still not deleted.
	c, pa, _ = proxyDiff(t, lara(), func(d mapper.Desired) []string {
		return append(desiredProxies(d)[1:], writeBackX500)
	})
	if c.Action != Update || pa == nil {
		t.Fatalf("missing primary not detected: %s", c.Action)
	}
	for _, v := range pa.Delete {
		if directory.Proxy(v).Type() == "x500" {
			t.Errorf("x500 %s deleted", v)
		}
	}
}

// A changed primary SMTP is replaced in one AttrChange: the exact old value deleted and the
// new value added, so the object never lacks (or has two) primaries between two writes.
func TestDiff_PrimarySMTPChangeDeletesAndAddsInOneChange(t *testing.T) {
	const old = "SMTP:L.Newton@Northwind.com"
	c, pa, have := proxyDiff(t, lara(), func(d mapper.Desired) []string {
		var out []string
		for _, v := range desiredProxies(d) {
			if directory.Proxy(v).IsPrimary() && directory.Proxy(v).IsSMTP() {
				v = old
			}
			out = append(out, v)
		}
		return out
	})
	if c.Action != Update || pa == nil {
		t.Fatalf("action %s, want an update of proxyAddresses", c.Action)
	}
	n := 0
	for _, a := range c.Attrs {
		if strings.EqualFold(a.Name, directory.AttrProxyAddresses) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d proxyAddresses changes, want 1", n)
	}
	if !slices.Equal(pa.Delete, []string{old}) {
		t.Errorf("delete = %q, want exactly the old value %q", pa.Delete, old)
	}
	if !slices.Equal(pa.Add, []string{"SMTP:Lara.Newton@northwind.com"}) {
		t.Errorf("add = %q, want the new primary", pa.Add)
	}
	if !slices.Equal(pa.Before, have) {
		t.Errorf("before = %q, want the values read %q", pa.Before, have)
	}
	if len(pa.After) != 0 {
		t.Errorf("an incremental change has After %q", pa.After)
	}
}

// A secondary that should become the primary (or the reverse) changes primary-ness: the value
// is deleted and re-added with the other prefix case.
func TestDiff_PrimaryNessChangeIsAChange(t *testing.T) {
	c, pa, _ := proxyDiff(t, lara(), func(d mapper.Desired) []string {
		out := []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com"}
		for _, v := range desiredProxies(d) {
			p := directory.Proxy(v)
			switch {
			case p.IsSMTP() && p.IsPrimary():
				out = append(out, "smtp:"+p.Address())
			case p.IsSMTP() && p.Domain() == "northwind.mail.onmicrosoft.com":
			default:
				out = append(out, v)
			}
		}
		return out
	})
	if c.Action != Update || pa == nil {
		t.Fatalf("action %s, want an update", c.Action)
	}
	wantDel := []string{"SMTP:LaraN@northwind.mail.onmicrosoft.com", "smtp:Lara.Newton@northwind.com"}
	wantAdd := []string{"SMTP:Lara.Newton@northwind.com", "smtp:LaraN@northwind.mail.onmicrosoft.com"}
	slices.Sort(wantDel)
	slices.Sort(wantAdd)
	if !slices.Equal(pa.Delete, wantDel) || !slices.Equal(pa.Add, wantAdd) {
		t.Errorf("delete %q add %q, want delete %q add %q", pa.Delete, pa.Add, wantDel, wantAdd)
	}
}

// §C.2: proxyAddresses compare case-insensitively in AD; a value that differs only in case
// (address or x500/X500 prefix) is the same value and is not rewritten.
func TestDiff_ProxyCompareCaseInsensitive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func(v directory.Proxy) directory.Proxy
	}{
		{"primary address case", func(v directory.Proxy) directory.Proxy {
			if v == "SMTP:maria.lopez@northwind.com" {
				return "SMTP:Maria.Lopez@northwind.com"
			}
			return v
		}},
		{"domain case", func(v directory.Proxy) directory.Proxy {
			if v.IsSMTP() {
				return directory.Proxy(v.Prefix() + ":" + strings.ToUpper(v.Address()))
			}
			return v
		}},
		{"X500 vs x500 prefix", func(v directory.Proxy) directory.Proxy {
			if v.Type() == "x500" {
				return directory.Proxy("X500:" + v.Address())
			}
			return v
		}},
		{"x500 value case", func(v directory.Proxy) directory.Proxy {
			if v.Type() == "x500" {
				return directory.Proxy("x500:" + strings.ToLower(v.Address()))
			}
			return v
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := maria()
			c, pa, have := proxyDiff(t, m, func(d mapper.Desired) []string {
				var out []string
				for _, v := range desiredProxies(d) {
					out = append(out, string(tc.rewrite(directory.Proxy(v))))
				}
				return out
			})
			if slices.Equal(have, desiredProxies(mapValid(t, m)[0])) {
				t.Fatal("fixture: the rewrite changed nothing")
			}
			if c.Action != Unchanged || pa != nil {
				t.Errorf("target %q: action %s %+v, want unchanged", have, c.Action, pa)
			}
		})
	}
}

// Article: "You can't add legacy smtp proxy addresses from source mailbox to target MailUser";
// check 12. xtmsyncd owns every SMTP value: a stale source-owned (or any unwanted) SMTP value
// on the target is deleted, by its exact value.
func TestDiff_StaleSourceOwnedSMTPRemoved(t *testing.T) {
	for _, stale := range []string{"smtp:LaraN@contoso.com", "smtp:Lara.Newton@Contoso.com", "smtp:LaraN@contoso.mail.onmicrosoft.com", "smtp:lara@unaccepted.example"} {
		t.Run(stale, func(t *testing.T) {
			c, pa, _ := proxyDiff(t, lara(), func(d mapper.Desired) []string {
				return append(desiredProxies(d), stale)
			})
			if c.Action != Update || pa == nil {
				t.Fatalf("action %s, want an update", c.Action)
			}
			if !slices.Equal(pa.Delete, []string{stale}) || len(pa.Add) != 0 {
				t.Errorf("delete %q add %q, want delete [%s] only", pa.Delete, pa.Add, stale)
			}
		})
	}
}

// Proxy types xtmsyncd does not own (SIP:, EUM:, …, set by Skype/Teams or UM) are left alone.
func TestDiff_ForeignProxyTypesUntouched(t *testing.T) {
	foreign := []string{"SIP:lara.newton@northwind.com", "eum:1234;phone-context=Dial.northwind.com", "EUM:5678;phone-context=Dial.northwind.com", "FAX:+15550100", "notes:Lara Newton/Northwind"}
	c, pa, _ := proxyDiff(t, lara(), func(d mapper.Desired) []string {
		return append(desiredProxies(d), foreign...)
	})
	if c.Action != Unchanged || pa != nil {
		t.Fatalf("foreign proxies caused %s %+v, want unchanged", c.Action, pa)
	}
	// Still untouched when SMTP values change next to them.
	c, pa, _ = proxyDiff(t, lara(), func(d mapper.Desired) []string {
		return append(append(desiredProxies(d), foreign...), "smtp:stale@contoso.com")
	})
	if pa == nil {
		t.Fatalf("action %s, want a proxy change", c.Action)
	}
	for _, v := range pa.Delete {
		if slices.Contains(foreign, v) {
			t.Errorf("foreign proxy %s deleted", v)
		}
	}
}

// Check 10 / check 13: a missing x500 (the source legacyExchangeDN or a source x500) is added.
func TestDiff_MissingX500Added(t *testing.T) {
	c, pa, _ := proxyDiff(t, lara(), func(d mapper.Desired) []string {
		var out []string
		for _, v := range desiredProxies(d) {
			if directory.Proxy(v).Type() != "x500" {
				out = append(out, v)
			}
		}
		return out
	})
	if c.Action != Update || pa == nil {
		t.Fatalf("action %s, want an update", c.Action)
	}
	var want []string
	for _, v := range desiredProxies(mapValid(t, lara())[0]) {
		if directory.Proxy(v).Type() == "x500" {
			want = append(want, v)
		}
	}
	slices.Sort(want)
	if !slices.Equal(pa.Add, want) || len(pa.Delete) != 0 {
		t.Errorf("add %q delete %q, want add %q", pa.Add, pa.Delete, want)
	}
}

// Check 9: "If the source has no archive and the target does, that is an error": the target's
// msExchArchiveGUID is removed when the source has none.
func TestDiff_ArchiveGUIDRemovedWhenSourceHasNone(t *testing.T) {
	stray := guidFor("stray archive").String()
	d, e := prepared(t, lara()) // lara() has no archive
	e.Set(directory.AttrArchiveGUID, stray)
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	a := attr(c, directory.AttrArchiveGUID)
	if c.Action != Update || a == nil {
		t.Fatalf("action %s, want an update removing msExchArchiveGUID", c.Action)
	}
	if !slices.Equal(a.Before, []string{stray}) || len(a.After) != 0 || a.Incremental() {
		t.Errorf("archive change = %+v, want before [%s] after none", a, stray)
	}

	// And a source with an archive sets it (check 9, first half).
	m := lara()
	m.ArchiveGUID = guidFor("lara archive").AD()
	d2 := mapValid(t, m)[0]
	c = only(t, Diff([]mapper.Desired{d2}, nil, []*directory.Entry{e}, opts()))
	if a := attr(c, directory.AttrArchiveGUID); a == nil || !slices.Equal(a.After, []string{guidFor("lara archive").String()}) {
		t.Errorf("archive change = %+v, want the source's archive GUID", a)
	}
}

// §C.1: msExchRemoteRecipientType 8 makes the cloud scrub the MailUser's proxies; it must be
// absent on the target MEU (§C.7), so any value there is removed.
func TestDiff_RemoteRecipientType8Removed(t *testing.T) {
	for _, v := range []string{"8", "4"} {
		t.Run(v, func(t *testing.T) {
			d, e := prepared(t, lara())
			e.Set(directory.AttrRemoteRecipientType, v)
			c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
			a := attr(c, directory.AttrRemoteRecipientType)
			if c.Action != Update || a == nil {
				t.Fatalf("action %s, want an update removing msExchRemoteRecipientType", c.Action)
			}
			if !slices.Equal(a.Before, []string{v}) || len(a.After) != 0 {
				t.Errorf("change = %+v, want before [%s] after none", a, v)
			}
		})
	}
}

// --- conflicts ---

func checkConflict(t *testing.T, p *Plan, source, reason, dn string) Change {
	t.Helper()
	var c *Change
	for i := range p.Changes {
		if p.Changes[i].Source == source {
			c = &p.Changes[i]
		}
	}
	if c == nil {
		t.Fatalf("no change for %s", source)
	}
	if c.Action != Conflict || c.Reason != reason {
		t.Fatalf("%s: %s/%s, want conflict/%s (%+v)", source, c.Action, c.Reason, reason, c.Problems)
	}
	if c.DN != dn {
		t.Errorf("conflict DN = %q, want %q", c.DN, dn)
	}
	if len(c.Attrs) != 0 {
		t.Errorf("a conflict carries changes: %+v", c.Attrs)
	}
	if len(c.Problems) != 1 || c.Problems[0].Code != reason || c.Problems[0].Fix == "" {
		t.Errorf("problems = %+v, want one %s with a fix", c.Problems, reason)
	}
	if c.Action.Writes() {
		t.Error("a conflict writes")
	}
	return *c
}

// Each conflict class leaves the object alone and says why.
func TestDiff_Conflicts(t *testing.T) {
	other := func(d mapper.Desired) *directory.Entry {
		return entry("CN=Somebody Else,"+testOU, directory.AttrMailNickname, "someone", ownerAttr, ownerValue,
			directory.AttrMailboxGUID, guidFor("someone").String())
	}
	for _, tc := range []struct {
		name   string
		reason string
		target func(d mapper.Desired, mine *directory.Entry) []*directory.Entry
		wantDN func(mine, other *directory.Entry) string
	}{
		{"not owned: no marker", "not_owned", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.Set(ownerAttr)
			return []*directory.Entry{e}
		}, nil},
		{"not owned: other marker", "not_owned", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.Set(ownerAttr, "another-tool")
			return []*directory.Entry{e}
		}, nil},
		{"guid mismatch on anchor match", "guid_mismatch", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.Set(directory.AttrMailboxGUID, guidFor("previous mailbox").String())
			return []*directory.Entry{e}
		}, nil},
		{"outside target OU (GUID match)", "outside_target_ou", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.DN = "CN=Lara Newton," + otherOU
			return []*directory.Entry{e}
		}, nil},
		{"outside target OU (anchor match)", "outside_target_ou", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.DN = "CN=Lara Newton," + otherOU
			e.Set(directory.AttrMailboxGUID)
			return []*directory.Entry{e}
		}, nil},
		{"outside target OU: escaped comma is not an OU boundary", "outside_target_ou", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.DN = `CN=Lara\,OU=Migrated,OU=Users,DC=northwind,DC=test`
			return []*directory.Entry{e}
		}, nil},
		{"ambiguous match: GUID on two objects", "ambiguous_match", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			twin := entry("CN=Lara Twin,"+testOU, directory.AttrMailboxGUID, d.Key.String(), ownerAttr, ownerValue)
			return []*directory.Entry{e, twin}
		}, nil},
		{"ambiguous match: anchor on two objects", "ambiguous_match", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			e.Set(directory.AttrMailboxGUID)
			twin := entry("CN=Lara Twin,"+testOU, directory.AttrMailNickname, "laran", ownerAttr, ownerValue)
			return []*directory.Entry{e, twin}
		}, nil},
		{"address in use: primary held by another object", "address_in_use", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			o := other(d)
			o.Set(directory.AttrProxyAddresses, "smtp:lara.newton@NORTHWIND.com")
			return []*directory.Entry{e, o}
		}, func(_, o *directory.Entry) string { return o.DN }},
		{"address in use: x500 held by another object", "address_in_use", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			o := other(d)
			o.Set(directory.AttrProxyAddresses, "X500:"+lara().LegacyExchangeDN)
			return []*directory.Entry{e, o}
		}, func(_, o *directory.Entry) string { return o.DN }},
		{"address in use: new object, delivery proxy taken outside the OU", "address_in_use", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			o := other(d)
			o.DN = "CN=Somebody Else," + otherOU
			o.Set(directory.AttrProxyAddresses, "SMTP:LaraN@northwind.mail.onmicrosoft.com")
			return []*directory.Entry{o}
		}, func(_, o *directory.Entry) string { return o.DN }},
		{"UPN in use", "upn_in_use", func(d mapper.Desired, e *directory.Entry) []*directory.Entry {
			o := other(d)
			o.Set(directory.AttrUPN, "LARAN@northwind.onmicrosoft.com")
			return []*directory.Entry{e, o}
		}, func(_, o *directory.Entry) string { return o.DN }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, mine := prepared(t, lara())
			target := tc.target(d, mine)
			p := Diff([]mapper.Desired{d}, nil, target, opts())
			want := mine.DN
			if tc.wantDN != nil {
				want = tc.wantDN(mine, target[len(target)-1])
			}
			checkConflict(t, p, d.Source.DN, tc.reason, want)
			if p.Summary != (Summary{Conflict: 1}) {
				t.Errorf("summary = %+v, want one conflict", p.Summary)
			}
		})
	}
}

// §C.4: a target object that is an on-premises mailbox (typeDetails 1 UserMailbox, 2 Linked, 4
// Shared, 8 Legacy, 16 Room, 32 Equipment) cannot be turned into a MailUser; a MailUser (128)
// or a remote mailbox is not an on-premises mailbox.
func TestDiff_OnPremMailboxConflict(t *testing.T) {
	for _, tc := range []struct {
		typeDetails int64
		conflict    bool
	}{
		{directory.TypeUserMailbox, true},
		{directory.TypeLinkedMailbox, true},
		{directory.TypeSharedMailbox, true},
		{directory.TypeLegacyMailbox, true},
		{directory.TypeRoomMailbox, true},
		{directory.TypeEquipmentMailbox, true},
		{directory.TypeMailUser, false},
		{directory.TypeRemoteUserMailbox, false},
		{directory.TypeRemoteSharedMailbox, false},
	} {
		t.Run(fmt.Sprint(tc.typeDetails), func(t *testing.T) {
			d, e := prepared(t, lara())
			e.Set(directory.AttrRecipientTypeDetails, fmt.Sprint(tc.typeDetails))
			p := Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts())
			if tc.conflict {
				c := checkConflict(t, p, d.Source.DN, "onprem_mailbox", e.DN)
				if c.Problems[0].Found != fmt.Sprint(tc.typeDetails) {
					t.Errorf("found = %q, want %d", c.Problems[0].Found, tc.typeDetails)
				}
				return
			}
			if c := only(t, p); c.Action == Conflict {
				t.Errorf("typeDetails %d: unexpected conflict %s", tc.typeDetails, c.Reason)
			}
		})
	}
}

// The on-premises mailbox check comes before ownership: even an object wrongly marked as owned
// is never converted.
func TestDiff_OnPremMailboxEvenIfMarkedOwned(t *testing.T) {
	d, e := prepared(t, lara())
	e.Set(directory.AttrRecipientTypeDetails, "1")
	e.Set(ownerAttr, ownerValue)
	checkConflict(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()), d.Source.DN, "onprem_mailbox", e.DN)
}

// The OU test is RDN-aware and case-insensitive: an object under the OU written in another
// case is inside it.
func TestDiff_InOUCaseInsensitive(t *testing.T) {
	d, e := prepared(t, lara())
	e.DN = "cn=Lara Newton,ou=migrated,ou=USERS,dc=Northwind,dc=test"
	c := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{e}, opts()))
	if c.Action != Unchanged {
		t.Errorf("action %s (%s), want unchanged", c.Action, c.Reason)
	}
	ou, _ := ldap.ParseDN(testOU)
	for _, tc := range []struct {
		dn   string
		want bool
	}{
		{"CN=x," + testOU, true},
		{"CN=x,OU=Sub," + testOU, true},
		{testOU, false},
		{"CN=x," + otherOU, false},
		{`CN=x\,OU=Migrated,OU=Users,DC=northwind,DC=test`, false},
		{"not a DN", false},
	} {
		if got := InOU(ou, tc.dn); got != tc.want {
			t.Errorf("InOU(%s) = %v, want %v", tc.dn, got, tc.want)
		}
	}
	if InOU(nil, "CN=x,"+testOU) {
		t.Error("InOU with no OU is true")
	}
}

// Two sources that map to the same target address: neither gets it, both are conflicts.
func TestDiff_AddressClaimedTwiceBothConflict(t *testing.T) {
	a := src("Anna Berg", "aberg", "anna")
	b := src("Anna Bergström", "abergs", "Anna") // SMTP:Anna@northwind.com, the same address
	c := src("Carl Ek", "cek", "carl")
	ds := mapValid(t, a, b, c)
	p := Diff(ds, nil, nil, opts())
	checkConflict(t, p, a.DN, "address_claimed_twice", "")
	checkConflict(t, p, b.DN, "address_claimed_twice", "")
	if p.Summary != (Summary{Create: 1, Conflict: 2}) {
		t.Errorf("summary = %+v, want carl created and two conflicts", p.Summary)
	}
}

// An address held by an object other than the match is a conflict whatever order the target
// objects were read in (LDAP search order is not defined).
func TestDiff_AddressInUseWhateverTargetOrder(t *testing.T) {
	for _, tc := range []struct {
		name, attr, value, reason string
	}{
		{"proxy", directory.AttrProxyAddresses, "smtp:LaraN@northwind.mail.onmicrosoft.com", "address_in_use"},
		{"UPN", directory.AttrUPN, "LaraN@northwind.onmicrosoft.com", "upn_in_use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, mine := prepared(t, lara())
			stale := entry("CN=Lara Newton (old),"+otherOU, tc.attr, tc.value)
			var results []string
			for _, order := range [][]*directory.Entry{{stale, mine}, {mine, stale}} {
				c := only(t, Diff([]mapper.Desired{d}, nil, order, opts()))
				results = append(results, fmt.Sprintf("[%s first] %s %s", order[0].DN, c.Action, c.Reason))
				if c.Action == Conflict && c.Reason == tc.reason && c.DN == stale.DN {
					continue
				}
				if c.Action == Unchanged && order[len(order)-1] == mine {
					t.Fatalf("regression: plan/diff.go:94 and :97 index one holder per proxy key and per UPN (last one read wins); "+
						"when the matched object is read after another holder, the other holder is forgotten and the duplicate "+
						"%s goes unreported (%s)", tc.attr, strings.Join(results, "; "))
				}
				t.Errorf("[%s first] %s %s on %s, want conflict %s on %s", order[0].DN, c.Action, c.Reason, c.DN, tc.reason, stale.DN)
			}
		})
	}
}

// --- invalid ---

// Invalid sources pass through as Invalid changes with the mapper's problem; the key is the
// ExchangeGUID when the source has a usable one.
func TestDiff_InvalidPassesThrough(t *testing.T) {
	noAlias := lara()
	noAlias.Alias = ""
	noGUID := maria()
	noGUID.MailboxGUID = nil
	dupA, dupB := src("Dup A", "dupa", "dupa"), src("Dup B", "dupb", "dupb")
	dupB.MailboxGUID = dupA.MailboxGUID
	wantKey := map[string]string{
		noAlias.DN: guidFor("LaraN").String(),
		noGUID.DN:  "",
		dupA.DN:    guidFor("dupa").String(),
		dupB.DN:    guidFor("dupa").String(),
	}
	ds, inv := mapAll(t, noAlias, noGUID, dupA, dupB)
	if len(ds) != 0 || len(inv) != len(wantKey) {
		t.Fatalf("fixture: %d desired %d invalid", len(ds), len(inv))
	}
	p := Diff(ds, inv, nil, opts())
	if p.Summary != (Summary{Invalid: len(wantKey)}) {
		t.Errorf("summary = %+v, want %d invalid", p.Summary, len(wantKey))
	}
	for _, iv := range inv {
		var c *Change
		for i := range p.Changes {
			if p.Changes[i].Source == iv.Source.DN {
				c = &p.Changes[i]
			}
		}
		if c == nil {
			t.Fatalf("%s missing from the plan", iv.Source.DN)
		}
		if c.Action != Invalid || c.Reason != iv.Problem.Code || !reflect.DeepEqual(c.Problems, []mapper.Problem{iv.Problem}) {
			t.Errorf("%s: %+v, want invalid with the mapper's problem %+v", iv.Source.DN, c, iv.Problem)
		}
		if c.DN != "" || len(c.Attrs) != 0 || c.Action.Writes() {
			t.Errorf("%s: an invalid change has a DN or attributes: %+v", iv.Source.DN, c)
		}
		if c.Key != wantKey[iv.Source.DN] {
			t.Errorf("%s: key = %q, want %q", iv.Source.DN, c.Key, wantKey[iv.Source.DN])
		}
	}
}

// Two target objects holding one ExchangeGUID: the conflict (and so the plan and its hash)
// does not depend on the order the target objects were read in.
func TestDiff_AmbiguousMatchWhateverTargetOrder(t *testing.T) {
	d, mine := prepared(t, lara())
	twin := entry("CN=Lara Twin,"+testOU, directory.AttrMailboxGUID, d.Key.String(), ownerAttr, ownerValue)
	twin.ObjectGUID = guidFor("twin")
	a := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{mine, twin}, opts()))
	b := only(t, Diff([]mapper.Desired{d}, nil, []*directory.Entry{twin, mine}, opts()))
	for _, c := range []Change{a, b} {
		if c.Action != Conflict || c.Reason != "ambiguous_match" {
			t.Fatalf("%s %s, want conflict ambiguous_match", c.Action, c.Reason)
		}
		if !strings.Contains(c.Problems[0].Found, mine.DN) || !strings.Contains(c.Problems[0].Found, twin.DN) {
			t.Errorf("found %q does not list both holders", c.Problems[0].Found)
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("regression: plan/diff.go:135 (and :143 for the anchor) reports ms[0], the first holder read, as the conflict's DN and objectGUID; LDAP "+
			"result order is not defined, so the same directory state gives different plans and plan hashes (%s vs %s)", a.DN, b.DN)
	}
}

// --- ordering, summary, determinism ---

// scenario returns sources and target objects that produce every action.
func scenario(t *testing.T) ([]mapper.Desired, []mapper.Invalid, []*directory.Entry) {
	t.Helper()
	upd, updE := prepared(t, src("Bert Upd", "bupd", "bert"))
	updE.Set(directory.AttrDisplayName, "stale")
	unc, uncE := prepared(t, src("Uma Unc", "uunc", "uma"))
	con, conE := prepared(t, src("Cleo Con", "ccon", "cleo"))
	conE.Set(ownerAttr)
	inv := src("Ivan Inv", "iinv", "ivan")
	inv.LegacyExchangeDN = ""
	inv2 := src("Anja Inv", "ainv", "anja")
	inv2.MailboxGUID = []byte{1, 2, 3}
	desired, invalid := mapAll(t, src("zora create", "zcre", "zora"), src("Abel Create", "acre", "abel"), inv, inv2)
	desired = append(desired, upd, unc, con)
	return desired, invalid, []*directory.Entry{updE, uncE, conE}
}

// Plan order: creates, updates, conflicts, invalid, unchanged; within an action by DN
// (case-insensitive), then by source DN.
func TestDiff_OrderingDeterministic(t *testing.T) {
	desired, invalid, target := scenario(t)
	p := Diff(desired, invalid, target, opts())
	wantActions := []Action{Create, Create, Update, Conflict, Invalid, Invalid, Unchanged}
	var got []Action
	for _, c := range p.Changes {
		got = append(got, c.Action)
	}
	if !slices.Equal(got, wantActions) {
		t.Fatalf("actions = %v, want %v", got, wantActions)
	}
	for i := 1; i < len(p.Changes); i++ {
		a, b := p.Changes[i-1], p.Changes[i]
		if a.Action != b.Action {
			continue
		}
		ka, kb := strings.ToLower(a.DN), strings.ToLower(b.DN)
		if ka > kb || (ka == kb && strings.ToLower(a.Source) > strings.ToLower(b.Source)) {
			t.Errorf("%s before %s within %s", a.DN+a.Source, b.DN+b.Source, a.Action)
		}
	}
	if !strings.HasPrefix(p.Changes[0].DN, "CN=Abel Create,") {
		t.Errorf("first create %s, want Abel before zora (case-insensitive)", p.Changes[0].DN)
	}

	// Same inputs in other orders: the same plan, the same hash.
	rev := func(s []mapper.Desired) []mapper.Desired { s = slices.Clone(s); slices.Reverse(s); return s }
	revI := func(s []mapper.Invalid) []mapper.Invalid { s = slices.Clone(s); slices.Reverse(s); return s }
	revE := func(s []*directory.Entry) []*directory.Entry { s = slices.Clone(s); slices.Reverse(s); return s }
	p2 := Diff(rev(desired), revI(invalid), revE(target), opts())
	if !reflect.DeepEqual(p2.Changes, p.Changes) {
		t.Errorf("input order changed the plan:\n got %+v\nwant %+v", p2.Changes, p.Changes)
	}
	if p.Hash() != p2.Hash() || p.Hash() != Diff(desired, invalid, target, opts()).Hash() {
		t.Error("plan hash is not reproducible")
	}
}

// Summary counts each action once; Writes counts creates and updates only.
func TestDiff_SummaryCounts(t *testing.T) {
	desired, invalid, target := scenario(t)
	p := Diff(desired, invalid, target, opts())
	var want Summary
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			want.Create++
		case Update:
			want.Update++
		case Unchanged:
			want.Unchanged++
		case Conflict:
			want.Conflict++
		case Invalid:
			want.Invalid++
		default:
			t.Errorf("unknown action %q", c.Action)
		}
	}
	if p.Summary != want {
		t.Errorf("summary = %+v, counted %+v", p.Summary, want)
	}
	if p.Summary != (Summary{Create: 2, Update: 1, Unchanged: 1, Conflict: 1, Invalid: 2}) {
		t.Errorf("summary = %+v, want the scenario's 2/1/1/1/2", p.Summary)
	}
	if p.Summary.Writes() != 3 || len(p.Writable()) != 3 {
		t.Errorf("writes = %d, writable = %d, want 3", p.Summary.Writes(), len(p.Writable()))
	}
	for _, c := range p.Writable() {
		if !c.Action.Writes() {
			t.Errorf("writable change %s", c.Action)
		}
	}
	if len(p.Changes) != len(desired)+len(invalid) {
		t.Errorf("%d changes for %d sources", len(p.Changes), len(desired)+len(invalid))
	}
}

// The plan hash covers the changes, not the timestamps or run metadata.
func TestPlan_HashCoversChangesOnly(t *testing.T) {
	desired, invalid, target := scenario(t)
	p := Diff(desired, invalid, target, opts())
	h := p.Hash()
	p.DryRun, p.Source = true, "ldaps://elsewhere"
	if p.Hash() != h {
		t.Error("hash changed with run metadata")
	}
	p.Changes[0].Attrs = p.Changes[0].Attrs[1:]
	if p.Hash() == h {
		t.Error("hash unchanged although a change differs")
	}
}

// --- names for new objects ---

// AD: sAMAccountName is unique in the domain (case-insensitively) and at most 20 characters;
// a taken name gets a numeric suffix that keeps it within 20.
func TestDiff_SAMAccountNameUnique(t *testing.T) {
	long := "abcdefghijklmnopqrst" // 20
	for _, tc := range []struct {
		name  string
		alias string
		taken []string
		want  string
	}{
		{"free", "LaraN", nil, "LaraN"},
		{"taken", "LaraN", []string{"LaraN"}, "LaraN1"},
		{"taken in another case", "LaraN", []string{"laran"}, "LaraN1"},
		{"suffixes taken too", "LaraN", []string{"laran", "LARAN1", "laran2"}, "LaraN3"},
		{"20 characters taken", long, []string{long}, "abcdefghijklmnopqrs1"},
		{"20 characters, nine suffixes taken", long, []string{long, "abcdefghijklmnopqrs1", "abcdefghijklmnopqrs2", "abcdefghijklmnopqrs3",
			"abcdefghijklmnopqrs4", "abcdefghijklmnopqrs5", "abcdefghijklmnopqrs6", "abcdefghijklmnopqrs7", "abcdefghijklmnopqrs8",
			"abcdefghijklmnopqrs9"}, "abcdefghijklmnopqr10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var target []*directory.Entry
			for i, s := range tc.taken {
				target = append(target, entry(fmt.Sprintf("CN=taken%d,%s", i, otherOU), directory.AttrSAMAccountName, s))
			}
			m := src("Lara Newton", tc.alias, "lara")
			c := only(t, Diff(mapValid(t, m), nil, target, opts()))
			a := attr(c, directory.AttrSAMAccountName)
			if c.Action != Create || a == nil || len(a.After) != 1 {
				t.Fatalf("change %s %+v", c.Action, a)
			}
			sam := a.After[0]
			if sam != tc.want {
				t.Errorf("sAMAccountName = %q, want %q", sam, tc.want)
			}
			if utf8.RuneCountInString(sam) > 20 {
				t.Errorf("sAMAccountName %q longer than 20", sam)
			}
			for _, s := range tc.taken {
				if strings.EqualFold(s, sam) {
					t.Errorf("sAMAccountName %q is taken", sam)
				}
			}
		})
	}
}

// Names chosen for two creates in the same plan do not collide either.
func TestDiff_SAMAccountNameUniqueWithinPlan(t *testing.T) {
	a := src("Same Prefix A", "averyveryverylongaliasA", "a") // both cut to the same 20 characters
	b := src("Same Prefix B", "averyveryverylongaliasB", "b")
	p := Diff(mapValid(t, a, b), nil, nil, opts())
	seen := map[string]bool{}
	for _, c := range p.Changes {
		if c.Action != Create {
			t.Fatalf("%s: %s %s", c.Source, c.Action, c.Reason)
		}
		sam := strings.ToLower(attr(c, directory.AttrSAMAccountName).After[0])
		if seen[sam] {
			t.Errorf("sAMAccountName %q planned twice", sam)
		}
		if utf8.RuneCountInString(sam) > 20 {
			t.Errorf("sAMAccountName %q longer than 20", sam)
		}
		seen[sam] = true
	}
}

// A DN is unique: when the OU already holds an object with the CN (in any case), the new object
// is named "CN=Name (alias)"; an object of the same name in another OU does not collide.
func TestDiff_CNCollisionInOU(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string
		wantCN   string
	}{
		{"free", "", "Lara Newton"},
		{"same CN in the OU", "CN=Lara Newton," + testOU, "Lara Newton (LaraN)"},
		{"same CN, other case", "cn=LARA NEWTON,ou=migrated,ou=users,dc=northwind,dc=test", "Lara Newton (LaraN)"},
		{"same CN in another OU", "CN=Lara Newton," + otherOU, "Lara Newton"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var target []*directory.Entry
			if tc.existing != "" {
				target = append(target, entry(tc.existing, directory.AttrDisplayName, "Another Lara"))
			}
			c := only(t, Diff(mapValid(t, lara()), nil, target, opts()))
			if c.Action != Create {
				t.Fatalf("action %s %s", c.Action, c.Reason)
			}
			want := "CN=" + ldap.EscapeDN(tc.wantCN) + "," + testOU
			if c.DN != want {
				t.Errorf("DN = %s, want %s", c.DN, want)
			}
			if a := attr(c, directory.AttrCN); a == nil || !slices.Equal(a.After, []string{tc.wantCN}) {
				t.Errorf("cn = %+v, want %q", a, tc.wantCN)
			}
		})
	}
}

// Two sources with the same CN in one plan get distinct DNs.
func TestDiff_CNCollisionWithinPlan(t *testing.T) {
	a := src("Lara Newton", "LaraN", "lara.newton")
	b := src("Lara Newton", "LNewton", "l.newton")
	b.DN = "CN=Lara Newton,OU=Finance,DC=contoso,DC=test"
	p := Diff(mapValid(t, a, b), nil, nil, opts())
	if p.Summary.Create != 2 {
		t.Fatalf("summary %+v, want two creates", p.Summary)
	}
	if strings.EqualFold(p.Changes[0].DN, p.Changes[1].DN) {
		t.Errorf("both creates at %s", p.Changes[0].DN)
	}
}

// The fallback name "CN=Name (alias)" must itself be free, or the create would fail on an
// existing entry.
func TestDiff_CNCollisionFallbackAlsoTaken(t *testing.T) {
	target := []*directory.Entry{
		entry("CN=Lara Newton,"+testOU, directory.AttrDisplayName, "Another Lara"),
		entry("CN=Lara Newton (LaraN),"+testOU, directory.AttrDisplayName, "A manually created object"),
	}
	c := only(t, Diff(mapValid(t, lara()), nil, target, opts()))
	if c.Action != Create {
		t.Fatalf("action %s %s", c.Action, c.Reason)
	}
	for _, e := range target {
		if strings.EqualFold(normDN(e.DN), normDN(c.DN)) {
			t.Fatalf("regression: plan/diff.go:206-210 (index.create) falls back to \"CN=Name (alias)\" without checking that DN "+
				"in turn; it is taken by %s, so the planned create of %s fails at apply with entryAlreadyExists", e.DN, c.DN)
		}
	}
}

// --- safety rail ---

// §6 safety rails: more writes than limits.max_changes is ErrUnsafePlan; conflicts, invalid
// and unchanged objects are not writes.
func TestCheck_MaxChanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sum     Summary
		max     int
		wantErr bool
	}{
		{"no writes", Summary{Unchanged: 10, Conflict: 10, Invalid: 10}, 1, false},
		{"below", Summary{Create: 1, Update: 1}, 3, false},
		{"at the limit", Summary{Create: 2, Update: 1}, 3, false},
		{"one over, creates", Summary{Create: 4}, 3, true},
		{"one over, updates", Summary{Update: 4}, 3, true},
		{"one over, mixed", Summary{Create: 2, Update: 2, Conflict: 50}, 3, true},
		{"no limit set", Summary{Create: 1000}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{Summary: tc.sum}
			err := p.Check(Limits{MaxChanges: tc.max})
			if tc.wantErr != (err != nil) {
				t.Fatalf("Check = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, directory.ErrUnsafePlan) {
					t.Errorf("error %v is not ErrUnsafePlan", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprint(tc.sum.Writes())) || !strings.Contains(err.Error(), fmt.Sprint(tc.max)) {
					t.Errorf("error %q does not give the count %d and the limit %d", err, tc.sum.Writes(), tc.max)
				}
			}
		})
	}
}

// The rail applies to a real plan: three creates against a limit of two.
func TestCheck_OnDiffedPlan(t *testing.T) {
	p := Diff(mapValid(t, src("A", "a1", "a"), src("B", "b1", "b"), src("C", "c1", "c")), nil, nil, opts())
	if err := p.Check(Limits{MaxChanges: 2}); !errors.Is(err, directory.ErrUnsafePlan) {
		t.Errorf("Check = %v, want ErrUnsafePlan", err)
	}
	if err := p.Check(Limits{MaxChanges: 3}); err != nil {
		t.Errorf("Check at the limit = %v", err)
	}
}

// Diff is pure: it does not modify the desired objects or the target entries.
func TestDiff_DoesNotModifyInputs(t *testing.T) {
	desired, invalid, target := scenario(t)
	snapD := fmt.Sprintf("%+v", desired)
	var snapT []string
	for _, e := range target {
		snapT = append(snapT, fmt.Sprintf("%s %v", e.DN, e.Attrs))
	}
	p := Diff(desired, invalid, target, opts())
	for _, c := range p.Changes {
		for _, a := range c.Attrs {
			for i := range a.After {
				a.After[i] = "x"
			}
			for i := range a.Before {
				a.Before[i] = "x"
			}
		}
	}
	if fmt.Sprintf("%+v", desired) != snapD {
		t.Error("Diff (or editing its result) modified the desired objects")
	}
	for i, e := range target {
		if got := fmt.Sprintf("%s %v", e.DN, e.Attrs); got != snapT[i] {
			t.Errorf("target entry modified:\n got %s\nwant %s", got, snapT[i])
		}
	}
}
