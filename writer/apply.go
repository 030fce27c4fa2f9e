package writer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// InScope reports whether dn lies strictly under the target OU.
func (c *Client) InScope(dn string) bool { return plan.InOU(c.ou, dn) }

// Apply writes one change with compare-and-set: it re-reads the object and refuses with
// directory.ErrStalePlan when it no longer holds the plan's before-values, with
// directory.ErrOutOfScope outside the OU and directory.ErrNotOwned on an object without the
// ownership marker. It returns the object's objectGUID.
//
// When no connection can be had (the directory is unreachable, directory.ErrConnection, or ctx
// ended) nothing is sent and the error wraps directory.ErrNotSent. A re-read that the connection
// breaks under is tried once more on a new connection; a write it breaks under is not (its
// outcome is unknown, directory.ErrOutcomeUnknown).
func (c *Client) Apply(ctx context.Context, ch plan.Change) (string, error) {
	if !c.InScope(ch.DN) {
		return "", fmt.Errorf("%w: %s is not under %s", directory.ErrOutOfScope, ch.DN, c.opt.OU)
	}
	req, err := Request(ch)
	if err != nil {
		return "", err
	}
	conn, err := c.acquire(ctx)
	if err != nil {
		return "", notSent(fmt.Errorf("connect: %w", err))
	}
	st, err := c.readState(conn, ch, req)
	if isConnError(err) {
		c.release(conn, err)
		if conn, err = c.acquire(ctx); err != nil {
			return "", notSent(fmt.Errorf("reconnect: %w", err))
		}
		st, err = c.readState(conn, ch, req)
	}
	if err != nil {
		c.release(conn, err)
		return "", err
	}
	guid, err := c.write(conn, ch, req, st)
	c.release(conn, err)
	if unsent(err) {
		// Nothing reached the directory: once more on a new connection, from a fresh read.
		if conn, err = c.acquire(ctx); err != nil {
			return "", notSent(fmt.Errorf("reconnect: %w", err))
		}
		if st, err = c.readState(conn, ch, req); err == nil {
			guid, err = c.write(conn, ch, req, st)
		}
		c.release(conn, err)
	}
	return guid, err
}

// casState is what the compare-and-set guard of one change reads before its write: for a
// create, why it would be stale; for an update or delete, the object as it is now.
type casState struct {
	// noGUIDRead: a create does not read its objectGUID back after the add (a chunk learns all
	// of them in one search afterwards, see batch.CreatedGUIDs).
	noGUIDRead bool
	holder     string           // create: "" when the DN and the ExchangeGUID are still free
	cur        *directory.Entry // update, delete: nil when the object no longer exists
	movedTo    string           // update, delete: the object (same objectGUID) now lives at this DN
}

// readState re-reads one change's state on its own (one search per change).
func (c *Client) readState(conn Conn, ch plan.Change, req any) (casState, error) {
	if _, ok := req.(*ldap.AddRequest); ok {
		// One search checks both preconditions of a create: the DN is still free, and no
		// object took the ExchangeGUID since the plan was made.
		holder, err := c.takenBy(conn, ch.DN, ch.Key)
		return casState{holder: holder}, err
	}
	cur, err := read(conn, ch.DN, c.casAttrs([]plan.Change{ch}))
	if err != nil {
		return casState{}, fmt.Errorf("re-read before write: %w", err)
	}
	return casState{cur: cur}, nil
}

// casAttrs are the attributes the guard of an update or delete needs: identity, ownership and
// every attribute the changes touch.
func (c *Client) casAttrs(cs []plan.Change) []string {
	names := []string{directory.AttrObjectGUID, directory.AttrMailboxGUID}
	if c.opt.OwnerAttr != "" {
		names = append(names, c.opt.OwnerAttr)
	}
	for _, ch := range cs {
		for _, a := range ch.Attrs {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, a.Name) }) {
				names = append(names, a.Name)
			}
		}
	}
	return names
}

// write checks the change against st (the guard) and sends req.
func (c *Client) write(conn Conn, ch plan.Change, req any, st casState) (string, error) {
	switch r := req.(type) {
	case *ldap.AddRequest:
		if st.holder != "" {
			return "", fmt.Errorf("%w: %s", directory.ErrStalePlan, st.holder)
		}
		if err := conn.Add(r); err != nil {
			return "", sent("add", err)
		}
		if st.noGUIDRead {
			return "", nil
		}
		after, err := read(conn, ch.DN, []string{directory.AttrObjectGUID})
		if err != nil || after == nil {
			return "", nil // written; the objectGUID is only informative
		}
		return after.ObjectGUID.String(), nil
	case *ldap.ModifyRequest:
		if err := c.guard(st, ch, !c.opt.SkipOwnerCheck); err != nil {
			return "", err
		}
		if err := conn.Modify(r); err != nil {
			return "", sent("modify", err)
		}
		return st.cur.ObjectGUID.String(), nil
	case *ldap.DelRequest:
		if err := c.guard(st, ch, true); err != nil {
			return "", err
		}
		if err := conn.Del(r); err != nil {
			return "", sent("delete", err)
		}
		return st.cur.ObjectGUID.String(), nil
	}
	return "", fmt.Errorf("unexpected request %T", req)
}

// sent wraps the error of a write: a network error after the request went out leaves its
// outcome unknown, which the journal must say rather than claim it failed. One that kept the
// request from going out whole (unsent) does not: nothing was written.
func sent(op string, err error) error {
	switch {
	case unsent(err):
		return fmt.Errorf("%s: nothing was written, the connection failed as the request was sent: %w", op, err)
	case !serverAnswered(err):
		return fmt.Errorf("%s: %w: %w", op, directory.ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unsent reports whether err says the request never reached the directory whole: it cannot
// have been applied, and may be sent again. go-ldap has no error values for this; it says so
// in two texts: "ldap: connection closed" when the connection was closed before the request
// was handed to it, and "unable to send request" when writing it to the socket failed (a
// request cut short is a broken TLS record or BER element, which the directory discards). An
// error type that reports Unsent() (a test double) is believed too.
func unsent(err error) bool {
	var u interface{ Unsent() bool }
	if errors.As(err, &u) {
		return u.Unsent()
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork && le.Err != nil && le.Err.Error() == "ldap: connection closed" {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), "unable to send request: ") {
			return true
		}
	}
	return false
}

// takenBy says why a planned create would be stale: an object now at dn, or one holding the
// ExchangeGUID key; "" when neither exists.
func (c *Client) takenBy(conn Conn, dn, key string) (string, error) {
	f := "(distinguishedName=" + ldap.EscapeFilter(dn) + ")"
	if key != "" {
		g, err := directory.ParseGUID(key)
		if err != nil {
			return "", fmt.Errorf("change key: %w", err)
		}
		f = "(|" + f + "(" + directory.AttrMailboxGUID + "=" + g.FilterValue() + "))"
	}
	res, err := conn.Search(ldap.NewSearchRequest(c.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		f, []string{directory.AttrMailboxGUID}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", fmt.Errorf("re-check before create: %w", err)
	}
	if res == nil || len(res.Entries) == 0 {
		return "", nil
	}
	e := res.Entries[0]
	if strings.EqualFold(normDN(e.DN), normDN(dn)) {
		return dn + " exists now; it did not when the plan was made", nil
	}
	return "ExchangeGUID " + key + " is now on " + e.DN, nil
}

func normDN(dn string) string {
	if d, err := ldap.ParseDN(dn); err == nil {
		return d.String()
	}
	return dn
}

// guard is check plus what only a search by objectGUID can see: the object was moved.
func (c *Client) guard(st casState, ch plan.Change, owner bool) error {
	if st.movedTo != "" {
		return fmt.Errorf("%w: %s was moved to %s", directory.ErrStalePlan, ch.DN, st.movedTo)
	}
	return c.check(st.cur, ch, owner)
}

// check is the compare-and-set guard of an update or delete: the object still exists, is the
// same object, carries the marker (when required) and holds every planned before-value.
func (c *Client) check(cur *directory.Entry, ch plan.Change, owner bool) error {
	if cur == nil {
		return fmt.Errorf("%w: %s no longer exists", directory.ErrStalePlan, ch.DN)
	}
	if owner && !strings.EqualFold(cur.First(c.opt.OwnerAttr), c.opt.OwnerValue) {
		return fmt.Errorf("%w: %s lacks %s=%s", directory.ErrNotOwned, ch.DN, c.opt.OwnerAttr, c.opt.OwnerValue)
	}
	if ch.ObjectGUID != "" && !strings.EqualFold(cur.ObjectGUID.String(), ch.ObjectGUID) {
		return fmt.Errorf("%w: %s is now another object (objectGUID %s, planned %s)", directory.ErrStalePlan, ch.DN, cur.ObjectGUID, ch.ObjectGUID)
	}
	for _, a := range ch.Attrs {
		if !sameSet(a.Name, a.Before, cur.Get(a.Name)) {
			return fmt.Errorf("%w: %s %s is now %q, planned from %q", directory.ErrStalePlan, ch.DN, a.Name, cur.Get(a.Name), a.Before)
		}
	}
	return nil
}

// sameSet compares values as sets: case-insensitively for strings, exactly for binary values.
func sameSet(attr string, a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(v []string) []string {
		out := slices.Clone(v)
		if directory.KindOf(attr) != directory.KindBinary {
			for i := range out {
				out[i] = strings.ToLower(out[i])
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// serverAnswered reports whether err is a result the directory sent (an LDAP result code),
// as opposed to a transport failure (go-ldap's own codes start at 200, other errors have none).
func serverAnswered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < 200
}

// isConnError reports whether err means the connection is unusable: a transport failure, not an
// answer from the server nor one of the writer's own refusals.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode >= 200
	}
	for _, s := range []error{directory.ErrStalePlan, directory.ErrNotOwned, directory.ErrOutOfScope} {
		if errors.Is(err, s) {
			return false
		}
	}
	return true
}
