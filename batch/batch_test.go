package batch

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Fixtures: source DNs in the contoso forest, target addresses in the northwind tenant.

func dn(name string) string { return "CN=" + name + ",OU=Users,DC=contoso,DC=test" }

func addr(name string) string { return strings.ToLower(name) + "@northwind.onmicrosoft.com" }

func item(name string) Item { return Item{ID: dn(name), Address: addr(name), Alias: name} }

func items(names ...string) []Item {
	out := make([]Item, len(names))
	for i, n := range names {
		out[i] = item(n)
	}
	return out
}

func edge(a, b, kind string) Edge { return Edge{A: dn(a), B: dn(b), Kind: kind} }

const (
	pd = KindPublicDelegates
	dl = KindDelegateListLink
)

// mustPlan runs Plan and fails the test on error.
func mustPlan(t *testing.T, it []Item, ed []Edge, opt Options) *Result {
	t.Helper()
	r, err := Plan(it, ed, opt)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return r
}

// addresses lists the addresses of a batch, in order.
func addresses(b Batch) []string {
	out := make([]string, len(b.Members))
	for i, m := range b.Members {
		out[i] = m.Address
	}
	return out
}

// member finds the batch member with the given address.
func member(t *testing.T, r *Result, address string) Member {
	t.Helper()
	for _, b := range r.Batches {
		for _, m := range b.Members {
			if m.Address == address {
				return m
			}
		}
	}
	t.Fatalf("%s is in no batch", address)
	return Member{}
}

func TestPlanTransitiveGrouping(t *testing.T) {
	r := mustPlan(t, items("Dan", "Carol", "Bob", "Alice"),
		[]Edge{edge("Alice", "Bob", pd), edge("Carol", "Bob", dl)}, Options{Size: 3})
	if len(r.Batches) != 2 {
		t.Fatalf("got %d batches, want 2: %+v", len(r.Batches), r.Batches)
	}
	want := []string{addr("Alice"), addr("Bob"), addr("Carol")}
	if got := addresses(r.Batches[0]); !slices.Equal(got, want) {
		t.Errorf("batch-001 = %v, want %v", got, want)
	}
	if got := addresses(r.Batches[1]); !slices.Equal(got, []string{addr("Dan")}) {
		t.Errorf("batch-002 = %v, want Dan alone", got)
	}
	if r.Batches[0].Name != "batch-001" || r.Batches[1].Name != "batch-002" {
		t.Errorf("names = %q, %q", r.Batches[0].Name, r.Batches[1].Name)
	}
	for _, m := range r.Batches[0].Members {
		if m.Group != 1 {
			t.Errorf("%s: group %d, want 1", m.Address, m.Group)
		}
	}
	if g := r.Batches[1].Members[0].Group; g != 2 {
		t.Errorf("Dan: group %d, want 2", g)
	}
	if len(r.Oversized) != 0 || len(r.Excluded) != 0 {
		t.Errorf("oversized %v, excluded %v: want none", r.Oversized, r.Excluded)
	}
}

func TestPlanReasons(t *testing.T) {
	r := mustPlan(t, items("Alice", "Bob", "Carol", "Dan", "Erin"), []Edge{
		edge("Alice", "Bob", dl),
		edge("Bob", "Carol", pd),
		edge("Alice", "Bob", pd), // the same pair again, another kind
		edge("Dan", "Ghost", pd), // Ghost is not an item
		edge("dan", "GHOST", dl), // the same outside ID, other spelling
		edge("Ghost", "Phantom", pd),
		edge("Erin", "Erin", pd), // self-delegation carries no information
	}, Options{})
	tests := []struct {
		name string
		want []string
	}{
		{"Alice", []string{"delegation group of 3: with bob@northwind.onmicrosoft.com, carol@northwind.onmicrosoft.com (publicDelegates, msExchDelegateListLink)"}},
		{"Carol", []string{"delegation group of 3: with alice@northwind.onmicrosoft.com, bob@northwind.onmicrosoft.com (publicDelegates, msExchDelegateListLink)"}},
		{"Dan", []string{"delegate CN=GHOST,OU=Users,DC=contoso,DC=test is not in this export (blocked or out of scope): permissions to it will break after the move (publicDelegates, msExchDelegateListLink)"}},
		{"Erin", []string{ReasonNoLinks}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := member(t, r, addr(tc.name)).Reasons; !slices.Equal(got, tc.want) {
				t.Errorf("reasons =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPlanGroupReasonWithOutsideDelegate(t *testing.T) {
	r := mustPlan(t, items("Alice", "Bob"),
		[]Edge{edge("Alice", "Bob", pd), edge("Zed", "Alice", dl), edge("Alice", "Yan", pd)}, Options{})
	got := member(t, r, addr("Alice")).Reasons
	want := []string{
		"delegation group of 2: with bob@northwind.onmicrosoft.com (publicDelegates)",
		"delegate " + dn("Yan") + " is not in this export (blocked or out of scope): permissions to it will break after the move (publicDelegates)",
		"delegate " + dn("Zed") + " is not in this export (blocked or out of scope): permissions to it will break after the move (msExchDelegateListLink)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reasons =\n%q\nwant\n%q", got, want)
	}
}

func TestPlanGroupReasonListsAtMostTen(t *testing.T) {
	var names []string
	var ed []Edge
	for i := range 15 {
		names = append(names, fmt.Sprintf("U%02d", i))
		if i > 0 {
			ed = append(ed, edge("U00", names[i], "FullAccess"))
		}
	}
	r := mustPlan(t, items(names...), ed, Options{})
	got := member(t, r, addr("U00")).Reasons[0]
	want := "delegation group of 15: with u01@northwind.onmicrosoft.com, "
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ", u10@northwind.onmicrosoft.com and 4 more (FullAccess)") {
		t.Errorf("reason = %q", got)
	}
}

func TestPlanFirstFitDecreasing(t *testing.T) {
	// Components: {A1,A2,A3}, {B1,B2,B3}, {C1,C2}, {D}, {E}; size 5.
	// Largest first, ties by smallest ID: A (3) -> batch 1, B (3) -> batch 2,
	// C (2) -> batch 1 (3+2=5), D -> batch 2, E -> batch 2.
	it := items("E", "D", "C2", "C1", "B3", "B2", "B1", "A3", "A2", "A1")
	ed := []Edge{
		edge("A1", "A2", pd), edge("A2", "A3", pd),
		edge("B3", "B1", dl), edge("B2", "B1", pd),
		edge("C1", "C2", dl),
	}
	r := mustPlan(t, it, ed, Options{Size: 5})
	want := [][]string{
		{addr("A1"), addr("A2"), addr("A3"), addr("C1"), addr("C2")},
		{addr("B1"), addr("B2"), addr("B3"), addr("D"), addr("E")},
	}
	if len(r.Batches) != len(want) {
		t.Fatalf("got %d batches, want %d", len(r.Batches), len(want))
	}
	for k, w := range want {
		if got := addresses(r.Batches[k]); !slices.Equal(got, w) {
			t.Errorf("batch %d = %v, want %v", k+1, got, w)
		}
	}
	groups := map[string]int{"A1": 1, "B1": 2, "C1": 3, "D": 4, "E": 5}
	for name, g := range groups {
		if got := member(t, r, addr(name)).Group; got != g {
			t.Errorf("%s: group %d, want %d", name, got, g)
		}
	}
}

func TestPlanOversizedGroupIsReportedNotSplit(t *testing.T) {
	// A chain of four with size 3: the group is left out whole; the others are batched.
	it := items("A", "B", "C", "D", "X", "Y")
	ed := []Edge{edge("A", "B", pd), edge("B", "C", dl), edge("C", "D", pd)}
	r := mustPlan(t, it, ed, Options{Size: 3})
	wantGroup := []Group{{ID: 1, Size: 4, Kinds: []string{pd, dl},
		Members: []string{addr("A"), addr("B"), addr("C"), addr("D")}}}
	if !reflect.DeepEqual(r.Oversized, wantGroup) {
		t.Errorf("oversized = %+v, want %+v", r.Oversized, wantGroup)
	}
	reason := "delegation group 1 of 4 mailboxes exceeds the batch size of 3 and is never split " +
		"(cross-tenant permissions would break): raise the batch size to at least 4 or reduce its delegations, and plan again"
	partners := map[string][]string{
		"A": {addr("B")}, "B": {addr("A"), addr("C")}, "C": {addr("B"), addr("D")}, "D": {addr("C")},
	}
	var want []Excluded
	for _, n := range []string{"A", "B", "C", "D"} {
		want = append(want, Excluded{ID: dn(n), Address: addr(n), Reason: reason, Group: 1, Members: partners[n]})
	}
	if !reflect.DeepEqual(r.Excluded, want) {
		t.Errorf("excluded =\n%+v\nwant\n%+v", r.Excluded, want)
	}
	if len(r.Batches) != 1 || !slices.Equal(addresses(r.Batches[0]), []string{addr("X"), addr("Y")}) {
		t.Errorf("batches = %+v, want X and Y only", r.Batches)
	}
}

func TestPlanOversizedAtMaxSizeHint(t *testing.T) {
	var names []string
	var ed []Edge
	for i := range MaxSize + 1 {
		names = append(names, fmt.Sprintf("U%04d", i))
		if i > 0 {
			ed = append(ed, edge(names[i-1], names[i], pd))
		}
	}
	r := mustPlan(t, items(names...), ed, Options{})
	if len(r.Batches) != 0 || len(r.Oversized) != 1 || r.Oversized[0].Size != MaxSize+1 || len(r.Excluded) != MaxSize+1 {
		t.Fatalf("batches %d, oversized %d, excluded %d", len(r.Batches), len(r.Oversized), len(r.Excluded))
	}
	if got := r.Excluded[0].Reason; !strings.HasSuffix(got, ": reduce its delegations and plan again") {
		t.Errorf("reason = %q", got)
	}
}

func TestPlanSize(t *testing.T) {
	tests := []struct {
		size, want int
		err        error
	}{
		{0, MaxSize, nil},
		{-3, MaxSize, nil},
		{1, 1, nil},
		{MaxSize, MaxSize, nil},
		{MaxSize + 1, 0, ErrSize},
		{1 << 40, 0, ErrSize},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			r, err := Plan(items("A"), nil, Options{Size: tc.size})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && r.Size != tc.want {
				t.Errorf("size = %d, want %d", r.Size, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprint(tc.size)) {
				t.Errorf("error %q does not name the size", err)
			}
		})
	}
}

func TestPlanDefaultSizeFillsBatches(t *testing.T) {
	// 4001 unlinked mailboxes with the default size: 2000 + 2000 + 1.
	var names []string
	for i := range 2*MaxSize + 1 {
		names = append(names, fmt.Sprintf("U%05d", i))
	}
	r := mustPlan(t, items(names...), nil, Options{})
	var got []int
	for _, b := range r.Batches {
		got = append(got, len(b.Members))
	}
	if !slices.Equal(got, []int{MaxSize, MaxSize, 1}) {
		t.Errorf("batch sizes = %v", got)
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name  string
		items []Item
		edges []Edge
		excl  []Excluded
		err   error
		says  []string // substrings the message must contain
	}{
		{"duplicate ID differs in case", []Item{item("A"), {ID: strings.ToUpper(dn("A")), Address: "other@northwind.test"}},
			nil, nil, ErrDuplicateID, []string{strings.ToUpper(dn("A")), dn("A")}},
		{"duplicate address", []Item{item("A"), {ID: dn("B"), Address: strings.ToUpper(addr("A"))}},
			nil, nil, ErrDuplicateAddress, []string{dn("A"), dn("B")}},
		{"empty address", []Item{{ID: dn("A")}}, nil, nil, ErrAddress, []string{dn("A"), "target tenant address"}},
		{"blank address", []Item{{ID: dn("A"), Address: "  "}}, nil, nil, ErrAddress, []string{dn("A")}},
		{"address with a space", []Item{{ID: dn("A"), Address: "a b@northwind.test"}}, nil, nil, ErrAddress, []string{dn("A")}},
		{"address with a newline", []Item{{ID: dn("A"), Address: "a@northwind.test\nb@x.test"}}, nil, nil, ErrAddress, []string{dn("A")}},
		{"address without domain", []Item{{ID: dn("A"), Address: "alice@"}}, nil, nil, ErrAddress, []string{dn("A")}},
		{"address without @", []Item{{ID: dn("A"), Address: "alice"}}, nil, nil, ErrAddress, []string{dn("A")}},
		{"empty ID", []Item{{Address: "a@northwind.test"}}, nil, nil, ErrID, []string{"a@northwind.test"}},
		{"edge without kind", items("A", "B"), []Edge{{A: dn("A"), B: dn("B")}}, nil, ErrEdge, []string{"edge 0"}},
		{"edge without end", items("A"), []Edge{edge("A", "A", pd), {A: dn("A"), Kind: pd}}, nil, ErrEdge, []string{"edge 1"}},
		{"excluded is an item", items("A"), nil, []Excluded{{ID: strings.ToLower(dn("A")), Reason: "blocked"}},
			ErrDuplicateID, []string{strings.ToLower(dn("A"))}},
		{"excluded twice", items("A"), nil, []Excluded{{ID: dn("B")}, {ID: dn("b")}}, ErrDuplicateID, []string{dn("b")}},
		{"excluded without ID", items("A"), nil, []Excluded{{Address: "b@northwind.test"}}, ErrID, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Plan(tc.items, tc.edges, Options{Excluded: tc.excl})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if r != nil {
				t.Errorf("result %+v with an error", r)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestPlanIDsAreCaseInsensitive(t *testing.T) {
	ed := []Edge{{A: strings.ToUpper(dn("Alice")), B: strings.ToLower(dn("Bob")), Kind: pd}}
	r := mustPlan(t, items("Alice", "Bob", "Carol"), ed, Options{Size: 2})
	if got := addresses(r.Batches[0]); !slices.Equal(got, []string{addr("Alice"), addr("Bob")}) {
		t.Errorf("batch-001 = %v, want Alice and Bob", got)
	}
	if got := member(t, r, addr("Alice")).Reasons; len(got) != 1 || !strings.HasPrefix(got[0], "delegation group of 2") {
		t.Errorf("reasons = %q", got)
	}
}

func TestPlanPassesExclusionsThrough(t *testing.T) {
	excl := []Excluded{
		{ID: dn("Zoe"), Address: addr("Zoe"), Reason: "blocked: no target MailUser"},
		{ID: dn("Blocked"), Reason: "blocked: litigation hold", Members: []string{"x"}},
	}
	keep := cloneExcluded(excl)
	it := items("Alice", "Bob")
	ed := []Edge{edge("Alice", "Blocked", pd), edge("Bob", "Alice", dl)}
	keepIt, keepEd := slices.Clone(it), slices.Clone(ed)
	r := mustPlan(t, it, ed, Options{Excluded: excl})
	want := []Excluded{keep[1], keep[0]} // sorted by ID
	if !reflect.DeepEqual(r.Excluded, want) {
		t.Errorf("excluded = %+v, want %+v", r.Excluded, want)
	}
	r.Excluded[0].Members[0] = "changed"
	if !reflect.DeepEqual(excl, keep) || !slices.Equal(it, keepIt) || !slices.Equal(ed, keepEd) {
		t.Error("Plan or its Result shares or modifies the caller's slices")
	}
	got := member(t, r, addr("Alice")).Reasons
	if len(got) != 2 || !strings.HasPrefix(got[1], "delegate "+dn("Blocked")+" is not in this export") {
		t.Errorf("reasons = %q", got)
	}
}

func TestPlanEmpty(t *testing.T) {
	r := mustPlan(t, nil, []Edge{edge("Ghost", "Phantom", pd)}, Options{})
	if len(r.Batches)+len(r.Oversized)+len(r.Excluded) != 0 || r.Size != MaxSize {
		t.Errorf("result = %+v, want empty", r)
	}
}
