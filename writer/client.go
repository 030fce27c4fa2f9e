package writer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
)

// Conn is the part of *ldap.Conn the writer uses.
type Conn interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	Add(req *ldap.AddRequest) error
	Modify(req *ldap.ModifyRequest) error
	Del(req *ldap.DelRequest) error
	Close() error
}

// Dialer opens a new bound connection to the target forest.
type Dialer func(ctx context.Context) (Conn, error)

// Options say where the writer reads and may write.
type Options struct {
	BaseDN      string
	OU          string
	OwnerAttr   string
	OwnerValue  string
	Anchor      string
	PageSize    int
	Connections int
	// SkipOwnerCheck lets updates through on objects without the ownership marker: only for
	// the source forest, whose mailboxes xtmsyncd never owns (cutover rewrites their routing).
	SkipOwnerCheck bool
	// Bulk, if set, opens the connection the whole-forest read (EachEntry) runs on (ldapwire:
	// faster); writes and compare-and-set reads stay on the pool.
	Bulk ldapsrc.BulkDialer
}

// Client reads and writes the target forest through a small pool of connections.
type Client struct {
	dial Dialer
	opt  Options
	ou   *ldap.DN
	pool chan Conn
	log  *slog.Logger
}

// New returns a Client. Connections are opened on first use, at most opt.Connections.
func New(dial Dialer, opt Options, log *slog.Logger) (*Client, error) {
	ou, err := ldap.ParseDN(opt.OU)
	if err != nil {
		return nil, fmt.Errorf("writer: target OU %q: %w", opt.OU, err)
	}
	if opt.Connections < 1 {
		opt.Connections = 1
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 1000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{dial: dial, opt: opt, ou: ou, pool: make(chan Conn, opt.Connections), log: log}
	for range opt.Connections {
		c.pool <- nil // a free slot; dialled lazily
	}
	return c, nil
}

// Connections is the pool size: how many changes may be applied at once.
func (c *Client) Connections() int { return c.opt.Connections }

func (c *Client) acquire(ctx context.Context) (Conn, error) {
	select {
	case conn := <-c.pool:
		if conn != nil {
			return conn, nil
		}
		conn, err := c.dial(ctx)
		if err != nil {
			c.pool <- nil
			return nil, err
		}
		return conn, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release returns conn to the pool; a broken connection is closed and its slot freed.
func (c *Client) release(conn Conn, broken bool) {
	if broken {
		conn.Close()
		conn = nil
	}
	c.pool <- conn
}

// Close closes the pooled connections.
func (c *Client) Close() error {
	for range c.opt.Connections {
		if conn := <-c.pool; conn != nil {
			conn.Close()
		}
	}
	return nil
}

// TargetAttributes are read for every target object the plan is diffed against.
var TargetAttributes = []string{
	directory.AttrObjectGUID, directory.AttrCN, directory.AttrSAMAccountName, directory.AttrUPN,
	directory.AttrDisplayName, directory.AttrGivenName, directory.AttrSurname, directory.AttrMail,
	directory.AttrMailNickname, directory.AttrProxyAddresses, directory.AttrTargetAddress,
	directory.AttrMailboxGUID, directory.AttrArchiveGUID, directory.AttrRecipientTypeDetails,
	directory.AttrRecipientDisplayType, directory.AttrRemoteRecipientType, directory.AttrVersion,
	directory.AttrELCMailboxFlags, directory.AttrBlockedSendersHash, directory.AttrSafeSendersHash,
	directory.AttrSafeRecipientsHash, directory.AttrPreviousMailboxGUID, directory.AttrPublicDelegates,
}

func (c *Client) attrs() []string {
	a := slices.Clone(TargetAttributes)
	for _, x := range []string{c.opt.OwnerAttr, c.opt.Anchor} {
		if x != "" && !slices.ContainsFunc(a, func(s string) bool { return strings.EqualFold(s, x) }) {
			a = append(a, x)
		}
	}
	return a
}

// Entries reads every user, group and contact under the base DN: the plan needs the objects
// in the OU and every address, name and GUID in use elsewhere in the forest.
func (c *Client) Entries(ctx context.Context) ([]*directory.Entry, error) {
	var out []*directory.Entry
	err := c.EachEntry(ctx, func(e *directory.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// EachEntry reads the same objects as Entries and hands each to fn as it arrives. An error from
// fn stops the read and is returned.
func (c *Client) EachEntry(ctx context.Context, fn func(*directory.Entry) error) error {
	req := ldap.NewSearchRequest(c.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|(objectClass=user)(objectClass=group)(objectClass=contact))", c.attrs(), nil)
	var fnErr error
	each := func(e *ldap.Entry) error {
		fnErr = fn(decodeEntry(e))
		return fnErr
	}
	_, ok, err := ldapsrc.TryBulk(ctx, c.opt.Bulk, req, c.opt.PageSize, each, c.log)
	if !ok { // no bulk connection: read on one of the pool's
		conn, cerr := c.acquire(ctx)
		if cerr != nil {
			return fmt.Errorf("writer: connect: %w", cerr)
		}
		_, err = ldapsrc.Paged(ctx, conn, req, c.opt.PageSize, each)
		c.release(conn, err != nil && fnErr == nil && ctx.Err() == nil)
	}
	if err != nil {
		if fnErr != nil {
			return fnErr
		}
		return fmt.Errorf("writer: read target: %w", err)
	}
	return nil
}

func decodeEntry(e *ldap.Entry) *directory.Entry {
	out := directory.NewEntry(e.DN)
	for _, a := range e.Attributes {
		if strings.EqualFold(a.Name, directory.AttrObjectGUID) {
			if len(a.ByteValues) > 0 {
				out.ObjectGUID, _ = directory.GUIDFromAD(a.ByteValues[0])
			}
			continue
		}
		vals := make([]string, len(a.ByteValues))
		for i, b := range a.ByteValues {
			vals[i] = Decode(a.Name, b)
		}
		out.Attrs[a.Name] = vals
	}
	return out
}

// read returns the object at dn with the given attributes, or nil when it does not exist.
func read(conn Conn, dn string, attrs []string) (*directory.Entry, error) {
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return decodeEntry(res.Entries[0]), nil
}

// Read returns the object at dn with the given attributes (presentation form), or nil when it
// does not exist.
func (c *Client) Read(ctx context.Context, dn string, attrs []string) (*directory.Entry, error) {
	conn, err := c.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("writer: connect: %w", err)
	}
	e, err := read(conn, dn, append([]string{directory.AttrObjectGUID}, attrs...))
	c.release(conn, isConnError(err))
	if err != nil {
		return nil, fmt.Errorf("writer: read %s: %w", dn, err)
	}
	return e, nil
}
