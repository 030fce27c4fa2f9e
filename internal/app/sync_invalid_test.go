package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// Issue 14, finding 5: invalid source data was written to the target. Hostile values are seeded
// on the real source forest in a test OU of their own and synced into the real target through
// the normal path; each is refused (the source is invalid, with object, attribute, value and
// fix) or filtered (that proxy alone is left out, with a warning), and nothing malformed reaches
// the target. The source Samba enforces the same rangeUpper as the target (sn 64, mailNickname
// 64), so the over-long values cannot be stored there: they are put into the mailboxes as the
// source reader hands them over, which is where a source with a looser schema would bring them.

// hostileSource seeds n synthetic mailboxes after edit has changed their add requests, and
// returns the world wired to them.
func hostileSource(t *testing.T, n int, edit func(o synth.Options, reqs []*ldap.AddRequest)) (*world, synth.Options) {
	t.Helper()
	src := ldaptest.Open(t, "source")
	tgt := ldaptest.Open(t, "target")
	o := synth.Options{N: n, OU: src.TempOU(t, "xtm-src"), Tag: randomTag(t)}
	reqs := synth.Requests(o)
	edit(o, reqs)
	if err := synth.Load(src.Conn, reqs); err != nil {
		t.Fatal(err)
	}
	return newWorld(t, o.GroupDN(), tgt.TempOU(t, "xtm-tgt")), o
}

// randomTag keeps this run's names and GUIDs apart from every other test's.
func randomTag(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// setAttr replaces (or adds) one attribute of an add request.
func setAttr(r *ldap.AddRequest, name string, vals ...string) {
	for i := range r.Attributes {
		if strings.EqualFold(r.Attributes[i].Type, name) {
			r.Attributes[i].Vals = vals
			return
		}
	}
	r.Attribute(name, vals)
}

func attrOf(r *ldap.AddRequest, name string) []string {
	for _, a := range r.Attributes {
		if strings.EqualFold(a.Type, name) {
			return a.Vals
		}
	}
	return nil
}

// doctored hands over the real source reader's mailboxes, changed by fix (by lower-case DN).
type doctored struct {
	r interface {
		engine.Source
		engine.MailboxStreamer
	}
	fix map[string]func(*directory.Mailbox)
}

func (d doctored) Scope(ctx context.Context) (*directory.Scope, error) {
	s, err := d.r.Scope(ctx)
	if err == nil {
		for i := range s.Mailboxes {
			if f := d.fix[strings.ToLower(s.Mailboxes[i].DN)]; f != nil {
				f(&s.Mailboxes[i])
			}
		}
	}
	return s, err
}

func (d doctored) EachMailbox(ctx context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	return d.r.EachMailbox(ctx, func(m *directory.Mailbox) error {
		if f := d.fix[strings.ToLower(m.DN)]; f != nil {
			f(m)
		}
		return fn(m)
	})
}

func TestSync_InvalidSourceData_RefusedOrLeftOut(t *testing.T) {
	const (
		control   = iota // valid, carrying the malformed secondary proxies
		noLocal          // primary SMTP:@contoso.com
		badAlias         // mailNickname "bad alias@x"
		longSn           // sn of 1,000 characters (injected)
		longAlias        // mailNickname of 80 characters (injected)
		badLegacy        // legacyExchangeDN "/o=Bad,cn="
		badUPN           // alias Exchange accepts, UPN prefix Entra ID refuses
		n
	)
	leftOut := []string{"x500:", "x500:garbage with spaces", "x500:/o=Bad,cn=", "x400:c=;a=;"}
	const goodX400 = "x400:c=US;a= ;p=Contoso;o=Exchange;s=Control"
	w, o := hostileSource(t, n, func(o synth.Options, reqs []*ldap.AddRequest) {
		setAttr(reqs[control], "proxyAddresses", append(append(attrOf(reqs[control], "proxyAddresses"), leftOut...), goodX400)...)
		px := attrOf(reqs[noLocal], "proxyAddresses")
		px[0] = "SMTP:@contoso.com"
		setAttr(reqs[noLocal], "mail", "@contoso.com")
		setAttr(reqs[badAlias], "mailNickname", "bad alias@x")
		setAttr(reqs[badLegacy], "legacyExchangeDN", "/o=Bad,cn=")
		setAttr(reqs[badUPN], "mailNickname", "upn+"+o.Alias(badUPN))
	})
	longSnValue, longAliasValue := strings.Repeat("s", 1000), strings.Repeat("n", 80)
	r := w.rig(t)
	r.Engine.Source = doctored{r: r.Source, fix: map[string]func(*directory.Mailbox){
		strings.ToLower(o.UserDN(longSn)):    func(m *directory.Mailbox) { m.Surname = longSnValue },
		strings.ToLower(o.UserDN(longAlias)): func(m *directory.Mailbox) { m.Alias = longAliasValue },
	}}
	p, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	want := map[int]struct{ reason, attr, found string }{
		noLocal:   {"bad_primary_smtp", directory.AttrProxyAddresses, "SMTP:@contoso.com"},
		badAlias:  {"bad_alias", directory.AttrMailNickname, "bad alias@x"},
		longSn:    {"value_too_long", directory.AttrSurname, "1000 characters"},
		longAlias: {"value_too_long", directory.AttrMailNickname, "80 characters"},
		badLegacy: {"bad_legacy_dn", directory.AttrLegacyExchangeDN, "/o=Bad,cn="},
		badUPN:    {"bad_upn_prefix", directory.AttrUPN, "upn+" + o.Alias(badUPN) + "@northwind.com"},
	}
	var text bytes.Buffer
	if err := plan.WriteText(&text, p, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, wt := range want {
		c := changeFor(p, o.Alias(i))
		if c == nil || c.Action != plan.Invalid || c.Reason != wt.reason || len(c.Problems) == 0 {
			t.Errorf("%s: %+v, want invalid %s", o.UserDN(i), c, wt.reason)
			continue
		}
		pr := c.Problems[0]
		if pr.Object != o.UserDN(i) || pr.Attribute != wt.attr || !strings.Contains(pr.Found, wt.found) || pr.Fix == "" {
			t.Errorf("%s: problem %+v, want object, attribute %s, value %q and a fix", o.UserDN(i), pr, wt.attr, wt.found)
		}
		if !strings.Contains(text.String(), pr.Code+": "+pr.Object+" "+pr.Attribute) {
			t.Errorf("%s: the text plan does not name the object and attribute", o.UserDN(i))
		}
	}
	c := changeFor(p, o.Alias(control))
	if c == nil || c.Action != plan.Create {
		t.Fatalf("control: %+v, want a create", c)
	}
	var warned []string
	for _, wn := range p.Warnings {
		if wn.Code == "proxy_left_out" {
			if wn.Object != o.UserDN(control) || wn.Attribute != directory.AttrProxyAddresses || wn.Fix == "" ||
				!strings.Contains(text.String(), wn.Object+": "+wn.Attribute) {
				t.Errorf("warning %+v does not name the object, attribute and fix (or is not in the text plan)", wn)
			}
			warned = append(warned, wn.Found)
		}
	}
	for _, v := range leftOut {
		if !slices.ContainsFunc(warned, func(f string) bool { return strings.HasPrefix(f, `"`+v+`":`) }) {
			t.Errorf("no warning names %q: %q", v, warned)
		}
	}
	if len(warned) != len(leftOut) {
		t.Errorf("%d left-out warnings, want %d: %q", len(warned), len(leftOut), warned)
	}

	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p, engine.Options{})
	if err != nil || res.Applied != 1 || res.Failed != 0 {
		t.Fatalf("apply: %+v, %v; want the control object alone written", res, err)
	}

	// Nothing malformed reached the target: only the control object is there, without the
	// left-out values, and every value it holds passes the rules.
	got, err := w.tgt.Conn.Search(ldap.NewSearchRequest(w.cfg.Target.OU, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"*"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 {
		t.Fatalf("the target OU holds %d objects, want the control object alone", len(got.Entries))
	}
	e := got.Entries[0]
	for _, v := range e.GetAttributeValues(directory.AttrProxyAddresses) {
		p := directory.Proxy(v)
		var why string
		switch p.Type() {
		case "smtp":
			why = mapper.SMTPAddressRule(p.Address())
		case "x500":
			why = mapper.X500Rule(p.Address())
		case "x400":
			why = mapper.X400Rule(p.Address())
		}
		if why != "" || slices.Contains(leftOut, v) {
			t.Errorf("malformed proxy %q on the target: %s", v, why)
		}
	}
	if !hasProxy(proxies(e), goodX400) {
		t.Errorf("the valid x400 %q was not copied", goodX400)
	}
	if why := mapper.AliasRule(e.GetAttributeValue(directory.AttrMailNickname)); why != "" {
		t.Errorf("mailNickname %q: %s", e.GetAttributeValue(directory.AttrMailNickname), why)
	}
	upn := e.GetAttributeValue(directory.AttrUPN)
	if why := mapper.UPNPrefixRule(directory.LocalPart(upn)); why != "" || strings.Count(upn, "@") != 1 {
		t.Errorf("userPrincipalName %q: %s", upn, why)
	}
	if why := mapper.SMTPAddressRule(e.GetAttributeValue(directory.AttrMail)); why != "" {
		t.Errorf("mail %q: %s", e.GetAttributeValue(directory.AttrMail), why)
	}

	// The next run plans nothing for them: no write is refused and planned again.
	p2, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p2.Summary.Writes() != 0 || p2.Summary.Invalid != len(want) || p2.Summary.Unchanged != 1 {
		t.Errorf("second plan %+v, want %d invalid, 1 unchanged and no writes", p2.Summary, len(want))
	}

	// A malformed x500 an earlier version copied onto the object is deleted by the next sync.
	modify(t, w.tgt, e.DN, func(m *ldap.ModifyRequest) { m.Add(directory.AttrProxyAddresses, []string{"x500:/o=Bad,cn="}) })
	p3, err := r.Engine.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync", Actor: "test"}, p3, engine.Options{}); err != nil || res.Applied != 1 {
		t.Errorf("cleanup sync: %+v, %v", res, err)
	}
	if hasProxy(proxies(read(t, w.tgt, e.DN)), "x500:/o=Bad,cn=") {
		t.Error("the malformed x500 written by hand is still on the target")
	}

	// validate says the same: the control mailbox is prepared but its malformed addresses are
	// left out (not "missing x500s" that a sync would add); the invalid ones are blocked with
	// the attribute at fault. (validate reads the source itself: the injected values are not
	// there.)
	rep, err := w.rig(t).Validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rep.Mailboxes {
		var checks []string
		for _, f := range res.Findings {
			checks = append(checks, f.Check+"/"+f.Attribute)
		}
		switch res.Source {
		case o.UserDN(control):
			if !slices.Equal(checks, slices.Repeat([]string{readiness.SourceProxyLeftOut + "/proxyAddresses"}, len(leftOut))) {
				t.Errorf("validate, control: %v, want %d %s findings alone", checks, len(leftOut), readiness.SourceProxyLeftOut)
			}
		case o.UserDN(noLocal), o.UserDN(badAlias), o.UserDN(badLegacy), o.UserDN(badUPN):
			if res.Verdict != readiness.Blocked || len(checks) == 0 || !strings.HasPrefix(checks[0], readiness.SourceInvalid+"/") {
				t.Errorf("validate, %s: %s %v, want blocked by %s", res.Source, res.Verdict, checks, readiness.SourceInvalid)
			}
		}
	}
}

// Issue 14: a cn containing "=" produced a DN the DC rejected ("invalid dn '(null)'"). New
// objects whose cn holds every RFC 4514 special are created on Samba through the normal sync
// path, read back under the planned DN with the cn intact, updated by a later sync, and found
// unchanged by the plan after that. One cn is taken in the target already, so its alternative
// "cn (alias)" is escaped too.
func TestSync_CNWithEveryDNSpecialCharacter_CreatedOnSamba(t *testing.T) {
	cns := []string{
		"a=b",
		`All ,+"\<>;= specials`,
		" leading space",
		"trailing space ",
		"#leading hash",
		"#",
		"=",
		`\`,
		"Zoë, Émile = ünïcode",
		"#x, \"y\"; <z> + w = v \\ ",
	}
	w, o := hostileSource(t, len(cns), func(o synth.Options, reqs []*ldap.AddRequest) {
		members := map[string]string{}
		for i, cn := range cns {
			dn := "CN=" + directory.EscapeRDNValue(cn) + "," + o.OU
			members[strings.ToLower(reqs[i].DN)] = dn
			reqs[i].DN = dn
		}
		grp := reqs[len(reqs)-1]
		m := attrOf(grp, "member")
		for i := range m {
			m[i] = members[strings.ToLower(m[i])]
		}
	})
	// "a=b" is taken in the target OU by an object xtmsyncd does not own.
	taken := "CN=" + directory.EscapeRDNValue(cns[0]) + "," + w.cfg.Target.OU
	add := ldap.NewAddRequest(taken, nil)
	add.Attribute("objectClass", []string{"contact"})
	if err := w.tgt.Conn.Add(add); err != nil {
		t.Fatalf("add %s: %v", taken, err)
	}

	p, res := w.sync(t)
	if res.Applied != len(cns) || res.Failed != 0 || p.Summary.Create != len(cns) {
		t.Fatalf("sync: %+v, plan %+v: want %d creates applied", res, p.Summary, len(cns))
	}
	for i, cn := range cns {
		var ch *plan.Change
		for j := range p.Changes {
			if p.Changes[j].Key == o.GUID("mbx", i).String() {
				ch = &p.Changes[j]
			}
		}
		if ch == nil {
			t.Errorf("%q: not in the plan", cn)
			continue
		}
		wantCN := cn
		if i == 0 {
			wantCN = cn + " (" + o.Alias(0) + ")"
		}
		e := read(t, w.tgt, ch.DN) // a base search on the planned DN: Samba parsed it as meant
		if got := e.GetAttributeValue(directory.AttrCN); got != wantCN {
			t.Errorf("%q: cn read back %q, want %q", cn, got, wantCN)
		}
		pd, err1 := ldap.ParseDN(ch.DN)
		rd, err2 := ldap.ParseDN(e.DN)
		if err1 != nil || err2 != nil || !pd.EqualFold(rd) {
			t.Errorf("%q: planned DN %q, Samba's %q (%v, %v)", cn, ch.DN, e.DN, err1, err2)
		}
		if g, err := directory.GUIDFromAD(e.GetRawAttributeValue(directory.AttrMailboxGUID)); err != nil || g != o.GUID("mbx", i) {
			t.Errorf("%q: ExchangeGUID %v (%v)", cn, g, err)
		}
	}

	// An update reaches the objects at their escaped DNs, and the plan after it is empty.
	for i := range cns {
		var srcDN string
		for _, c := range p.Changes {
			if c.Key == o.GUID("mbx", i).String() {
				srcDN = c.Source
			}
		}
		modify(t, w.src, srcDN, func(r *ldap.ModifyRequest) { r.Replace("displayName", []string{"Renamed " + o.Alias(i)}) })
	}
	p2, res2 := w.sync(t)
	if p2.Summary.Update != len(cns) || res2.Applied != len(cns) || res2.Failed != 0 {
		t.Errorf("update sync: plan %+v, result %+v; want %d updates applied", p2.Summary, res2, len(cns))
	}
	_, p3 := w.plan(t)
	if p3.Summary.Writes() != 0 || p3.Summary.Unchanged != len(cns) {
		t.Errorf("plan after the update %+v, want every object unchanged", p3.Summary)
	}
}
