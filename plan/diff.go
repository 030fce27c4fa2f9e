package plan

import (
	"slices"
	"strings"

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

// Build maps every source and diffs it against target: NewBuilder, AddSource for each source,
// AddTarget for each object, Finish. target holds the objects read from the whole target
// search base, so that addresses, names and GUIDs in use anywhere are seen.
func Build(src []directory.Mailbox, rules mapper.Rules, target []*directory.Entry, opt Options) *Plan {
	b := NewBuilder(rules, opt)
	for i := range src {
		b.AddSource(&src[i])
	}
	b.SourcesDone()
	for _, e := range target {
		b.AddTarget(e)
	}
	return b.Finish()
}

// Diff classifies already-mapped sources; Build is the same from the mailboxes.
func Diff(desired []mapper.Desired, invalid []mapper.Invalid, target []*directory.Entry, opt Options) *Plan {
	b := NewBuilder(mapper.Rules{}, opt)
	for i := range desired {
		b.AddDesired(&desired[i])
	}
	for i := range invalid {
		b.AddInvalid(&invalid[i])
	}
	b.SourcesDone()
	for _, e := range target {
		b.AddTarget(e)
	}
	return b.Finish()
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
func anchorValues(attrs map[string][]string, anchor string) []string {
	if v, ok := attrs[anchor]; ok {
		return v
	}
	for k, v := range attrs {
		if strings.EqualFold(k, anchor) {
			return v
		}
	}
	return nil
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
// never deletes a well-formed one (Azure AD Connect writes the target cloud's x500 back), and
// leaves every other type alone. A malformed x500 or x400 (malformed, below) is deleted: no
// directory writes one back, and an earlier xtmsyncd copied such values from the source. Values
// compare case-insensitively, as AD does.
func diffProxies(want, have []string) (AttrChange, bool) {
	if len(want)*len(have) > 1024 {
		return diffProxiesIndexed(want, have)
	}
	// The usual handful of addresses: compare in place, without lower-case copies.
	ch := AttrChange{Name: directory.AttrProxyAddresses}
	var buf [32]bool
	gone := buf[:0]
	if len(have) <= len(buf) {
		gone = buf[:len(have)]
	} else {
		gone = make([]bool, len(have))
	}
	for i, h := range have {
		hp := directory.Proxy(h)
		if malformed(hp) {
			ch.Delete = append(ch.Delete, h)
			gone[i] = true
			continue
		}
		if !hp.IsSMTP() {
			continue
		}
		j := slices.IndexFunc(want, func(w string) bool { return strings.EqualFold(w, h) })
		if j < 0 || directory.Proxy(want[j]).IsPrimary() != hp.IsPrimary() {
			ch.Delete = append(ch.Delete, h)
			gone[i] = true
		}
	}
	for _, w := range want {
		present := false
		for i, h := range have {
			if !gone[i] && strings.EqualFold(h, w) {
				present = true
				break
			}
		}
		if !present {
			ch.Add = append(ch.Add, w)
		}
	}
	return finishProxies(ch, have)
}

// diffProxiesIndexed is diffProxies for large address sets.
func diffProxiesIndexed(want, have []string) (AttrChange, bool) {
	wantByKey := make(map[string]directory.Proxy, len(want))
	for _, w := range want {
		wantByKey[directory.Proxy(w).Key()] = directory.Proxy(w)
	}
	haveByKey := make(map[string]bool, len(have))
	ch := AttrChange{Name: directory.AttrProxyAddresses}
	for _, h := range have {
		hp := directory.Proxy(h)
		haveByKey[hp.Key()] = true
		if malformed(hp) {
			ch.Delete = append(ch.Delete, h)
			delete(haveByKey, hp.Key())
			continue
		}
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
	return finishProxies(ch, have)
}

// malformed reports an x500 or x400 value the mapper's rules refuse (mapper.X500Rule,
// mapper.X400Rule).
func malformed(p directory.Proxy) bool {
	switch p.Type() {
	case "x500":
		return mapper.X500Rule(p.Address()) != ""
	case "x400":
		return mapper.X400Rule(p.Address()) != ""
	}
	return false
}

func finishProxies(ch AttrChange, have []string) (AttrChange, bool) {
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
	slices.SortFunc(a, func(x, y AttrChange) int { return compareFold(x.Name, y.Name) })
}

// compareFold orders a and b as strings.ToLower would, without the copies for ASCII text
// (attribute names are ASCII).
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca >= 0x80 || cb >= 0x80 {
			return strings.Compare(strings.ToLower(a[i:]), strings.ToLower(b[i:]))
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return len(a) - len(b)
}
