package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// synthetic returns n mailboxes with a random delegation graph (fixed seed): m random edges
// (average degree below one, so mostly singletons and small groups), a few chains of 25 to
// 150 mailboxes, and some edges to delegates outside the export.
func synthetic(n, m int) ([]Item, []Edge) {
	r := rand.New(rand.NewPCG(20000, 2000))
	it := make([]Item, n)
	for i := range it {
		it[i] = Item{
			ID:      fmt.Sprintf("CN=User %05d,OU=Staff,DC=contoso,DC=test", i),
			Address: fmt.Sprintf("user%05d@northwind.onmicrosoft.com", i),
			Alias:   fmt.Sprintf("user%05d", i),
		}
	}
	kinds := [...]string{KindPublicDelegates, KindDelegateListLink}
	ed := make([]Edge, 0, m+2000)
	for range m {
		ed = append(ed, Edge{A: it[r.IntN(n)].ID, B: it[r.IntN(n)].ID, Kind: kinds[r.IntN(2)]})
	}
	for _, length := range []int{25, 60, 150} {
		start := r.IntN(n)
		for k := range length {
			ed = append(ed, Edge{A: it[(start+k)%n].ID, B: it[(start+k+1)%n].ID, Kind: KindPublicDelegates})
		}
	}
	for range 200 {
		ed = append(ed, Edge{A: it[r.IntN(n)].ID, B: fmt.Sprintf("CN=Gone %03d,OU=Left,DC=contoso,DC=test", r.IntN(100)),
			Kind: kinds[r.IntN(2)]})
	}
	return it, ed
}

func BenchmarkPlan20k(b *testing.B) {
	it, ed := synthetic(20000, 8000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Plan(it, ed, Options{Size: MaxSize}); err != nil {
			b.Fatal(err)
		}
	}
}
