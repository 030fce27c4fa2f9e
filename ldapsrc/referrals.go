package ldapsrc

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
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

// membersElsewhere returns the scope group's direct members that lie outside base_dn (in
// another domain of the forest): a search of base_dn never finds them, so they are reported
// instead of silently left out. It reads the group's member values (ranged).
func (r *Reader) membersElsewhere(ctx context.Context) ([]string, error) {
	vals, err := RangedValues(ctx, r.conn, r.opt.Group, directory.AttrMember)
	if err != nil {
		return nil, fmt.Errorf("ldapsrc: read scope group members: %w", err)
	}
	return outside(r.opt.BaseDN, vals), nil
}

// outside returns the DNs of vals not under base (compared as DNs, case-insensitively), sorted.
func outside(base string, vals []string) []string {
	b, err := ldap.ParseDN(base)
	if err != nil {
		return nil // config validation refuses a base_dn that does not parse
	}
	var out []string
	for _, v := range vals {
		if dn, err := ldap.ParseDN(v); err != nil || !b.AncestorOfFold(dn) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
