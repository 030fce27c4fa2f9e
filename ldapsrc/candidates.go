package ldapsrc

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Scope values set by Candidates on each mailbox.
const (
	ScopeDirect   = "direct"   // a direct member of the scope group
	ScopeNested   = "nested"   // a member only through a group nested in the scope group
	ScopeNone     = "none"     // matched by the filter but not a member of the scope group
	ScopeFilter   = "filter"   // no scope group configured: selected by the filter alone
	scopeGroupKey = "memberOf" // the attribute membership is read from
)

// Candidates reads every mailbox readiness should judge: those the filter selects (or, without
// a filter, the members of the scope group and of the groups nested in it), each marked with how
// it relates to the scope group, since the move service accepts only direct members.
func (r *Reader) Candidates(ctx context.Context) (*directory.Scope, error) {
	s := &directory.Scope{}
	direct := map[string]bool{}
	nested := map[string]bool{}
	if r.opt.Group != "" {
		vals, err := r.groupMembers(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			direct[strings.ToLower(v)] = true
		}
		s.Elsewhere = outside(r.opt.BaseDN, vals)
		if s.NestedGroups, err = r.nestedGroups(ctx); err != nil {
			return nil, err
		}
		for _, g := range s.NestedGroups {
			for _, m := range g.Members {
				nested[strings.ToLower(m)] = true
			}
		}
	}
	filter := UserFilter("", r.opt.Filter)
	if r.opt.Filter == "" {
		if r.opt.Group == "" {
			return nil, fmt.Errorf("ldapsrc: neither a scope group nor a filter is configured")
		}
		var or strings.Builder
		or.WriteString("(|(" + scopeGroupKey + "=" + ldap.EscapeFilter(r.opt.Group) + ")")
		for _, g := range s.NestedGroups {
			or.WriteString("(" + scopeGroupKey + "=" + ldap.EscapeFilter(g.DN) + ")")
		}
		or.WriteString(")")
		filter = UserFilter("", or.String())
	}
	req := ldap.NewSearchRequest(r.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, MailboxAttributes, nil)
	refs, err := PagedBulk(ctx, r.opt.Bulk, r.conn, req, r.opt.PageSize, func(e *ldap.Entry) error {
		m := decodeMailbox(e)
		k := strings.ToLower(e.DN)
		switch {
		case r.opt.Group == "":
			m.Scope = ScopeFilter
		case direct[k]:
			m.Scope = ScopeDirect
		case nested[k]:
			m.Scope = ScopeNested
		default:
			m.Scope = ScopeNone
		}
		s.Mailboxes = append(s.Mailboxes, m)
		return nil
	}, r.log)
	if err != nil {
		return nil, fmt.Errorf("ldapsrc: read candidates: %w", err)
	}
	s.Referrals = Elsewhere(refs)
	return s, nil
}
