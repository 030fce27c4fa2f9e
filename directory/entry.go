package directory

import (
	"slices"
	"strings"
)

// Entry is a directory object as plain data: its DN, its objectGUID and its attribute values in
// presentation form (see Kind). Attribute names are matched case-insensitively.
type Entry struct {
	DN         string
	ObjectGUID GUID
	Attrs      map[string][]string
}

// NewEntry returns an entry with an empty attribute map.
func NewEntry(dn string) *Entry { return &Entry{DN: dn, Attrs: map[string][]string{}} }

// Get returns the values of attr, matching the name case-insensitively.
func (e *Entry) Get(attr string) []string {
	if e == nil {
		return nil
	}
	if v, ok := e.Attrs[attr]; ok {
		return v
	}
	for k, v := range e.Attrs {
		if strings.EqualFold(k, attr) {
			return v
		}
	}
	return nil
}

// First returns the first value of attr, or "".
func (e *Entry) First(attr string) string {
	if v := e.Get(attr); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Has reports whether attr has at least one value.
func (e *Entry) Has(attr string) bool { return len(e.Get(attr)) > 0 }

// Set replaces the values of attr (removing it when values is empty).
func (e *Entry) Set(attr string, values ...string) {
	for k := range e.Attrs {
		if strings.EqualFold(k, attr) && k != attr {
			delete(e.Attrs, k)
		}
	}
	if len(values) == 0 {
		delete(e.Attrs, attr)
		return
	}
	e.Attrs[attr] = values
}

// Names returns the attribute names in sorted order.
func (e *Entry) Names() []string {
	names := make([]string, 0, len(e.Attrs))
	for k := range e.Attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
