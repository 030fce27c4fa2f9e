package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

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
	// Bulk, if set, opens the connection the whole-forest read (EachEntry) runs on, so that
	// writes and compare-and-set reads keep the pool to themselves.
	Bulk ldapsrc.BulkDialer
	// Timeout is the directory's per-request timeout (config's timeout), from which the
	// reconnect policy is derived (ReconnectPolicy). 0: learned from the first connection that
	// tells it (a Timeout() method), DefaultTimeout until then.
	Timeout time.Duration
}

// Client reads and writes the target forest through a small pool of connections.
type Client struct {
	dial Dialer
	opt  Options
	ou   *ldap.DN
	pool chan Conn
	log  *slog.Logger
	h    *health
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
	c := &Client{dial: dial, opt: opt, ou: ou, pool: make(chan Conn, opt.Connections), log: log,
		h: &health{timeout: opt.Timeout, turn: make(chan struct{}, 1)}}
	for range opt.Connections {
		c.pool <- nil // a free slot; dialled lazily
	}
	return c, nil
}

// Connections is the pool size: how many changes may be applied at once.
func (c *Client) Connections() int { return c.opt.Connections }

// acquire takes a connection from the pool, dialling one (with the reconnect policy) for a free
// slot. Its error is ctx's cause, or an *UnreachableError (directory.ErrConnection).
func (c *Client) acquire(ctx context.Context) (Conn, error) {
	select {
	case conn := <-c.pool:
		if conn != nil {
			return conn, nil
		}
		conn, err := c.connect(ctx)
		if err != nil {
			c.pool <- nil
			return nil, err
		}
		return conn, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// release returns conn to the pool after a request that ended with err. A transport failure
// closes it, frees its slot and counts towards the reconnect policy's streak; an answer from the
// directory ends the streak.
func (c *Client) release(conn Conn, err error) {
	if isConnError(err) {
		c.put(conn, true, err)
		return
	}
	c.put(conn, false, nil)
}

// put returns conn to the pool, closed when broken; failure, if not nil, is a connection
// failure for the streak.
func (c *Client) put(conn Conn, broken bool, failure error) {
	if t, ok := conn.(*tracked); ok && t.answered {
		t.answered = false
		if !broken {
			c.h.answered()
		}
	}
	if failure != nil {
		c.h.failed(failure)
	}
	if broken {
		conn.Close()
		conn = nil
	}
	c.pool <- conn
}

// notSent marks the error of a change for which nothing was sent because no connection could be
// had: the directory is unreachable, or the caller stopped.
func notSent(err error) error {
	return fmt.Errorf("%w: %w", directory.ErrNotSent, err)
}

// bulk wraps Options.Bulk: its dial is bounded by one timeout, and a failed one is a failure of
// the pool's streak too (it is the same directory).
func (c *Client) bulk() ldapsrc.BulkDialer {
	if c.opt.Bulk == nil {
		return nil
	}
	return func(ctx context.Context) (ldapsrc.Bulk, error) {
		d, err := c.h.nextDial()
		if err != nil {
			return nil, err
		}
		dctx, cancel := context.WithDeadlineCause(ctx, d.deadline, fmt.Errorf("no answer within %s (connect, TLS and bind)",
			time.Until(d.deadline).Round(10*time.Millisecond)))
		defer cancel()
		b, err := c.opt.Bulk(dctx)
		switch {
		case err == nil:
			if t, ok := b.(interface{ Timeout() time.Duration }); ok && c.opt.Timeout <= 0 {
				c.h.setTimeout(t.Timeout())
			}
		case ctx.Err() == nil && permanent(err):
			return nil, c.h.refused(d, err)
		case ctx.Err() == nil:
			c.h.dialFailed(d, err)
		}
		return b, err
	}
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

// TargetAttributes are read for every target object the plan is diffed against (the
// registry's target attributes).
var TargetAttributes = directory.TargetAttributes

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
	_, ok, err := ldapsrc.TryBulk(ctx, c.bulk(), req, c.opt.PageSize, each, c.log)
	if !ok { // no bulk connection: read on one of the pool's
		conn, cerr := c.acquire(ctx)
		if cerr != nil {
			return fmt.Errorf("writer: connect: %w", cerr)
		}
		_, err = ldapsrc.Paged(ctx, conn, req, c.opt.PageSize, each)
		var failure error
		if err != nil && fnErr == nil && ctx.Err() == nil && isConnError(err) {
			failure = err
		}
		// Any error mid-read leaves the connection in an unknown state (a page may still be
		// arriving), whatever ended it.
		c.put(conn, err != nil, failure)
	}
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	case ctx.Err() == nil && !errors.Is(err, directory.ErrConnection) && isConnError(err):
		// A read of the whole forest cannot resume where the connection broke: the plan fails.
		return fmt.Errorf("writer: read target: %w: the connection failed during the read: %w", directory.ErrConnection, err)
	}
	return fmt.Errorf("writer: read target: %w", err)
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
	c.release(conn, err)
	if err != nil {
		return nil, fmt.Errorf("writer: read %s: %w", dn, err)
	}
	return e, nil
}
