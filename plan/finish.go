package plan

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// Finish classifies every source and returns the plan. New objects are named in source-DN
// order, so the plan never depends on the order the directories returned objects in.
func (b *Builder) Finish() *Plan {
	b.SourcesDone()
	b.claims, b.upns, b.anchors = nil, multi{}, multi{} // only visit needed them
	p := &Plan{FormatVersion: FormatVersion, Kind: "sync", Target: b.opt.OU, Changes: make([]Change, 0, len(b.srcs)+len(b.invalid))}
	p.Changes = append(p.Changes, b.invalid...)
	b.invalid = nil
	at := make([]int32, len(b.srcs)) // source -> its change
	var creates []int32
	for i := range b.srcs {
		s := &b.srcs[i]
		if s.dup {
			p.Changes = append(p.Changes, b.duplicate(s))
			at[i] = -1
			continue
		}
		c, create := b.classify(s)
		if create {
			creates = append(creates, int32(i))
			continue
		}
		at[i] = int32(len(p.Changes))
		p.Changes = append(p.Changes, c)
	}
	slices.SortStableFunc(creates, func(x, y int32) int { return compareFold(b.srcs[x].dn, b.srcs[y].dn) })
	drafts := b.drafts(creates)
	for k, i := range creates {
		at[i] = int32(len(p.Changes))
		p.Changes = append(p.Changes, b.name(&drafts[k]))
	}
	b.claimedTwice(p.Changes, at)
	sortChanges(p.Changes)
	slices.SortStableFunc(b.warnings, func(x, y Warning) int {
		if c := compareFold(x.Object, y.Object); c != 0 {
			return c
		}
		return strings.Compare(x.Found, y.Found)
	})
	p.Warnings, b.warnings = b.warnings, nil
	for _, c := range p.Changes {
		p.Summary.add(c.Action)
	}
	return p
}

func (b *Builder) duplicate(s *srcRec) Change {
	var others []string
	for _, j := range append([]int32{b.byKey[s.key]}, b.dups[s.key]...) {
		if o := b.srcs[j].dn; o != s.dn {
			others = append(others, o)
		}
	}
	slices.SortStableFunc(others, compareFold)
	prob := mapper.DuplicateGUID(s.dn, s.key, others)
	return Change{Action: Invalid, Key: s.key.String(), Source: s.dn, Reason: prob.Code, Problems: []mapper.Problem{prob}}
}

// claimedTwice turns every change that wants an address another written or unchanged change
// wants too into a conflict: neither may have it.
func (b *Builder) claimedTwice(cs []Change, at []int32) {
	type first struct {
		idx   int32
		value string
	}
	hit := map[int32]first{}
	for _, tw := range b.twice {
		var live []claim
		for _, c := range tw.claimants {
			if i := at[c.src]; i >= 0 && cs[i].Action != Conflict && cs[i].Action != Invalid {
				live = append(live, c)
			}
		}
		if len(live) < 2 {
			continue
		}
		for _, c := range live {
			if f, ok := hit[c.src]; !ok || c.idx < f.idx {
				hit[c.src] = first{c.idx, tw.value}
			}
		}
	}
	for src, f := range hit {
		c := &cs[at[src]]
		obj := c.Source
		if c.DN != "" && c.Action != Create {
			obj = c.DN
		}
		if c.Action == Create {
			c.DN = ""
		}
		v := claimedTwice(f.value)
		c.Action, c.Reason, c.Attrs = Conflict, v.reason, nil
		c.Problems = []mapper.Problem{v.problem(obj)}
	}
}

// classify decides what happens to one source; create reports a new object, named later.
func (b *Builder) classify(s *srcRec) (c Change, create bool) {
	c = Change{Key: s.key.String(), Source: s.dn}
	opt := b.opt
	// conflict reports v on the target object t (or on the source when t < 0).
	conflict := func(v verdict, t int32) (Change, bool) {
		c.Action, c.Reason = Conflict, v.reason
		obj := c.Source
		if t >= 0 {
			c.DN, obj = b.tgts[t].dn, b.tgts[t].dn
			if g := b.tgts[t].objectGUID; !g.IsZero() {
				c.ObjectGUID = g.String()
			}
		}
		c.Problems = []mapper.Problem{v.problem(obj)}
		return c, false
	}
	var desired map[string][]string // unpacked only when needed
	want := func() map[string][]string {
		if desired == nil && s.blob != "" {
			desired = b.desired(s).attrs
		}
		return desired
	}

	// Rule 1, match: ExchangeGUID first, then the anchor.
	match := int32(-1)
	switch {
	case s.nGUID > 1:
		ms := b.sortedByDN(s.x.guidHits)
		return conflict(ambiguousByGUID(b.dnList(ms)), ms[0])
	case s.nGUID == 1:
		match = s.guid1
	case opt.Anchor != "" && s.x != nil && len(s.x.anchorHits) > 0:
		for _, v := range anchorValues(want(), opt.Anchor) {
			var ms []int32
			for _, h := range s.x.anchorHits {
				if strings.EqualFold(h.value, v) {
					ms = append(ms, h.t)
				}
			}
			ms = b.sortedByDN(ms)
			if len(ms) > 1 {
				return conflict(ambiguousByAnchor(opt.Anchor, v, b.dnList(ms)), ms[0])
			}
			if len(ms) == 1 {
				match = ms[0]
			}
		}
	}

	// Rules 2 and 3: the source's type, and the object it matched.
	if match >= 0 {
		t := b.facts(match, s.key)
		anchorFound := "" // only needed to explain outside_target_ou: unpacking costs
		if !t.inOU && s.nGUID == 0 {
			if vs := anchorValues(want(), opt.Anchor); len(vs) > 0 {
				anchorFound = opt.Anchor + "=" + vs[0]
			}
		}
		if s.x != nil && s.x.unmovable != nil && finishedMove(t) {
			return b.migrated(c, match), false
		}
		if s.x == nil || s.x.unmovable == nil {
			if v, moved := matchRule(t, anchorFound, opt); v != nil {
				return conflict(*v, match)
			} else if moved {
				return b.migrated(c, match), false
			}
		}
	}
	if s.x != nil && s.x.unmovable != nil {
		c.Action, c.Reason, c.Problems = Invalid, s.x.unmovable.Code, []mapper.Problem{*s.x.unmovable}
		return c, false
	}

	// Rule 4: addresses and UPN in use by another object.
	if s.x != nil {
		if h := other(s.x.addr, match); h.ok {
			return conflict(addressInUse(h.found), h.t)
		}
		if h := other(s.x.upn, match); h.ok {
			return conflict(upnInUse(h.found), h.t)
		}
	}

	// Rule 6: create, update or unchanged.

	if match < 0 {
		return c, true
	}
	t := &b.tgts[match]
	c.DN = t.dn
	if !t.objectGUID.IsZero() {
		c.ObjectGUID = t.objectGUID.String()
	}
	switch {
	case s.tentDone && s.x != nil:
		c.Attrs, s.x.tent = s.x.tent, nil
	case !s.tentDone:
		var blob string
		if t.x != nil {
			blob = t.x.blob
		}
		c.Attrs = diffAttrs(want(), &directory.Entry{DN: t.dn, Attrs: b.tp.unpack(blob)})
	}
	if len(c.Attrs) == 0 {
		c.Action = Unchanged
	} else {
		c.Action = Update
	}
	return c, false
}

// facts are what the rules need of target object i, from its summary.
func (b *Builder) facts(i int32, key directory.GUID) target {
	t := &b.tgts[i]
	return target{dn: t.dn, inOU: t.inOU, owned: t.owned, typ: t.typ, holdsOther: t.holdsOther(key), rec: t}
}

// migrated is the change of a source whose move has finished: its target i is left alone.
func (b *Builder) migrated(c Change, i int32) Change {
	t := &b.tgts[i]
	c.DN, c.Action, c.Reason = t.dn, Unchanged, ReasonMigrated
	if !t.objectGUID.IsZero() {
		c.ObjectGUID = t.objectGUID.String()
	}
	return c
}

// other returns the best candidate whose holder is not the match.
func other(cs [2]cand, match int32) cand {
	if cs[0].ok && cs[0].t != match {
		return cs[0]
	}
	if cs[1].ok && cs[1].t != match {
		return cs[1]
	}
	return cand{}
}

// draft is a create before it is named: its attributes, sorted, with cn and sAMAccountName
// still empty, and what naming needs.
type draft struct {
	c                  Change
	cn, sam            int // positions of cn and sAMAccountName in c.Attrs
	base, alias, samBs string
}

// drafts builds the creates' drafts, in parallel for a large plan: unpacking and sorting each
// new object's attributes is most of Finish's work, and needs nothing but the source. Naming
// (name) then runs in order, as it must.
func (b *Builder) drafts(creates []int32) []draft {
	out := make([]draft, len(creates))
	workers := min(runtime.GOMAXPROCS(0), len(creates)/256+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < len(creates); k += workers {
				out[k] = b.draft(&b.srcs[creates[k]])
			}
		})
	}
	wg.Wait()
	return out
}

// draft reads only the packer and s: safe to run for several sources at once. The packed
// attributes come in name order; objectClass, cn and sAMAccountName are merged in.
func (b *Builder) draft(s *srcRec) draft {
	// The blob's three pseudo-attributes make room for the three fixed attributes.
	c := Change{Action: Create, Key: s.key.String(), Source: s.dn, Attrs: make([]AttrChange, 0, b.sp.count(s.blob))}
	fixed := [3]AttrChange{ // in compareName order
		{Name: directory.AttrCN},
		{Name: directory.AttrObjectClass, After: []string{"user"}},
		{Name: directory.AttrSAMAccountName},
	}
	d := draft{}
	next := 0
	emit := func(a AttrChange) {
		for next < len(fixed) && compareName(fixed[next].Name, a.Name) < 0 {
			c.Attrs = append(c.Attrs, fixed[next])
			next++
		}
		c.Attrs = append(c.Attrs, a)
	}
	b.sp.each(s.blob, func(name string, vals []string) {
		switch name {
		case pseudoCN:
			d.base = first(vals)
		case pseudoSAM:
			d.samBs = first(vals)
		case pseudoAlias:
			d.alias = first(vals)
		default:
			if len(vals) > 0 {
				emit(AttrChange{Name: name, After: vals})
			}
		}
	})
	c.Attrs = append(c.Attrs, fixed[next:]...)
	s.blob = ""
	for i, a := range c.Attrs {
		switch a.Name {
		case directory.AttrCN:
			d.cn = i
		case directory.AttrSAMAccountName:
			d.sam = i
		}
	}
	d.c = c
	return d
}

// name gives a draft its DN, cn and sAMAccountName: the source's, or with the alias (and a
// number) added when another object in the target forest or in this plan has them. The cn is
// escaped per RFC 4514 (directory.EscapeRDNValue) and kept within the target's cn limit.
func (b *Builder) name(d *draft) Change {
	cn := d.base
	dn := "CN=" + directory.EscapeRDNValue(cn) + "," + b.opt.OU
	key := b.createKey(cn)
	for n := 1; b.has(b.dns, key); n++ {
		cn = suffixed(d.base, d.alias, n, b.rules.Limit(directory.AttrCN))
		dn = "CN=" + directory.EscapeRDNValue(cn) + "," + b.opt.OU
		key = b.createKey(cn)
	}
	b.dns[key] = struct{}{}
	c := d.c
	c.DN = dn
	c.Attrs[d.cn].After = []string{cn}
	c.Attrs[d.sam].After = []string{b.uniqueSAM(d.samBs)}
	return c
}

// suffixed is the n-th alternative name for base: "base (alias)", "base (alias 2)", ... cut to
// limit characters before the closing number and parenthesis, so that every n still gives a
// name of its own.
func suffixed(base, alias string, n, limit int) string {
	tail := ")"
	if n > 1 {
		tail = fmt.Sprintf(" %d)", n)
	}
	return mapper.CutName(base+" ("+alias, max(1, limit-mapper.Length(tail))) + tail
}

// createKey is the DN key of "CN=cn,<OU>": normDN of the whole DN, with the OU normalised once
// (normDN joins the RDNs it parses with commas, so the parts can be normalised apart).
func (b *Builder) createKey(cn string) uint64 {
	rdn := "CN=" + directory.EscapeRDNValue(cn)
	if b.ouDN == "" { // the OU does not parse (config validation refuses that): the whole DN
		return folded(b.seed, normDN(rdn+","+b.opt.OU))
	}
	return folded(b.seed, normDN(rdn)+","+b.ouDN)
}

func (b *Builder) has(set map[uint64]struct{}, k uint64) bool {
	_, ok := set[k]
	return ok
}

// uniqueSAM returns base, or base with a number replacing its tail, unused in the target forest
// and in this plan, at most 20 characters.
func (b *Builder) uniqueSAM(base string) string {
	cand := base
	for n := 1; b.has(b.sams, folded(b.seed, cand)); n++ {
		suf := fmt.Sprint(n)
		r := []rune(base)
		if len(r)+len(suf) > 20 {
			r = r[:20-len(suf)]
		}
		cand = string(r) + suf
	}
	b.sams[folded(b.seed, cand)] = struct{}{}
	return cand
}

func first(v []string) string {
	if len(v) > 0 {
		return v[0]
	}
	return ""
}
