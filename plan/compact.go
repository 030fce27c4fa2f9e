package plan

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"unicode/utf8"
)

// packer stores attribute maps compactly while an object waits for its counterpart from the
// other forest. Directory values of one kind share most of their bytes (address prefixes and
// domains, the legacyExchangeDN path, type codes), so each value is stored as the length of
// the prefix and of the suffix it shares with the same attribute's value in a reference object
// (the first one packed), plus the bytes in between; an attribute whose values all equal the
// reference's takes one byte. Attribute names are numbered. A packed
// object is one string, so the garbage collector sees one object instead of dozens.
type packer struct {
	names []string
	ids   map[string]int
	ref   map[string][]string
	buf   []byte
	order []string
	// sorted packs attributes in name order (the sources' packer: their creates are drafted
	// from the packed form); otherwise in map order.
	sorted bool
}

func newPacker() *packer { return &packer{ids: map[string]int{}} }

// pack encodes attrs (a key with no values is kept: it means "must be absent").
func (p *packer) pack(attrs map[string][]string) string {
	if p.ref == nil {
		p.ref = make(map[string][]string, len(attrs))
		for k, v := range attrs {
			p.ref[k] = append([]string(nil), v...)
		}
	}
	b := p.buf[:0]
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	// In attribute-name order (as a plan lists them), so that a create can be drafted from the
	// packed form without sorting: sorting here costs nothing visible, as it happens while the
	// directories are still being read.
	p.order = p.order[:0]
	for name := range attrs {
		p.order = append(p.order, name)
	}
	if p.sorted {
		slices.SortFunc(p.order, compareName)
	}
	for _, name := range p.order {
		vals := attrs[name]
		id, ok := p.ids[name]
		if !ok {
			id = len(p.names)
			p.ids[name] = id
			p.names = append(p.names, strings.Clone(name))
		}
		ref := p.ref[name]
		if len(vals) > 0 && slices.Equal(vals, ref) {
			b = binary.AppendUvarint(b, uint64(id)<<1|1) // the reference's values, as they are
			continue
		}
		b = binary.AppendUvarint(b, uint64(id)<<1)
		b = binary.AppendUvarint(b, uint64(len(vals)))
		for j, v := range vals {
			var r string
			if len(ref) > 0 {
				r = ref[min(j, len(ref)-1)]
			}
			pre, suf := shared(v, r)
			b = binary.AppendUvarint(b, uint64(pre))
			b = binary.AppendUvarint(b, uint64(suf))
			b = binary.AppendUvarint(b, uint64(len(v)-pre-suf))
			b = append(b, v[pre:len(v)-suf]...)
		}
	}
	p.buf = b
	return string(b)
}

// unpack decodes what pack encoded. Values are built with one allocation each, or none when a
// value is wholly the reference's or wholly new (a substring of s).
func (p *packer) unpack(s string) map[string][]string {
	if s == "" {
		return nil
	}
	return p.unpackInto(nil, s)
}

// unpackInto is unpack into dst (cleared first; a new map when nil), so that a caller that
// drops the result right away can reuse one map.
func (p *packer) unpackInto(dst map[string][]string, s string) map[string][]string {
	out := dst
	if out == nil {
		out = make(map[string][]string, p.count(s))
	}
	clear(out)
	p.each(s, func(name string, vals []string) { out[name] = vals })
	return out
}

// count returns the number of attributes in s.
func (p *packer) count(s string) int {
	n, _ := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	return int(n)
}

// each decodes s and calls fn for every attribute, in the order pack wrote them (by name, as
// compareName orders them, when the packer is sorted). Each vals is new.
func (p *packer) each(s string, fn func(name string, vals []string)) {
	if s == "" {
		return
	}
	next := func() int {
		var v uint64
		for shift := 0; ; shift += 7 {
			c := s[0]
			s = s[1:]
			v |= uint64(c&0x7f) << shift
			if c < 0x80 {
				return int(v)
			}
		}
	}
	n := next()
	for range n {
		id := next()
		name := p.names[id>>1]
		ref := p.ref[name]
		if id&1 == 1 {
			fn(name, slices.Clone(ref))
			continue
		}
		vals := make([]string, next())
		for j := range vals {
			var r string
			if len(ref) > 0 {
				r = ref[min(j, len(ref)-1)]
			}
			pre, suf, mid := next(), next(), next()
			switch {
			case mid == 0 && pre+suf == len(r):
				vals[j] = r
			case pre == 0 && suf == 0:
				vals[j] = s[:mid]
			default:
				vals[j] = r[:pre] + s[:mid] + r[len(r)-suf:]
			}
			s = s[mid:]
		}
		fn(name, vals)
	}
}

// compareName orders attribute names as a plan lists them: case-insensitively, ties broken
// by bytes.
func compareName(a, b string) int {
	if c := compareFold(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// shared returns the lengths of the common prefix and of the common suffix of v and r, not
// overlapping within v, cut at UTF-8 boundaries so that no rune is split.
func shared(v, r string) (int, int) {
	pre := 0
	for pre < len(v) && pre < len(r) && v[pre] == r[pre] {
		pre++
	}
	for pre > 0 && pre < len(v) && !utf8.RuneStart(v[pre]) {
		pre--
	}
	suf := 0
	for suf < len(v)-pre && suf < len(r) && v[len(v)-1-suf] == r[len(r)-1-suf] {
		suf++
	}
	for suf > 0 && !utf8.RuneStart(v[len(v)-suf]) {
		suf--
	}
	return pre, suf
}

// folded hashes s case-insensitively, the way AD compares names and addresses, without
// allocating a lower-case copy for ASCII text (a 64-bit hash: a collision can only make the
// plan more careful, see Builder).
func folded(seed maphash.Seed, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var buf [64]byte
	orig := s
	for len(s) > 0 {
		n := min(len(s), len(buf))
		for i := range n {
			c := s[i]
			if c >= utf8.RuneSelf {
				return maphash.String(seed, strings.ToLower(orig)) // the same bytes for ASCII
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		h.Write(buf[:n])
		s = s[n:]
	}
	return h.Sum64()
}
