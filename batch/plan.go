package batch

import (
	"cmp"
	"fmt"
	"slices"
)

// component is one delegation group: the items linked directly or transitively.
type component struct {
	id      int      // 1-based rank: largest first, ties by smallest member ID
	members []int    // item positions, sorted by address key
	minID   string   // smallest folded member ID
	kinds   []string // edge kinds inside the group, sorted by sortKinds
}

// pair is an edge between two distinct items.
type pair struct {
	a, b int
	kind string
}

// Plan groups ready items into batches. Items linked by delegation, directly or transitively
// (connected components over edges, by union-find), land in the same batch. Components are
// packed into batches of at most opt.Size with a deterministic first-fit decreasing (largest
// component first, ties broken by the smallest member ID), never splitting a component; a
// component larger than the size is reported in Oversized and its members are excluded.
//
// Edges touching an ID that is not an item (a blocked or out-of-scope delegate) are ignored
// for grouping and reported in the Reasons of the in-scope end; edges between two such IDs
// and self-edges are ignored. Plan does not modify its arguments, and its Result depends only
// on the sets of items, edges and exclusions, not on their order.
func Plan(items []Item, edges []Edge, opt Options) (*Result, error) {
	size, err := opt.batchSize()
	if err != nil {
		return nil, err
	}
	x, err := newIndex(items, append(slices.Clip(opt.Excluded), opt.Migrated...))
	if err != nil {
		return nil, err
	}
	moved := make(map[string]bool, len(opt.Migrated))
	for _, m := range opt.Migrated {
		moved[fold(m.ID)] = true
	}
	uf := newUnionFind(len(items))
	var inner []pair
	var out []outLink
	for i, e := range edges {
		if err := checkEdge(i, e); err != nil {
			return nil, err
		}
		a, aok := x.byID[fold(e.A)]
		b, bok := x.byID[fold(e.B)]
		switch {
		case aok && bok && a != b:
			uf.union(a, b)
			inner = append(inner, pair{a, b, e.Kind})
		case aok && !bok:
			out = append(out, outLink{member: a, key: fold(e.B), id: e.B, kind: e.Kind, moved: moved[fold(e.B)]})
		case bok && !aok:
			out = append(out, outLink{member: b, key: fold(e.A), id: e.A, kind: e.Kind, moved: moved[fold(e.A)]})
		}
	}
	comps, compOf := components(x, uf)
	for _, p := range inner {
		c := &comps[compOf[p.a]]
		c.kinds = addKind(c.kinds, p.kind)
	}
	for i := range comps {
		sortKinds(comps[i].kinds)
	}
	r := &Result{Size: size}
	outside := outsideReasons(out)
	bins := pack(comps, size)
	r.Batches = make([]Batch, len(bins))
	for k, bin := range bins {
		r.Batches[k] = makeBatch(k, bin, comps, compOf, x, outside)
	}
	r.Oversized, r.Excluded = oversized(comps, size, x, inner, compOf)
	r.Excluded = sortExcluded(append(r.Excluded, cloneExcluded(opt.Excluded)...))
	r.Migrated = sortExcluded(cloneExcluded(opt.Migrated))
	return r, nil
}

// components lists the connected components, numbered and returned in packing order, and
// the component of every item (an index into the returned slice).
func components(x *index, uf *unionFind) ([]component, []int) {
	n := len(x.items)
	slot := make([]int, n) // root -> component index + 1
	compOf := make([]int, n)
	var comps []component
	for i := range n {
		r := uf.find(i)
		if slot[r] == 0 {
			comps = append(comps, component{minID: x.idKey[i]})
			slot[r] = len(comps)
		}
		c := slot[r] - 1
		compOf[i] = c
		comps[c].minID = min(comps[c].minID, x.idKey[i])
	}
	// One backing array for all member lists, laid out by component.
	count := make([]int, len(comps)+1)
	for _, c := range compOf {
		count[c+1]++
	}
	for c := range comps {
		count[c+1] += count[c]
	}
	flat := make([]int, n)
	next := slices.Clone(count[:len(comps)])
	for i, c := range compOf {
		flat[next[c]] = i
		next[c]++
	}
	for c := range comps {
		m := flat[count[c]:count[c+1]:count[c+1]]
		slices.SortFunc(m, func(a, b int) int { return cmp.Compare(x.addrKey[a], x.addrKey[b]) })
		comps[c].members = m
	}
	// Packing order: largest first, then smallest member ID.
	order := make([]int, len(comps))
	for c := range order {
		order[c] = c
	}
	slices.SortFunc(order, func(a, b int) int {
		ca, cb := &comps[a], &comps[b]
		return cmp.Or(cmp.Compare(len(cb.members), len(ca.members)), cmp.Compare(ca.minID, cb.minID))
	})
	sorted := make([]component, len(comps))
	rank := make([]int, len(comps))
	for k, c := range order {
		sorted[k] = comps[c]
		sorted[k].id = k + 1
		rank[c] = k
	}
	for i, c := range compOf {
		compOf[i] = rank[c]
	}
	return sorted, compOf
}

// pack assigns the components that fit to bins by first-fit decreasing (comps are already
// in decreasing order) and returns each bin's component indices.
func pack(comps []component, size int) [][]int {
	var bins [][]int
	var load []int
	first := 0 // bins before first are full
	for c := range comps {
		n := len(comps[c].members)
		if n > size {
			continue
		}
		b := first
		for b < len(bins) && load[b]+n > size {
			b++
		}
		if b == len(bins) {
			bins = append(bins, nil)
			load = append(load, 0)
		}
		bins[b] = append(bins[b], c)
		load[b] += n
		for first < len(bins) && load[first] == size {
			first++
		}
	}
	return bins
}

// makeBatch builds the k-th batch from its components.
func makeBatch(k int, bin []int, comps []component, compOf []int, x *index, outside map[int][]string) Batch {
	var pos []int
	for _, c := range bin {
		pos = append(pos, comps[c].members...)
	}
	slices.SortFunc(pos, func(a, b int) int { return cmp.Compare(x.addrKey[a], x.addrKey[b]) })
	b := Batch{Name: fmt.Sprintf("batch-%03d", k+1), Members: make([]Member, len(pos))}
	for j, i := range pos {
		it, comp := x.items[i], &comps[compOf[i]]
		b.Members[j] = Member{ID: it.ID, Address: it.Address, Alias: it.Alias, Group: comp.id,
			Reasons: memberReasons(comp, i, x, outside[i])}
	}
	return b
}

// oversized reports the components larger than size and excludes their members, naming
// each member's direct delegation partners.
func oversized(comps []component, size int, x *index, inner []pair, compOf []int) ([]Group, []Excluded) {
	var groups []Group
	var excl []Excluded
	partners := map[int][]int{}
	for _, p := range inner {
		if len(comps[compOf[p.a]].members) > size {
			partners[p.a] = append(partners[p.a], p.b)
			partners[p.b] = append(partners[p.b], p.a)
		}
	}
	for c := range comps {
		comp := &comps[c]
		if len(comp.members) <= size {
			continue
		}
		g := Group{ID: comp.id, Size: len(comp.members), Kinds: slices.Clone(comp.kinds)}
		reason := oversizedReason(comp, size)
		for _, i := range comp.members {
			g.Members = append(g.Members, x.items[i].Address)
			excl = append(excl, Excluded{
				ID: x.items[i].ID, Address: x.items[i].Address, Reason: reason,
				Group: comp.id, Members: partnerAddresses(partners[i], x),
			})
		}
		groups = append(groups, g)
	}
	return groups, excl
}

// partnerAddresses returns the distinct addresses of the given items, sorted.
func partnerAddresses(ps []int, x *index) []string {
	slices.SortFunc(ps, func(a, b int) int { return cmp.Compare(x.addrKey[a], x.addrKey[b]) })
	ps = slices.Compact(ps)
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for k, i := range ps {
		out[k] = x.items[i].Address
	}
	return out
}

// sortExcluded orders exclusions by ID, case-insensitively (IDs are unique that way).
func sortExcluded(es []Excluded) []Excluded {
	if len(es) == 0 {
		return nil
	}
	keys := make([]string, len(es))
	order := make([]int, len(es))
	for k, e := range es {
		keys[k], order[k] = fold(e.ID), k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	out := make([]Excluded, len(es))
	for k, i := range order {
		out[k] = es[i]
	}
	return out
}

// cloneExcluded copies the caller's exclusions so that the Result shares no slices with them.
func cloneExcluded(in []Excluded) []Excluded {
	out := make([]Excluded, len(in))
	for k, e := range in {
		e.Members = slices.Clone(e.Members)
		out[k] = e
	}
	return out
}
