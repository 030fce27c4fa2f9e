package ldapsrc

import (
	"net/url"
	"slices"
	"strings"
)

// partitions are the naming contexts a subtree search from a domain root refers to in every
// Active Directory forest: they hold configuration and DNS records, never mailboxes.
var partitions = []string{"cn=configuration,", "dc=domaindnszones,", "dc=forestdnszones,"}

// Elsewhere keeps the continuation references that may hold mailboxes: those to another domain
// (a child domain, another tree), sorted and without duplicates. A reference to the forest's
// Configuration or DNS partitions is dropped: AD returns them for every search from a domain
// root.
func Elsewhere(refs []string) []string {
	var out []string
	for _, r := range refs {
		dn := r
		if u, err := url.Parse(r); err == nil && u.Path != "" {
			dn = strings.TrimPrefix(u.Path, "/")
			if p, err := url.PathUnescape(dn); err == nil {
				dn = p
			}
		}
		low := strings.ToLower(strings.ReplaceAll(dn, ", ", ","))
		if !slices.ContainsFunc(partitions, func(p string) bool { return strings.HasPrefix(low, p) }) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
