package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// Options tell Diff where xtmsyncd may write and how it recognises its own objects.
type Options struct {
	OU         string // target OU
	Anchor     string // target attribute matched against the desired value when no GUID matches
	OwnerAttr  string
	OwnerValue string
}

// createOnly attributes are set when an object is created and never diffed afterwards.
var createOnly = []string{directory.AttrObjectClass, directory.AttrCN, directory.AttrSAMAccountName}

// Diff classifies every source and computes the attribute changes. target holds the objects
// read from the target forest (the whole search base, so that addresses and names in use
// anywhere are seen). The result is deterministic.
func Diff(desired []mapper.Desired, invalid []mapper.Invalid, target []*directory.Entry, opt Options) *Plan {
	x := newIndex(target, opt)
	p := &Plan{FormatVersion: FormatVersion, Kind: "sync", Target: opt.OU}

	// Addresses two sources would both claim: neither gets them.
	claims := map[string][]int{}
	for i := range desired {
		for _, v := range desired[i].Attrs[directory.AttrProxyAddresses] {
			k := directory.Proxy(v).Key()
			claims[k] = append(claims[k], i)
		}
	}
	for i := range desired {
		p.Changes = append(p.Changes, x.classify(&desired[i], i, claims, opt))
	}
	for _, inv := range invalid {
		c := Change{Action: Invalid, Source: inv.Source.DN, Reason: inv.Problem.Code, Problems: []mapper.Problem{inv.Problem}}
		if g, err := directory.GUIDFromAD(inv.Source.MailboxGUID); err == nil && !g.IsZero() {
			c.Key = g.String()
		}
		p.Changes = append(p.Changes, c)
	}
	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		if r := actionRank[a.Action] - actionRank[b.Action]; r != 0 {
			return r
		}
		if r := strings.Compare(strings.ToLower(a.DN), strings.ToLower(b.DN)); r != 0 {
			return r
		}
		return strings.Compare(strings.ToLower(a.Source), strings.ToLower(b.Source))
	})
	for _, c := range p.Changes {
		p.Summary.add(c.Action)
	}
	return p
}

type index struct {
	ou       *ldap.DN
	byGUID   map[directory.GUID][]*directory.Entry
	byAnchor map[string][]*directory.Entry
	proxies  map[string]*directory.Entry // proxy key -> holder
	upns     map[string]*directory.Entry
	sams     map[string]bool
	dns      map[string]bool
	opt      Options
}

func newIndex(target []*directory.Entry, opt Options) *index {
	x := &index{
		byGUID: map[directory.GUID][]*directory.Entry{}, byAnchor: map[string][]*directory.Entry{},
		proxies: map[string]*directory.Entry{}, upns: map[string]*directory.Entry{},
		sams: map[string]bool{}, dns: map[string]bool{}, opt: opt,
	}
	x.ou, _ = ldap.ParseDN(opt.OU)
	for _, e := range target {
		if g, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil {
			x.byGUID[g] = append(x.byGUID[g], e)
		}
		if opt.Anchor != "" {
			for _, v := range e.Get(opt.Anchor) {
				k := strings.ToLower(v)
				x.byAnchor[k] = append(x.byAnchor[k], e)
			}
		}
		for _, v := range e.Get(directory.AttrProxyAddresses) {
			x.proxies[directory.Proxy(v).Key()] = e
		}
		if u := e.First(directory.AttrUPN); u != "" {
			x.upns[strings.ToLower(u)] = e
		}
		if s := e.First(directory.AttrSAMAccountName); s != "" {
			x.sams[strings.ToLower(s)] = true
		}
		x.dns[strings.ToLower(normDN(e.DN))] = true
	}
	return x
}

// InOU reports whether dn lies under the OU (case-insensitive, RDN-aware).
func InOU(ou *ldap.DN, dn string) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && ou != nil && ou.AncestorOfFold(d)
}

func (x *index) owned(e *directory.Entry) bool {
	return strings.EqualFold(e.First(x.opt.OwnerAttr), x.opt.OwnerValue)
}

func (x *index) classify(d *mapper.Desired, i int, claims map[string][]int, opt Options) Change {
	c := Change{Key: d.Key.String(), Source: d.Source.DN}
	conflict := func(reason string, e *directory.Entry, attr, found, fix string) Change {
		c.Action, c.Reason = Conflict, reason
		obj := c.Source
		if e != nil {
			c.DN, obj = e.DN, e.DN
			if !e.ObjectGUID.IsZero() {
				c.ObjectGUID = e.ObjectGUID.String()
			}
		}
		c.Problems = []mapper.Problem{{Code: reason, Object: obj, Attribute: attr, Found: found, Fix: fix}}
		return c
	}

	// Match: ExchangeGUID first, then the anchor.
	var match *directory.Entry
	if ms := x.byGUID[d.Key]; len(ms) > 1 {
		return conflict("ambiguous_match", ms[0], directory.AttrMailboxGUID, dnList(ms),
			"several target objects hold this ExchangeGUID; keep one and clear msExchMailboxGuid on the others")
	} else if len(ms) == 1 {
		match = ms[0]
	} else if opt.Anchor != "" {
		for _, v := range d.Attrs[opt.Anchor] {
			ms := x.byAnchor[strings.ToLower(v)]
			if len(ms) > 1 {
				return conflict("ambiguous_match", ms[0], opt.Anchor, dnList(ms),
					fmt.Sprintf("several target objects have %s=%s; make it unique or stamp the right one's msExchMailboxGuid", opt.Anchor, v))
			}
			if len(ms) == 1 {
				match = ms[0]
			}
		}
	}

	if match != nil {
		switch {
		case !InOU(x.ou, match.DN):
			return conflict("outside_target_ou", match, opt.Anchor, match.DN,
				"the matching target object is outside target.ou; move it into the OU, or give it another "+opt.Anchor+" if it is a different person")
		case directory.IsOnPremMailbox(intOf(match, directory.AttrRecipientTypeDetails)):
			return conflict("onprem_mailbox", match, directory.AttrRecipientTypeDetails, match.First(directory.AttrRecipientTypeDetails),
				"the target object is an on-premises mailbox; a MailUser cannot be prepared over it. Move or remove that mailbox first, or exclude the source from scope")
		case !x.owned(match):
			return conflict("not_owned", match, opt.OwnerAttr, fmt.Sprintf("%q", match.First(opt.OwnerAttr)),
				fmt.Sprintf("xtmsyncd changes only objects it owns; if this object is the prepared MailUser, set %s=%s on it, else resolve the clash", opt.OwnerAttr, opt.OwnerValue))
		}
		if g := match.First(directory.AttrMailboxGUID); g != "" && !strings.EqualFold(g, d.Key.String()) {
			return conflict("guid_mismatch", match, directory.AttrMailboxGUID, g,
				"the target holds a different ExchangeGUID; clear it on the target only if that object is not a mailbox anywhere (Get-User -Identity ... | select *recipient*)")
		}
	}

	// Addresses in use elsewhere, or claimed by two sources.
	for _, v := range d.Attrs[directory.AttrProxyAddresses] {
		k := directory.Proxy(v).Key()
		if len(claims[k]) > 1 {
			return conflict("address_claimed_twice", match, directory.AttrProxyAddresses, v,
				"two source mailboxes map to this target address; give one of them another primary address or alias")
		}
		if h := x.proxies[k]; h != nil && h != match {
			return conflict("address_in_use", h, directory.AttrProxyAddresses, v,
				"another target object already holds this address; remove it there, or change the mapping")
		}
	}
	if u := d.Attrs[directory.AttrUPN]; len(u) == 1 {
		if h := x.upns[strings.ToLower(u[0])]; h != nil && h != match {
			return conflict("upn_in_use", h, directory.AttrUPN, u[0], "another target object already has this userPrincipalName")
		}
	}

	if match == nil {
		return x.create(d, c)
	}
	c.DN = match.DN
	if !match.ObjectGUID.IsZero() {
		c.ObjectGUID = match.ObjectGUID.String()
	}
	c.Attrs = diffAttrs(d.Attrs, match)
	if len(c.Attrs) == 0 {
		c.Action = Unchanged
	} else {
		c.Action = Update
	}
	return c
}

func (x *index) create(d *mapper.Desired, c Change) Change {
	cn := d.CN
	dn := "CN=" + ldap.EscapeDN(cn) + "," + x.opt.OU
	if x.dns[strings.ToLower(normDN(dn))] {
		cn = fmt.Sprintf("%s (%s)", d.CN, d.Source.Alias)
		dn = "CN=" + ldap.EscapeDN(cn) + "," + x.opt.OU
	}
	x.dns[strings.ToLower(normDN(dn))] = true
	sam := x.uniqueSAM(d.SAMBase)
	c.Action, c.DN = Create, dn
	c.Attrs = append(c.Attrs,
		AttrChange{Name: directory.AttrObjectClass, After: []string{"user"}},
		AttrChange{Name: directory.AttrCN, After: []string{cn}},
		AttrChange{Name: directory.AttrSAMAccountName, After: []string{sam}},
	)
	for name, vals := range d.Attrs {
		if len(vals) > 0 {
			c.Attrs = append(c.Attrs, AttrChange{Name: name, After: slices.Clone(vals)})
		}
	}
	sortAttrs(c.Attrs)
	return c
}

// uniqueSAM returns base, or base with a number replacing its tail, unused in the target forest
// and in this plan, at most 20 characters.
func (x *index) uniqueSAM(base string) string {
	cand := base
	for n := 1; x.sams[strings.ToLower(cand)]; n++ {
		suf := strconv.Itoa(n)
		r := []rune(base)
		if len(r)+len(suf) > 20 {
			r = r[:20-len(suf)]
		}
		cand = string(r) + suf
	}
	x.sams[strings.ToLower(cand)] = true
	return cand
}

func diffAttrs(want map[string][]string, have *directory.Entry) []AttrChange {
	var out []AttrChange
	for name, vals := range want {
		if slices.ContainsFunc(createOnly, func(s string) bool { return strings.EqualFold(s, name) }) {
			continue
		}
		cur := have.Get(name)
		if strings.EqualFold(name, directory.AttrProxyAddresses) {
			if ch, ok := diffProxies(vals, cur); ok {
				out = append(out, ch)
			}
			continue
		}
		if sameValues(name, vals, cur) {
			continue
		}
		out = append(out, AttrChange{Name: name, Before: slices.Clone(cur), After: slices.Clone(vals)})
	}
	sortAttrs(out)
	return out
}

// diffProxies applies the ownership policy for proxyAddresses: xtmsyncd owns every SMTP value
// (exactly the desired set, primary-ness included), adds x500 and x400 values it wants but
// never deletes one (Azure AD Connect writes the target cloud's x500 back), and leaves every
// other type alone. Values compare case-insensitively, as AD does.
func diffProxies(want, have []string) (AttrChange, bool) {
	wantByKey := map[string]directory.Proxy{}
	for _, w := range want {
		wantByKey[directory.Proxy(w).Key()] = directory.Proxy(w)
	}
	haveByKey := map[string]bool{}
	ch := AttrChange{Name: directory.AttrProxyAddresses}
	for _, h := range have {
		hp := directory.Proxy(h)
		haveByKey[hp.Key()] = true
		if !hp.IsSMTP() {
			continue
		}
		w, ok := wantByKey[hp.Key()]
		if !ok || w.IsPrimary() != hp.IsPrimary() {
			ch.Delete = append(ch.Delete, h)
			delete(haveByKey, hp.Key())
		}
	}
	for _, w := range want {
		if !haveByKey[directory.Proxy(w).Key()] {
			ch.Add = append(ch.Add, w)
		}
	}
	if len(ch.Add) == 0 && len(ch.Delete) == 0 {
		return ch, false
	}
	ch.Before = slices.Clone(have)
	slices.Sort(ch.Add)
	slices.Sort(ch.Delete)
	return ch, true
}

func sameValues(name string, want, have []string) bool {
	if len(want) != len(have) {
		return false
	}
	for i := range want {
		switch directory.KindOf(name) {
		case directory.KindBinary:
			if want[i] != have[i] {
				return false
			}
		default: // GUID strings are canonical lower case; AD strings compare case-insensitively
			if !strings.EqualFold(want[i], have[i]) {
				return false
			}
		}
	}
	return true
}

func sortAttrs(a []AttrChange) {
	slices.SortFunc(a, func(x, y AttrChange) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
}

func intOf(e *directory.Entry, attr string) int64 {
	v, _ := strconv.ParseInt(e.First(attr), 10, 64)
	return v
}

func dnList(es []*directory.Entry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.DN
	}
	slices.Sort(s)
	return strings.Join(s, "; ")
}

func normDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	return d.String()
}
