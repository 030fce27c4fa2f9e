// Package ldapsrc reads the source forest: the mailboxes in scope, with paged searches, ranged
// retrieval of large member values, continuation references tolerated, and GUIDs decoded from
// Active Directory's byte order.
package ldapsrc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Conn is the part of *ldap.Conn the readers use.
type Conn interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
}

// Paged runs req page by page, calling fn for each entry, checking ctx between pages. It
// returns the number of continuation references the server sent (tolerated, never followed).
func Paged(ctx context.Context, c Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) (int, error) {
	paging := ldap.NewControlPaging(uint32(pageSize))
	controls := append([]ldap.Control{paging}, req.Controls...)
	refs := 0
	for {
		if err := ctx.Err(); err != nil {
			return refs, err
		}
		r := *req
		r.Controls = controls
		res, err := c.Search(&r)
		if err != nil {
			return refs, fmt.Errorf("search %s %s: %w", req.BaseDN, req.Filter, err)
		}
		refs += len(res.Referrals)
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				return refs, err
			}
		}
		pc, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pc == nil || len(pc.Cookie) == 0 {
			return refs, nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// RangedValues reads every value of a multi-valued attribute (such as member) of one object
// with ranged retrieval (attr;range=low-*), as AD returns at most MaxValRange values at a time.
func RangedValues(ctx context.Context, c Conn, dn, attr string) ([]string, error) {
	var out []string
	low := 0
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		want := fmt.Sprintf("%s;range=%d-*", attr, low)
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			0, 0, false, "(objectClass=*)", []string{want}, nil))
		if err != nil {
			return out, fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if len(res.Entries) == 0 {
			return out, fmt.Errorf("read %s of %s: no entry returned", attr, dn)
		}
		var got *ldap.EntryAttribute
		for _, a := range res.Entries[0].Attributes {
			if strings.EqualFold(a.Name, attr) || strings.HasPrefix(strings.ToLower(a.Name), strings.ToLower(attr)+";") {
				got = a
				break
			}
		}
		if got == nil {
			return out, nil // no (more) values
		}
		out = append(out, got.Values...)
		high, done, err := rangeEnd(got.Name)
		if err != nil {
			return out, fmt.Errorf("read %s of %s: %w", attr, dn, err)
		}
		if done || len(got.Values) == 0 {
			return out, nil
		}
		low = high + 1
	}
}

// rangeEnd parses "member;range=0-1499" → 1499, false; "member;range=1500-*" → 0, true; a name
// without a range (the server sent every value at once) → done.
func rangeEnd(name string) (int, bool, error) {
	i := strings.LastIndex(strings.ToLower(name), ";range=")
	if i < 0 {
		return 0, true, nil
	}
	_, hi, ok := strings.Cut(name[i+len(";range="):], "-")
	if !ok {
		return 0, false, fmt.Errorf("unexpected range in attribute %q", name)
	}
	if hi == "*" {
		return 0, true, nil
	}
	n, err := strconv.Atoi(hi)
	if err != nil {
		return 0, false, fmt.Errorf("unexpected range in attribute %q", name)
	}
	return n, false, nil
}
