package ldapsrc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
)

// ErrScopeGroup is returned when the configured scope group does not exist or is not a group.
var ErrScopeGroup = errors.New("scope group")

// Options say where and what to read.
type Options struct {
	BaseDN   string
	Group    string // DN of the scope group; direct members only
	Filter   string // extra LDAP filter, ANDed
	PageSize int
	// Bulk, if set, opens the connection the mailboxes are read on, so the smaller searches
	// (ranged members, nested groups) keep the main connection to themselves.
	Bulk BulkDialer
}

// Reader reads source mailboxes.
type Reader struct {
	conn Conn
	opt  Options
	log  *slog.Logger
}

// New returns a Reader over an open, bound connection.
func New(c Conn, opt Options, log *slog.Logger) *Reader {
	if opt.PageSize <= 0 {
		opt.PageSize = 1000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{conn: c, opt: opt, log: log}
}

// MailboxAttributes are the source attributes read for each mailbox (the registry's source
// attributes).
var MailboxAttributes = directory.SourceAttributes

// UserFilter returns the filter for the mailboxes in scope: users (not computers), direct
// members of group (escaped) if set, and the extra filter if set.
func UserFilter(group, extra string) string {
	f := "(objectClass=user)(!(objectClass=computer))"
	if group != "" {
		f += "(memberOf=" + ldap.EscapeFilter(group) + ")"
	}
	if extra != "" {
		f += extra
	}
	return "(&" + f + ")"
}

// Scope reads the mailboxes in scope and reports nested groups and members that are not users.
func (r *Reader) Scope(ctx context.Context) (*directory.Scope, error) {
	var mbx []directory.Mailbox
	s, err := r.EachMailbox(ctx, func(m *directory.Mailbox) error {
		mbx = append(mbx, *m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Mailboxes = mbx
	return s, nil
}

// EachMailbox reads the mailboxes in scope and hands each to fn as it arrives, so a caller need
// not hold them all; the Scope it returns reports the rest (nested groups, members that are not
// users, referrals) and has no Mailboxes. An error from fn stops the read and is returned.
func (r *Reader) EachMailbox(ctx context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	if r.opt.Group != "" && r.opt.Filter == "" {
		return r.eachMember(ctx, fn)
	}
	s := &directory.Scope{}
	n := 0
	// With a filter too, the scope group's nested groups are found while the mailboxes page in
	// (a search on memberOf: no need to read a large member list).
	var (
		gerr, eerr error
		wg         sync.WaitGroup
	)
	scope := "filter"
	if r.opt.Group != "" {
		scope = "group+filter"
		if err := r.checkGroup(); err != nil {
			return nil, err
		}
		wg.Go(func() { s.NestedGroups, gerr = r.nestedGroups(ctx) })
		wg.Go(func() { s.Elsewhere, eerr = r.membersElsewhere(ctx) })
	}
	req := ldap.NewSearchRequest(r.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		UserFilter(r.opt.Group, r.opt.Filter), MailboxAttributes, nil)
	refs, err := PagedBulk(ctx, r.opt.Bulk, r.conn, req, r.opt.PageSize, func(e *ldap.Entry) error {
		m := decodeMailbox(e)
		m.Scope = scope
		n++
		return fn(&m)
	}, r.log)
	wg.Wait()
	if gerr = errors.Join(gerr, eerr); gerr != nil {
		return nil, gerr
	}
	if err != nil {
		return nil, fmt.Errorf("ldapsrc: read mailboxes: %w", err)
	}
	s.Referrals = Elsewhere(refs)
	r.log.Debug("source scope read", "mailboxes", n, "nested_groups", len(s.NestedGroups), "referrals", len(refs))
	return s, nil
}

// notUserReason is why a member of the scope group that is no user is skipped.
const notUserReason = "member of the scope group but not a user object (contact, computer or other)"

// eachMember reads a group-only scope with one search for every direct member of the group
// (memberOf): users are the mailboxes, groups are reported as nested (never followed, as the
// move service does not follow them), anything else (contacts, computers) is skipped. The
// directory evaluates memberOf once, instead of for three searches.
func (r *Reader) eachMember(ctx context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	// The group is checked while the read starts: a missing group, or a DN that is no group,
	// has no members, so nothing reaches fn before the check's error is returned.
	var (
		gerr error
		wg   sync.WaitGroup
	)
	s := &directory.Scope{}
	wg.Go(func() {
		if gerr = r.checkGroup(); gerr == nil {
			s.Elsewhere, gerr = r.membersElsewhere(ctx)
		}
	})
	n := 0
	req := ldap.NewSearchRequest(r.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(memberOf="+ldap.EscapeFilter(r.opt.Group)+")", append(slices.Clip(MailboxAttributes), directory.AttrObjectClass), nil)
	refs, err := PagedBulk(ctx, r.opt.Bulk, r.conn, req, r.opt.PageSize, func(e *ldap.Entry) error {
		switch memberKind(e) {
		case kindGroup:
			s.NestedGroups = append(s.NestedGroups, directory.Group{DN: e.DN})
		case kindUser:
			m := decodeMailbox(e)
			m.Scope = "group"
			n++
			return fn(&m)
		default:
			s.Skipped = append(s.Skipped, directory.Skipped{DN: e.DN, Reason: notUserReason})
		}
		return nil
	}, r.log)
	wg.Wait()
	if gerr != nil {
		return nil, gerr
	}
	if err != nil {
		return nil, fmt.Errorf("ldapsrc: read mailboxes: %w", err)
	}
	if err := r.nestedMembers(ctx, s.NestedGroups); err != nil {
		return nil, err
	}
	s.Referrals = Elsewhere(refs)
	slices.SortFunc(s.Skipped, func(a, b directory.Skipped) int { return strings.Compare(a.DN, b.DN) })
	r.log.Debug("source scope read", "mailboxes", n, "nested_groups", len(s.NestedGroups),
		"skipped", len(s.Skipped), "referrals", len(refs))
	return s, nil
}

type kind int

const (
	kindOther kind = iota
	kindUser
	kindGroup
)

// memberKind tells a group's member apart by its objectClass values, as the filters
// (objectClass=group) and (&(objectClass=user)(!(objectClass=computer))) would.
func memberKind(e *ldap.Entry) kind {
	var user, computer bool
	for _, a := range e.Attributes {
		if !strings.EqualFold(a.Name, directory.AttrObjectClass) {
			continue
		}
		for _, v := range a.Values {
			switch {
			case strings.EqualFold(v, "group"):
				return kindGroup
			case strings.EqualFold(v, "user"):
				user = true
			case strings.EqualFold(v, "computer"):
				computer = true
			}
		}
	}
	if user && !computer {
		return kindUser
	}
	return kindOther
}

// checkGroup returns ErrScopeGroup unless the scope group exists and is a group.
func (r *Reader) checkGroup() error {
	res, err := r.conn.Search(ldap.NewSearchRequest(r.opt.Group, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=group)", []string{directory.AttrDistinguishedName}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || err == nil && len(res.Entries) == 0 {
		return fmt.Errorf("%w %s: not found or not a group; check scope.group", ErrScopeGroup, r.opt.Group)
	}
	if err != nil {
		return fmt.Errorf("ldapsrc: read scope group %s: %w", r.opt.Group, err)
	}
	return nil
}

// groupMembers reads every direct member of the scope group, with ranged retrieval.
func (r *Reader) groupMembers(ctx context.Context) ([]string, error) {
	if err := r.checkGroup(); err != nil {
		return nil, err
	}
	return RangedValues(ctx, r.conn, r.opt.Group, directory.AttrMember)
}

func (r *Reader) nestedGroups(ctx context.Context) ([]directory.Group, error) {
	var out []directory.Group
	req := ldap.NewSearchRequest(r.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=group)(memberOf="+ldap.EscapeFilter(r.opt.Group)+"))", []string{directory.AttrDistinguishedName}, nil)
	_, err := Paged(ctx, r.conn, req, r.opt.PageSize, func(e *ldap.Entry) error {
		out = append(out, directory.Group{DN: e.DN})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldapsrc: find nested groups: %w", err)
	}
	return out, r.nestedMembers(ctx, out)
}

// nestedMembers reads each nested group's members (ranged) and sorts groups and members.
func (r *Reader) nestedMembers(ctx context.Context, gs []directory.Group) error {
	for i := range gs {
		m, err := RangedValues(ctx, r.conn, gs[i].DN, directory.AttrMember)
		if err != nil {
			return err
		}
		slices.Sort(m)
		gs[i].Members = m
	}
	slices.SortFunc(gs, func(a, b directory.Group) int { return strings.Compare(a.DN, b.DN) })
	return nil
}

func decodeMailbox(e *ldap.Entry) directory.Mailbox {
	m := directory.Mailbox{
		DN:               e.DN,
		CN:               e.GetAttributeValue(directory.AttrCN),
		DisplayName:      e.GetAttributeValue(directory.AttrDisplayName),
		GivenName:        e.GetAttributeValue(directory.AttrGivenName),
		Surname:          e.GetAttributeValue(directory.AttrSurname),
		SAMAccountName:   e.GetAttributeValue(directory.AttrSAMAccountName),
		UPN:              e.GetAttributeValue(directory.AttrUPN),
		Mail:             e.GetAttributeValue(directory.AttrMail),
		Alias:            e.GetAttributeValue(directory.AttrMailNickname),
		TargetAddress:    e.GetAttributeValue(directory.AttrTargetAddress),
		LegacyExchangeDN: e.GetAttributeValue(directory.AttrLegacyExchangeDN),
		MailboxGUID:      e.GetRawAttributeValue(directory.AttrMailboxGUID),
		ArchiveGUID:      e.GetRawAttributeValue(directory.AttrArchiveGUID),

		ELCMailboxFlags:    e.GetAttributeValue(directory.AttrELCMailboxFlags),
		LitigationHoldDate: e.GetAttributeValue(directory.AttrLitigationHoldDate),
		UserHoldPolicies:   e.GetAttributeValues(directory.AttrUserHoldPolicies),
		PublicDelegates:    e.GetAttributeValues(directory.AttrPublicDelegates),
		DelegateListLink:   e.GetAttributeValues(directory.AttrDelegateListLink),
	}
	if g, err := directory.GUIDFromAD(e.GetRawAttributeValue(directory.AttrObjectGUID)); err == nil {
		m.ObjectGUID = g
	}
	for _, p := range e.GetAttributeValues(directory.AttrProxyAddresses) {
		m.Proxies = append(m.Proxies, directory.Proxy(p))
	}
	if v := e.GetAttributeValue(directory.AttrRecipientTypeDetails); v != "" {
		m.TypeDetails, _ = strconv.ParseInt(v, 10, 64)
		m.HasTypeDetails = true
	}
	m.DisplayType, _ = strconv.ParseInt(e.GetAttributeValue(directory.AttrRecipientDisplayType), 10, 64)
	m.RemoteType, _ = strconv.ParseInt(e.GetAttributeValue(directory.AttrRemoteRecipientType), 10, 64)
	for _, h := range []string{directory.AttrBlockedSendersHash, directory.AttrSafeSendersHash, directory.AttrSafeRecipientsHash} {
		if b := e.GetRawAttributeValue(h); len(b) > 0 {
			if m.Hashes == nil {
				m.Hashes = map[string]string{}
			}
			m.Hashes[h] = base64.StdEncoding.EncodeToString(b)
		}
	}
	return m
}
