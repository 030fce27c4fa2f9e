package plan

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// Builder builds a plan from the two forests as streams, holding as little as it can:
//
//   - every source is mapped as it arrives and kept packed (see packer) with hashes of the
//     addresses, UPN and anchor it wants;
//   - each target object is looked at once: it is diffed against its source as soon as both are
//     known, and then only a small summary of it is kept if a source refers to it (its match, or
//     an object holding an address a source wants); other objects leave only hashes of their
//     sAMAccountName and DN behind, for naming new objects;
//   - target objects that arrive before the last source are held packed until SourcesDone.
//
// Names and addresses are compared through 64-bit hashes of their case-folded text. A hash
// collision can only add a conflict or an extra suffix to a new name, never lose one: the plan
// errs on the side of writing less. Matches by ExchangeGUID and by anchor compare real values.
//
// Use: AddSource (or AddDesired/AddInvalid) for every source, AddTarget for each target object
// (before or after SourcesDone), then Finish. A Builder is not safe for concurrent use.
type Builder struct {
	rules mapper.Rules
	opt   Options
	ou    ouMatch
	ouDN  string // the OU in normDN's form, for naming creates
	seed  maphash.Seed
	sp    *packer // desired attributes of sources
	tp    *packer // attributes of held target objects

	srcs     []srcRec
	invalid  []Change
	warnings []Warning // values left out of desired objects
	byKey    map[directory.GUID]int32
	dups     map[directory.GUID][]int32
	claims   map[uint64]packedClaim // desired address -> its first claimant
	twice    map[uint64]*twiceRec
	upns     multi
	anchors  multi
	srcDone  bool

	scratch   map[string][]string
	tgts      []tgtRec
	held      []heldRec
	heldBytes int
	sams      map[uint64]struct{}
	dns       map[uint64]struct{}
}

type claim struct{ src, idx int32 }

// packedClaim is a claim in 32 bits, as the claims map holds one per desired address: the
// source in the high 26 bits, the address's position (up to 63; later ones tie) in the low 6.
type packedClaim uint32

func pack(c claim) packedClaim { return packedClaim(uint32(c.src)<<6 | uint32(min(c.idx, 63))) }

func (p packedClaim) claim() claim { return claim{int32(p >> 6), int32(p & 63)} }

// MaxSources is the most sources one plan can hold (the claims map packs a source's index in
// 26 bits).
const MaxSources = 1 << 26

type twiceRec struct {
	value     string
	claimants []claim
}

// multi maps a hash to the sources that want it (nearly always one).
type multi struct {
	first map[uint64]int32
	more  map[uint64][]int32
}

func (m *multi) add(h uint64, s int32) {
	if m.first == nil {
		m.first, m.more = map[uint64]int32{}, map[uint64][]int32{}
	}
	if f, ok := m.first[h]; !ok {
		m.first[h] = s
	} else if f != s {
		m.more[h] = append(m.more[h], s)
	}
}

func (m *multi) each(h uint64, fn func(int32)) {
	if f, ok := m.first[h]; ok {
		fn(f)
		for _, s := range m.more[h] {
			fn(s)
		}
	}
}

// srcRec is one mapped source.
type srcRec struct {
	dn       string
	key      directory.GUID
	blob     string // packed desired attributes; "" once diffed against its match
	dup      bool
	tentDone bool
	nGUID    int32 // target objects holding key
	guid1    int32 // the first of them
	x        *srcExtra
}

// srcExtra is what only a few sources need.
type srcExtra struct {
	tent       []AttrChange // the diff against guid1, when not empty
	guidHits   []int32      // every target holding key, when more than one
	anchorHits []anchorHit
	addr, upn  [2]cand
	unmovable  *mapper.Problem // a source MailUser: invalid unless its move is finished
}

type anchorHit struct {
	t     int32
	value string
}

// cand is a target object holding an address (or UPN) a source wants: idx is the position of
// the address among the source's desired proxyAddresses, found the value as the object holds it.
type cand struct {
	ok    bool
	idx   int32
	t     int32
	found string
}

// tgtRec summarises a target object a source refers to.
type tgtRec struct {
	dn         string
	objectGUID directory.GUID
	mbx        directory.GUID // msExchMailboxGuid, when it parsed and was written canonically
	typ        int64
	hasMbx     bool
	owned      bool
	inOU       bool
	x          *tgtExtra
}

// tgtExtra is what only odd or unowned objects need.
type tgtExtra struct {
	mbxRaw string // msExchMailboxGuid as read, when it did not parse or was written oddly
	typRaw string // msExchRecipientTypeDetails as read, when not a plain number
	owner  string // the ownership attribute's value, when not ours
	blob   string // packed attributes, kept only when a diff may still need them
}

func (t *tgtRec) extra() *tgtExtra {
	if t.x == nil {
		t.x = &tgtExtra{}
	}
	return t.x
}

// mailboxGUID returns msExchMailboxGuid as read ("" when absent).
func (t *tgtRec) mailboxGUID() string {
	if t.x != nil && t.x.mbxRaw != "" {
		return t.x.mbxRaw
	}
	if t.hasMbx {
		return t.mbx.String()
	}
	return ""
}

// holdsOther reports whether the object holds an ExchangeGUID other than key (compared as the
// text AD holds, case-insensitively).
func (t *tgtRec) holdsOther(key directory.GUID) bool {
	if t.x != nil && t.x.mbxRaw != "" {
		return !strings.EqualFold(t.x.mbxRaw, key.String())
	}
	return t.hasMbx && t.mbx != key
}

type heldRec struct {
	dn         string
	objectGUID directory.GUID
	blob       string
}

// Pseudo-attributes packed with a source's desired attributes (not LDAP names: they start with
// a space).
const (
	pseudoCN    = " cn"
	pseudoSAM   = " sam"
	pseudoAlias = " alias"
)

// NewBuilder returns an empty Builder.
func NewBuilder(rules mapper.Rules, opt Options) *Builder {
	return &Builder{rules: rules, opt: opt, ou: newOUMatch(opt.OU), ouDN: parsedDN(opt.OU), seed: maphash.MakeSeed(), sp: &packer{ids: map[string]int{}, sorted: true}, tp: newPacker(),
		byKey: map[directory.GUID]int32{}, dups: map[directory.GUID][]int32{}, claims: map[uint64]packedClaim{},
		twice: map[uint64]*twiceRec{}, sams: map[uint64]struct{}{}, dns: map[uint64]struct{}{}}
}

// AddSource maps one source mailbox and adds it.
func (b *Builder) AddSource(m *directory.Mailbox) {
	d, probs := mapper.Prepare(m, b.rules)
	if len(probs) > 0 {
		b.AddInvalid(&mapper.Invalid{Source: m, Problem: probs[0], More: probs[1:]})
		return
	}
	b.AddDesired(&d)
}

// AddInvalid adds a source that cannot be mapped, with every problem found in it.
func (b *Builder) AddInvalid(inv *mapper.Invalid) {
	c := Change{Action: Invalid, Source: inv.Source.DN, Reason: inv.Problem.Code, Problems: inv.Problems()}
	if g, err := directory.GUIDFromAD(inv.Source.MailboxGUID); err == nil && !g.IsZero() {
		c.Key = g.String()
	}
	b.invalid = append(b.invalid, c)
}

// AddDesired adds an already mapped source. Sources sharing an ExchangeGUID all end invalid.
// The values the mapper left out of it become plan warnings.
func (b *Builder) AddDesired(d *mapper.Desired) {
	for _, w := range d.Warnings {
		b.warnings = append(b.warnings, leftOut(w))
	}
	if len(b.srcs) >= MaxSources {
		b.AddInvalid(&mapper.Invalid{Source: d.Source, Problem: mapper.Problem{Code: "scope_too_large", Object: d.Source.DN,
			Found: fmt.Sprintf("more than %d mailboxes in scope", MaxSources), Fix: "split the scope into several configurations"}})
		return
	}
	si := int32(len(b.srcs))
	dup := false
	if first, ok := b.byKey[d.Key]; ok {
		b.srcs[first].dup, dup = true, true
		b.dups[d.Key] = append(b.dups[d.Key], si)
	} else {
		b.byKey[d.Key] = si
	}
	d.Attrs[pseudoCN], d.Attrs[pseudoSAM], d.Attrs[pseudoAlias] = []string{d.CN}, []string{d.SAMBase}, []string{d.Source.Alias}
	blob := b.sp.pack(d.Attrs)
	delete(d.Attrs, pseudoCN)
	delete(d.Attrs, pseudoSAM)
	delete(d.Attrs, pseudoAlias)
	b.srcs = append(b.srcs, srcRec{dn: d.Source.DN, key: d.Key, blob: blob, dup: dup, guid1: -1})
	if d.Unmovable != nil {
		p := *d.Unmovable
		b.srcs[si].extra().unmovable = &p
	}

	for i, v := range d.Attrs[directory.AttrProxyAddresses] {
		h := folded(b.seed, v)
		pc, ok := b.claims[h]
		c := pc.claim()
		switch {
		case !ok:
			b.claims[h] = pack(claim{si, int32(i)})
		case c.src != si:
			tw := b.twice[h]
			if tw == nil {
				tw = &twiceRec{claimants: []claim{c}}
				b.twice[h] = tw
			}
			tw.value = v
			tw.claimants = append(tw.claimants, claim{si, int32(i)})
		}
	}
	if u := d.Attrs[directory.AttrUPN]; len(u) == 1 {
		b.upns.add(folded(b.seed, u[0]), si)
	}
	if b.opt.Anchor != "" {
		for _, v := range anchorValues(d.Attrs, b.opt.Anchor) {
			b.anchors.add(folded(b.seed, v), si)
		}
	}
}

// HeldBytes is roughly the memory held by target objects added before SourcesDone.
func (b *Builder) HeldBytes() int { return b.heldBytes }

// AddTarget adds one object read from the target forest. e is not kept.
func (b *Builder) AddTarget(e *directory.Entry) {
	if !b.srcDone {
		h := heldRec{dn: e.DN, objectGUID: e.ObjectGUID, blob: b.tp.pack(e.Attrs)}
		b.held = append(b.held, h)
		b.heldBytes += len(h.dn) + len(h.blob) + 64
		return
	}
	b.visit(e)
}

// SourcesDone says every source has been added: target objects held so far are looked at.
func (b *Builder) SourcesDone() {
	if b.srcDone {
		return
	}
	b.srcDone = true
	for i, h := range b.held {
		b.visit(&directory.Entry{DN: h.dn, ObjectGUID: h.objectGUID, Attrs: b.tp.unpack(h.blob)})
		b.held[i] = heldRec{}
	}
	b.held, b.heldBytes = nil, 0
}

// visit looks at one target object once every source is known.
func (b *Builder) visit(e *directory.Entry) {
	dnKey, inOU := b.ou.under(e.DN)
	if inOU {
		b.dns[folded(b.seed, dnKey)] = struct{}{}
	}
	if s := e.First(directory.AttrSAMAccountName); s != "" {
		b.sams[folded(b.seed, s)] = struct{}{}
	}
	t := int32(-1)
	rec := func() int32 {
		if t < 0 {
			t = b.summarise(e, inOU)
		}
		return t
	}
	raw := e.First(directory.AttrMailboxGUID)
	g, gerr := directory.ParseGUID(raw)
	holds := func(s *srcRec) bool { return raw != "" && gerr == nil && g == s.key }
	if raw != "" && gerr == nil {
		if si, ok := b.byKey[g]; ok && !b.srcs[si].dup {
			s := &b.srcs[si]
			ti := rec()
			s.nGUID++
			switch s.nGUID {
			case 1:
				s.guid1 = ti
				b.scratch = b.sp.unpackInto(b.scratch, s.blob) // diffAttrs keeps none of it
				delete(b.scratch, pseudoCN)
				delete(b.scratch, pseudoSAM)
				delete(b.scratch, pseudoAlias)
				if tent := diffAttrs(b.scratch, e); len(tent) > 0 {
					s.extra().tent = tent
				}
				s.tentDone, s.blob = true, ""
			case 2:
				s.extra().guidHits = append(s.extra().guidHits, s.guid1, ti)
			default:
				s.extra().guidHits = append(s.extra().guidHits, ti)
			}
		}
	}
	if b.opt.Anchor != "" {
		for _, v := range e.Get(b.opt.Anchor) {
			b.anchors.each(folded(b.seed, v), func(si int32) {
				if s := &b.srcs[si]; !s.dup && s.nGUID == 0 && !holds(s) {
					ti := rec()
					s.extra().anchorHits = append(s.extra().anchorHits, anchorHit{ti, v})
					if raw == "" && b.tgts[ti].extra().blob == "" {
						b.tgts[ti].x.blob = b.tp.pack(e.Attrs) // an anchor match without a GUID is diffed at Finish
					}
				}
			})
		}
	}
	for _, v := range e.Get(directory.AttrProxyAddresses) {
		h := folded(b.seed, v)
		if pc, ok := b.claims[h]; ok {
			b.candidate(pc.claim(), holds, rec, v, false)
		}
		if tw := b.twice[h]; tw != nil {
			for _, c := range tw.claimants[1:] {
				b.candidate(c, holds, rec, v, false)
			}
		}
	}
	if u := e.First(directory.AttrUPN); u != "" {
		b.upns.each(folded(b.seed, u), func(si int32) { b.candidate(claim{si, 0}, holds, rec, u, true) })
	}
}

// candidate records that a target object holds an address (or the UPN) source c.src wants,
// unless the object holds the source's ExchangeGUID: that object is its match (or the source
// ends ambiguous), never "another object".
func (b *Builder) candidate(c claim, holds func(*srcRec) bool, rec func() int32, found string, upn bool) {
	s := &b.srcs[c.src]
	if s.dup || holds(s) {
		return
	}
	n := cand{ok: true, idx: c.idx, t: rec(), found: found}
	slot := &s.extra().addr
	if upn {
		slot = &s.extra().upn
	}
	switch {
	case !slot[0].ok:
		slot[0] = n
	case n.t == slot[0].t:
		if b.before(n, slot[0]) {
			slot[0] = n
		}
	case b.before(n, slot[0]):
		slot[1], slot[0] = slot[0], n
	case !slot[1].ok || b.before(n, slot[1]):
		slot[1] = n
	}
}

// before orders candidates by the source's address order, then by the holder's DN.
func (b *Builder) before(x, y cand) bool {
	if x.idx != y.idx {
		return x.idx < y.idx
	}
	return strings.ToLower(b.tgts[x.t].dn) < strings.ToLower(b.tgts[y.t].dn)
}

func (s *srcRec) extra() *srcExtra {
	if s.x == nil {
		s.x = &srcExtra{}
	}
	return s.x
}

func (b *Builder) summarise(e *directory.Entry, inOU bool) int32 {
	t := tgtRec{dn: e.DN, objectGUID: e.ObjectGUID, inOU: inOU}
	if raw := e.First(directory.AttrMailboxGUID); raw != "" {
		if g, err := directory.ParseGUID(raw); err == nil && strings.EqualFold(raw, g.String()) {
			t.mbx, t.hasMbx = g, true
		} else {
			t.extra().mbxRaw = raw
		}
	}
	typRaw := e.First(directory.AttrRecipientTypeDetails)
	t.typ, _ = strconv.ParseInt(typRaw, 10, 64)
	if typRaw != "" && typRaw != strconv.FormatInt(t.typ, 10) {
		t.extra().typRaw = typRaw
	}
	owner := e.First(b.opt.OwnerAttr)
	if t.owned = strings.EqualFold(owner, b.opt.OwnerValue); !t.owned {
		t.extra().owner = owner
	}
	b.tgts = append(b.tgts, t)
	return int32(len(b.tgts) - 1)
}

func (t *tgtRec) typeFound() string {
	if t.x != nil && t.x.typRaw != "" {
		return t.x.typRaw
	}
	if t.typ == 0 {
		return ""
	}
	return strconv.FormatInt(t.typ, 10)
}

func (t *tgtRec) ownerFound() string {
	if t.x != nil {
		return t.x.owner
	}
	return ""
}

// sortedByDN returns ts ordered by DN, case-insensitively, without duplicates.
func (b *Builder) sortedByDN(ts []int32) []int32 {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(x, y int32) int {
		return strings.Compare(strings.ToLower(b.tgts[x].dn), strings.ToLower(b.tgts[y].dn))
	})
	return slices.Compact(out)
}

func (b *Builder) dnList(ts []int32) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = b.tgts[t].dn
	}
	slices.Sort(s)
	return strings.Join(s, "; ")
}

// unpacked is a source's desired MailUser, as packed by AddDesired.
type unpacked struct {
	attrs          map[string][]string
	cn, sam, alias string
}

func (b *Builder) desired(s *srcRec) unpacked {
	a := b.sp.unpack(s.blob)
	u := unpacked{attrs: a, cn: first(a[pseudoCN]), sam: first(a[pseudoSAM]), alias: first(a[pseudoAlias])}
	delete(a, pseudoCN)
	delete(a, pseudoSAM)
	delete(a, pseudoAlias)
	return u
}
