package batch

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// Property tests: random delegation graphs (fixed seeds) checked against invariants that do
// not depend on how Plan works, with components recomputed here by a plain graph search.

// randomCase flips the case of some letters, as directories do not preserve DN case.
func randomCase(r *rand.Rand, s string) string {
	b := []rune(s)
	for i, c := range b {
		if r.IntN(4) == 0 {
			if unicode.IsUpper(c) {
				b[i] = unicode.ToLower(c)
			} else {
				b[i] = unicode.ToUpper(c)
			}
		}
	}
	return string(b)
}

// genCase builds a random input: up to 300 items, some edges to blocked or unknown IDs,
// duplicate and self edges, an occasional chain, and a small batch size so that batches fill
// and some groups are oversized.
func genCase(r *rand.Rand) ([]Item, []Edge, Options) {
	n := r.IntN(300)
	it := make([]Item, n)
	for i := range it {
		name := fmt.Sprintf("U%04d", i)
		it[i] = Item{ID: dn(name), Address: fmt.Sprintf("%s.%d@northwind.test", name, r.IntN(1000)), Alias: name}
	}
	var excl []Excluded
	for i := range r.IntN(5) {
		excl = append(excl, Excluded{ID: dn(fmt.Sprintf("Blocked%d", i)), Reason: "blocked"})
	}
	pick := func() string {
		switch k := r.IntN(20); {
		case k == 0:
			return dn(fmt.Sprintf("Outside%d", r.IntN(10)))
		case k == 1 && len(excl) > 0:
			return excl[r.IntN(len(excl))].ID
		case n == 0:
			return dn("Nobody")
		default:
			return it[r.IntN(n)].ID
		}
	}
	kinds := []string{pd, dl, "FullAccess"}
	var ed []Edge
	for range r.IntN(n + 1) {
		ed = append(ed, Edge{A: randomCase(r, pick()), B: randomCase(r, pick()), Kind: kinds[r.IntN(len(kinds))]})
	}
	if n > 10 && r.IntN(3) == 0 { // a chain
		start, length := r.IntN(n), 2+r.IntN(n/2)
		for k := range length {
			a, b := it[(start+k)%n].ID, it[(start+k+1)%n].ID
			ed = append(ed, Edge{A: a, B: b, Kind: pd})
		}
	}
	if len(ed) > 0 && r.IntN(2) == 0 {
		ed = append(ed, ed[r.IntN(len(ed))]) // a duplicate
	}
	size := 1 + r.IntN(40)
	if r.IntN(10) == 0 {
		size = 0
	}
	return it, ed, Options{Size: size, Excluded: excl}
}

// refComponents returns, for every item key, the keys of its component (by depth-first search).
func refComponents(it []Item, ed []Edge) map[string][]string {
	adj := map[string][]string{}
	in := map[string]bool{}
	for _, x := range it {
		in[fold(x.ID)] = true
	}
	for _, e := range ed {
		a, b := fold(e.A), fold(e.B)
		if in[a] && in[b] {
			adj[a] = append(adj[a], b)
			adj[b] = append(adj[b], a)
		}
	}
	comp := map[string][]string{}
	for _, x := range it {
		k := fold(x.ID)
		if comp[k] != nil {
			continue
		}
		var members []string
		seen := map[string]bool{k: true}
		stack := []string{k}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			members = append(members, v)
			for _, w := range adj[v] {
				if !seen[w] {
					seen[w] = true
					stack = append(stack, w)
				}
			}
		}
		for _, m := range members {
			comp[m] = members
		}
	}
	return comp
}

// checkResult asserts the invariants of r for the given input.
func checkResult(t *testing.T, it []Item, ed []Edge, opt Options, r *Result) {
	t.Helper()
	size := opt.Size
	if size < 1 {
		size = MaxSize
	}
	if r.Size != size {
		t.Fatalf("size = %d, want %d", r.Size, size)
	}
	byKey := map[string]Item{}
	for _, x := range it {
		byKey[fold(x.ID)] = x
	}
	// Every item and every caller exclusion appears exactly once overall.
	where := map[string]int{} // key -> batch index, or -1 when excluded
	group := map[string]int{}
	count := map[string]int{}
	load := make([]int, len(r.Batches))
	for k, b := range r.Batches {
		if want := fmt.Sprintf("batch-%03d", k+1); b.Name != want {
			t.Errorf("batch %d named %q, want %q", k, b.Name, want)
		}
		if len(b.Members) == 0 || len(b.Members) > size {
			t.Errorf("%s has %d members, size %d", b.Name, len(b.Members), size)
		}
		if !slices.IsSortedFunc(b.Members, func(p, q Member) int { return strings.Compare(fold(p.Address), fold(q.Address)) }) {
			t.Errorf("%s is not sorted by address", b.Name)
		}
		load[k] = len(b.Members)
		for _, m := range b.Members {
			key := fold(m.ID)
			count[key]++
			where[key], group[key] = k, m.Group
			if x, ok := byKey[key]; !ok || x != (Item{ID: m.ID, Address: m.Address, Alias: m.Alias}) {
				t.Errorf("%s: member %+v is not an item", b.Name, m)
			}
			if len(m.Reasons) == 0 {
				t.Errorf("%s: %s has no reasons", b.Name, m.Address)
			}
		}
	}
	for _, e := range r.Excluded {
		key := fold(e.ID)
		count[key]++
		where[key], group[key] = -1, e.Group
	}
	for _, x := range it {
		if c := count[fold(x.ID)]; c != 1 {
			t.Errorf("item %s appears %d times", x.ID, c)
		}
	}
	for _, e := range opt.Excluded {
		if c := count[fold(e.ID)]; c != 1 || group[fold(e.ID)] != 0 {
			t.Errorf("exclusion %s appears %d times (group %d)", e.ID, c, group[fold(e.ID)])
		}
	}
	if len(count) != len(it)+len(opt.Excluded) {
		t.Errorf("%d distinct IDs in the result, want %d", len(count), len(it)+len(opt.Excluded))
	}
	// Every edge between two items has both ends in the same batch and group (or both excluded).
	for _, e := range ed {
		a, b := fold(e.A), fold(e.B)
		if _, ok := byKey[a]; !ok {
			continue
		}
		if _, ok := byKey[b]; !ok {
			continue
		}
		if where[a] != where[b] || group[a] != group[b] {
			t.Errorf("edge %s - %s split: batches %d/%d, groups %d/%d", e.A, e.B, where[a], where[b], group[a], group[b])
		}
	}
	// Components: one group each, distinct IDs; oversized exactly when larger than size.
	comps := refComponents(it, ed)
	oversized := map[int]Group{}
	for k, g := range r.Oversized {
		oversized[g.ID] = g
		if k > 0 && r.Oversized[k-1].ID >= g.ID {
			t.Errorf("oversized not sorted by ID")
		}
		if g.Size != len(g.Members) || g.Size <= size {
			t.Errorf("oversized group %d: size %d, %d members, batch size %d", g.ID, g.Size, len(g.Members), size)
		}
	}
	groupOf := map[int]string{}
	for key, members := range comps {
		g := group[key]
		if first, ok := groupOf[g]; ok && !slices.Contains(members, first) {
			t.Errorf("group %d holds two components", g)
		}
		groupOf[g] = key
		og, isOver := oversized[g]
		if (len(members) > size) != isOver || (where[key] == -1) != isOver {
			t.Errorf("component of %s (%d members, size %d): oversized %v, batch %d", key, len(members), size, isOver, where[key])
		}
		if isOver && key == slices.Min(members) {
			var want []string
			for _, m := range members {
				want = append(want, byKey[m].Address)
			}
			slices.SortFunc(want, func(a, b string) int { return strings.Compare(fold(a), fold(b)) })
			if !slices.Equal(og.Members, want) {
				t.Errorf("oversized group %d members %v, want %v", g, og.Members, want)
			}
		}
	}
	if len(groupOf) != len(distinctComponents(comps)) {
		t.Errorf("%d group IDs for %d components", len(groupOf), len(distinctComponents(comps)))
	}
	// First fit: no two batches could have been merged.
	batched := 0
	for i := range load {
		batched += load[i]
		for j := i + 1; j < len(load); j++ {
			if load[i]+load[j] <= size {
				t.Errorf("batches %d and %d (%d + %d) fit in one batch of %d", i+1, j+1, load[i], load[j], size)
			}
		}
	}
	if min := (batched + size - 1) / size; len(r.Batches) < min {
		t.Errorf("%d batches for %d mailboxes of size %d", len(r.Batches), batched, size)
	}
}

func distinctComponents(comps map[string][]string) map[string]bool {
	out := map[string]bool{}
	for _, m := range comps {
		out[slices.Min(m)] = true
	}
	return out
}

func TestPlanProperties(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		it, ed, opt := genCase(r)
		res, err := Plan(it, ed, opt)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkResult(t, it, ed, opt, res)
		if t.Failed() {
			t.Fatalf("seed %d failed", seed)
		}
	}
}

func TestPlanDeterministic(t *testing.T) {
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 0xd07))
		it, ed, opt := genCase(r)
		want, err := Plan(it, ed, opt)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for range 3 {
			it2, ed2, opt2 := slices.Clone(it), slices.Clone(ed), opt
			opt2.Excluded = slices.Clone(opt.Excluded)
			r.Shuffle(len(it2), func(i, j int) { it2[i], it2[j] = it2[j], it2[i] })
			r.Shuffle(len(ed2), func(i, j int) { ed2[i], ed2[j] = ed2[j], ed2[i] })
			r.Shuffle(len(opt2.Excluded), func(i, j int) { opt2.Excluded[i], opt2.Excluded[j] = opt2.Excluded[j], opt2.Excluded[i] })
			for i := range ed2 { // direction is irrelevant
				if r.IntN(2) == 0 {
					ed2[i].A, ed2[i].B = ed2[i].B, ed2[i].A
				}
			}
			got, err := Plan(it2, ed2, opt2)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: result depends on input order", seed)
			}
		}
	}
}
