// Package ldapsrc reads the source forest: the mailboxes in scope, with paged searches, ranged
// retrieval of large member values, continuation references tolerated, and GUIDs decoded from
// Active Directory's byte order.
package ldapsrc

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Conn is the part of *ldap.Conn the readers use.
type Conn interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
}

// AsyncSearcher is the streaming search of *ldap.Conn: entries are handed over as they are
// decoded instead of after the whole page.
type AsyncSearcher interface {
	SearchAsync(ctx context.Context, req *ldap.SearchRequest, bufferSize int) ldap.Response
}

// Paged runs req page by page, calling fn for each entry, checking ctx between pages. It
// returns the continuation references the server sent (never followed; see Elsewhere).
// On a connection that can stream (AsyncSearcher), fn runs while the rest of the page is still
// arriving, so the directory never waits for the client between pages longer than the last
// entry takes.
func Paged(ctx context.Context, c Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) ([]string, error) {
	paging := ldap.NewControlPaging(uint32(pageSize))
	controls := append([]ldap.Control{paging}, req.Controls...)
	var refs []string
	async, streams := c.(AsyncSearcher)
	for {
		if err := ctx.Err(); err != nil {
			return refs, err
		}
		r := *req
		r.Controls = controls
		var (
			got []ldap.Control
			err error
		)
		if streams {
			got, err = pageAsync(ctx, async, &r, &refs, fn)
		} else {
			got, err = page(c, &r, &refs, fn)
		}
		if err != nil {
			return refs, err
		}
		pc, _ := ldap.FindControl(got, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pc == nil || len(pc.Cookie) == 0 {
			return refs, nil
		}
		paging.SetCookie(pc.Cookie)
	}
}

// page reads one page whole, then hands its entries to fn.
func page(c Conn, r *ldap.SearchRequest, refs *[]string, fn func(*ldap.Entry) error) ([]ldap.Control, error) {
	res, err := c.Search(r)
	if err != nil {
		return nil, fmt.Errorf("search %s %s: %w", r.BaseDN, r.Filter, err)
	}
	*refs = append(*refs, res.Referrals...)
	for _, e := range res.Entries {
		if err := fn(e); err != nil {
			return nil, err
		}
	}
	return res.Controls, nil
}

// pageAsync reads one page as a stream. An error from fn abandons the rest of the page.
func pageAsync(ctx context.Context, c AsyncSearcher, r *ldap.SearchRequest, refs *[]string, fn func(*ldap.Entry) error) ([]ldap.Control, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := c.SearchAsync(pctx, r, 64)
	var got []ldap.Control
	for res.Next() {
		if e := res.Entry(); e != nil {
			if err := fn(e); err != nil {
				return nil, err
			}
		}
		if res.Referral() != "" {
			*refs = append(*refs, res.Referral())
		}
		if cs := res.Controls(); len(cs) > 0 {
			got = cs
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("search %s %s: %w", r.BaseDN, r.Filter, err)
	}
	if err := ctx.Err(); err != nil { // a cancelled stream ends without an error of its own
		return nil, err
	}
	return got, nil
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

// Bulk is a connection of its own for one large paged search (BulkConn in production): it
// asks for the next page while fn still works through the current one.
type Bulk interface {
	PagedSearch(ctx context.Context, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) ([]string, error)
	Close() error
}

// BulkConn makes a go-ldap connection a Bulk one: Paged on it, streaming each page.
func BulkConn(c *ldap.Conn) Bulk { return bulkConn{c} }

type bulkConn struct{ *ldap.Conn }

func (b bulkConn) PagedSearch(ctx context.Context, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error) ([]string, error) {
	return Paged(ctx, b.Conn, req, pageSize, fn)
}

// BulkDialer opens a Bulk connection.
type BulkDialer func(ctx context.Context) (Bulk, error)

// PagedBulk runs req on a new connection from dial and closes it afterwards. Without a dialer,
// or when its dial fails (logged: the read is slower, not wrong), it runs Paged on c.
func PagedBulk(ctx context.Context, dial BulkDialer, c Conn, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error, log *slog.Logger) ([]string, error) {
	if refs, ok, err := TryBulk(ctx, dial, req, pageSize, fn, log); ok {
		return refs, err
	}
	return Paged(ctx, c, req, pageSize, fn)
}

// TryBulk runs req on a new connection from dial, if there is a dialer and it connects; ok
// reports whether it did. A failed dial is logged, and left to the caller to fall back from,
// unless ctx ended (then ok is true and err is ctx's).
func TryBulk(ctx context.Context, dial BulkDialer, req *ldap.SearchRequest, pageSize int, fn func(*ldap.Entry) error, log *slog.Logger) (refs []string, ok bool, err error) {
	if dial == nil {
		return nil, false, nil
	}
	b, err := dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, true, ctx.Err()
		}
		log.Warn("bulk read connection refused; reading on the main connection instead (slower)", "err", err)
		return nil, false, nil
	}
	defer b.Close()
	refs, err = b.PagedSearch(ctx, req, pageSize, fn)
	return refs, true, err
}
