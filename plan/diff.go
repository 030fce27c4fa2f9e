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
	Anchor     string // attribute matched against the desired value when no GUID matches
	OwnerAttr  string
	OwnerValue string
}

// createOnly attributes are set when an object is created and never diffed afterwards.
var createOnly = []string{directory.AttrObjectClass, directory.AttrCN, directory.AttrSAMAccountName}

// Build maps every source and diffs it against target in one pass, keeping only the resulting
// changes (not every desired object) in memory. target holds the objects read from the whole
// target search base, so that addresses, names and GUIDs in use anywhere are seen.
func Build(src []directory.Mailbox, rules mapper.Rules, target []*directory.Entry, opt Options) *Plan {
	x := newIndex(target, opt)
	b := newBuilder(x, opt, len(src))
	mapper.Each(src, rules, func(d *mapper.Desired, inv *mapper.Invalid) {
		if inv != nil {
			b.invalid(inv)
		} else {
			b.desired(d)
		}
	})
	return b.finish()
}

// Diff classifies already-mapped sources; Build is the same in one pass.
func Diff(desired []mapper.Desired, invalid []mapper.Invalid, target []*directory.Entry, opt Options) *Plan {
	b := newBuilder(newIndex(target, opt), opt, len(desired)+len(invalid))
	for i := range desired {
		b.desired(&desired[i])
	}
	for i := range invalid {
		b.invalid(&invalid[i])
	}
	return b.finish()
}

type builder struct {
	x   *index
	opt Options
	p   *Plan
	// claims records, per desired proxy key, the first change that claims it; a second
	// claimant turns both into conflicts when the plan is finished.
	claims  map[string]int
	twice   map[string]string // key -> the value, for keys claimed twice
	claimOf [][]string        // change index -> its claimed keys (only for writes and unchanged)
}

func newBuilder(x *index, opt Options, n int) *builder {
	return &builder{x: x, opt: opt, p: &Plan{FormatVersion: FormatVersion, Kind: "sync", Target: opt.OU, Changes: make([]Change, 0, n)},
		claims: make(map[string]int, 4*n), twice: map[string]string{}, claimOf: make([][]string, 0, n)}
}

func (b *builder) invalid(inv *mapper.Invalid) {
	c := Change{Action: Invalid, Source: inv.Source.DN, Reason: inv.Problem.Code, Problems: []mapper.Problem{inv.Problem}}
	if g, err := directory.GUIDFromAD(inv.Source.MailboxGUID); err == nil && !g.IsZero() {
		c.Key = g.String()
	}
	b.p.Changes = append(b.p.Changes, c)
	b.claimOf = append(b.claimOf, nil)
}

func (b *builder) desired(d *mapper.Desired) {
	i := len(b.p.Changes)
	c := b.x.classify(d, b.opt)
	var keys []string
	if c.Action != Conflict {
		for _, v := range d.Attrs[directory.AttrProxyAddresses] {
			k := directory.Proxy(v).Key()
			if first, ok := b.claims[k]; ok && first != i {
				b.twice[k] = v
			} else {
				b.claims[k] = i
			}
			keys = append(keys, k)
		}
	}
	b.p.Changes = append(b.p.Changes, c)
	b.claimOf = append(b.claimOf, keys)
}

func (b *builder) finish() *Plan {
	p := b.p
	if len(b.twice) > 0 {
		for i, keys := range b.claimOf {
			for _, k := range keys {
				v, dup := b.twice[k]
				if !dup {
					continue
				}
				c := &p.Changes[i]
				obj := c.Source
				if c.DN != "" && c.Action != Create {
					obj = c.DN
				}
				if c.Action == Create {
					c.DN = ""
				}
				c.Action, c.Reason, c.Attrs = Conflict, "address_claimed_twice", nil
				c.Problems = []mapper.Problem{{Code: c.Reason, Object: obj, Attribute: directory.AttrProxyAddresses, Found: v,
					Fix: "two source mailboxes map to this target address; give one of them another primary address or alias"}}
				break
			}
		}
	}
	sortChanges(p.Changes)
	for _, c := range p.Changes {
		p.Summary.add(c.Action)
	}
	return p
}

// sortChanges orders changes by action (create, update, conflict, invalid, unchanged), then
// target DN, then source DN, case-insensitively.
func sortChanges(cs []Change) {
	type key struct {
		rank       int
		dn, source string
	}
	keys := make([]key, len(cs))
	idx := make([]int, len(cs))
	for i, c := range cs {
		keys[i] = key{actionRank[c.Action], strings.ToLower(c.DN), strings.ToLower(c.Source)}
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ka, kb := &keys[a], &keys[b]
		if r := ka.rank - kb.rank; r != 0 {
			return r
		}
		if r := strings.Compare(ka.dn, kb.dn); r != 0 {
			return r
		}
		return strings.Compare(ka.source, kb.source)
	})
	sorted := make([]Change, len(cs))
	for i, j := range idx {
		sorted[i] = cs[j]
	}
	copy(cs, sorted)
}

// anchorValues returns the desired values of the anchor attribute (name matched case-insensitively).
func anchorValues(d *mapper.Desired, anchor string) []string {
	if v, ok := d.Attrs[anchor]; ok {
		return v
	}
	for k, v := range d.Attrs {
		if strings.EqualFold(k, anchor) {
			return v
		}
	}
	return nil
}

func (x *index) classify(d *mapper.Desired, opt Options) Change {
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
		for _, v := range anchorValues(d, opt.Anchor) {
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
		typ := intOf(match, directory.AttrRecipientTypeDetails)
		switch {
		case !x.inOU[match]:
			found := match.DN
			if vs := anchorValues(d, opt.Anchor); len(vs) > 0 && x.byGUID[d.Key] == nil {
				found = opt.Anchor + "=" + vs[0]
			}
			return conflict("outside_target_ou", match, opt.Anchor, found,
				"the matching target object is outside target.ou; move it into the OU, or give it another "+opt.Anchor+" if it is a different person")
		case directory.IsOnPremMailbox(typ):
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
		if directory.IsRemoteMailbox(typ) {
			// The move completed and cutover made it a remote mailbox: sync must not turn it
			// back into a MailUser pointing at the source.
			c.DN, c.Action, c.Reason = match.DN, Unchanged, "migrated"
			if !match.ObjectGUID.IsZero() {
				c.ObjectGUID = match.ObjectGUID.String()
			}
			return c
		}
	}

	// Addresses and UPN in use by another object.
	for _, v := range d.Attrs[directory.AttrProxyAddresses] {
		if h := other(x.proxies[directory.Proxy(v).Key()], match); h != nil {
			return conflict("address_in_use", h, directory.AttrProxyAddresses, v,
				"another target object already holds this address; remove it there, or change the mapping")
		}
	}
	if u := d.Attrs[directory.AttrUPN]; len(u) == 1 {
		if h := other(x.upns[strings.ToLower(u[0])], match); h != nil {
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
	key := strings.ToLower(normDN(dn))
	for n := 1; x.dns[key]; n++ {
		if n == 1 {
			cn = fmt.Sprintf("%s (%s)", d.CN, d.Source.Alias)
		} else {
			cn = fmt.Sprintf("%s (%s %d)", d.CN, d.Source.Alias, n)
		}
		dn = "CN=" + ldap.EscapeDN(cn) + "," + x.opt.OU
		key = strings.ToLower(normDN(dn))
	}
	x.dns[key] = true
	sam := x.uniqueSAM(d.SAMBase)
	c.Action, c.DN = Create, dn
	c.Attrs = make([]AttrChange, 0, len(d.Attrs)+3)
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
		if slices.Contains(createOnly, name) {
			continue
		}
		cur := have.Get(name)
		if name == directory.AttrProxyAddresses {
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
	wantByKey := make(map[string]directory.Proxy, len(want))
	for _, w := range want {
		wantByKey[directory.Proxy(w).Key()] = directory.Proxy(w)
	}
	haveByKey := make(map[string]bool, len(have))
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
	binary := directory.KindOf(name) == directory.KindBinary
	for i := range want {
		if binary && want[i] != have[i] || !binary && !strings.EqualFold(want[i], have[i]) {
			return false
		}
	}
	return true
}

func sortAttrs(a []AttrChange) {
	slices.SortFunc(a, func(x, y AttrChange) int { return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)) })
}
