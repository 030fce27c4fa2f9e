package batch

import (
	"fmt"
	"strings"
	"unicode"
)

// fold is the case-insensitive key of an ID or an address.
func fold(s string) string { return strings.ToLower(s) }

// index holds the validated items with their keys.
type index struct {
	items   []Item
	idKey   []string       // fold(items[i].ID)
	addrKey []string       // fold(items[i].Address)
	byID    map[string]int // fold(ID) -> position in items
}

// newIndex validates items and the caller's exclusions: IDs must be non-empty and unique,
// addresses usable and unique, and no excluded ID may also be an item.
func newIndex(items []Item, excluded []Excluded) (*index, error) {
	x := &index{
		items:   items,
		idKey:   make([]string, len(items)),
		addrKey: make([]string, len(items)),
		byID:    make(map[string]int, len(items)),
	}
	byAddr := make(map[string]int, len(items))
	for i, it := range items {
		if strings.TrimSpace(it.ID) == "" {
			return nil, fmt.Errorf("batch: item %d (address %q): %w", i, it.Address, ErrID)
		}
		id := fold(it.ID)
		if j, dup := x.byID[id]; dup {
			return nil, fmt.Errorf("batch: %q (also %q): %w", it.ID, items[j].ID, ErrDuplicateID)
		}
		x.byID[id] = i
		x.idKey[i] = id
		if err := checkAddress(it.Address); err != nil {
			return nil, fmt.Errorf("batch: %q: address %q: %w", it.ID, it.Address, err)
		}
		a := fold(it.Address)
		if j, dup := byAddr[a]; dup {
			return nil, fmt.Errorf("batch: %q used by %q and %q: %w",
				it.Address, items[j].ID, it.ID, ErrDuplicateAddress)
		}
		byAddr[a] = i
		x.addrKey[i] = a
	}
	seen := make(map[string]string, len(excluded))
	for i, e := range excluded {
		if strings.TrimSpace(e.ID) == "" {
			return nil, fmt.Errorf("batch: excluded %d (address %q): %w", i, e.Address, ErrID)
		}
		id := fold(e.ID)
		if j, dup := x.byID[id]; dup {
			return nil, fmt.Errorf("batch: %q is both an item (%q) and excluded: %w",
				e.ID, items[j].ID, ErrDuplicateID)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("batch: excluded %q (also %q): %w", e.ID, prev, ErrDuplicateID)
		}
		seen[id] = e.ID
	}
	return x, nil
}

// checkAddress rejects what New-MigrationBatch cannot use: an empty address, one without a
// local part and a domain, or one with spaces or control characters.
func checkAddress(a string) error {
	if strings.TrimSpace(a) == "" {
		return fmt.Errorf("empty (the caller must pass the target tenant address): %w", ErrAddress)
	}
	for _, r := range a {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("contains a space or control character: %w", ErrAddress)
		}
	}
	at := strings.LastIndexByte(a, '@')
	if at < 1 || at == len(a)-1 {
		return fmt.Errorf("not local@domain: %w", ErrAddress)
	}
	return nil
}

// checkEdge rejects edges that cannot come from a directory attribute.
func checkEdge(i int, e Edge) error {
	if strings.TrimSpace(e.A) == "" || strings.TrimSpace(e.B) == "" || strings.TrimSpace(e.Kind) == "" {
		return fmt.Errorf("batch: edge %d (%q - %q, kind %q): empty field: %w", i, e.A, e.B, e.Kind, ErrEdge)
	}
	return nil
}
