package writer

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// ChunkSize is the most changes Prepare re-reads in one search. The chunk's writes follow that
// read one by one, so it also bounds how many writes a compare-and-set read can be older than;
// and it keeps the answer (at most two entries per create) far below AD's MaxPageSize (1,000),
// so the search needs no paging.
const ChunkSize = 50

// Prepared writes the changes of a chunk whose compare-and-set state was read in one go. It is
// an alias of an interface literal, so that the engine can declare the identical type without
// either package importing the other.
type Prepared = interface {
	Apply(ctx context.Context, i int) (objectGUID string, err error)
}

// batch is a chunk of changes with their requests and the state read for them.
type batch struct {
	c     *Client
	cs    []plan.Change
	reqs  []any
	errs  []error // refused before any read: outside the OU, no request, a malformed key
	state []casState

	mu      sync.Mutex
	sent    []bool
	created []bool // creates written: their objectGUIDs are read in one search by CreatedGUIDs
}

// Prepare re-reads the compare-and-set state of up to ChunkSize changes in at most two searches
// on one pooled connection, released before it returns: one for the creates (is the DN free, is
// the ExchangeGUID free) and one for the updates and deletes (by objectGUID when the change has
// one, else by DN; identity, ownership and every attribute the changes touch). Apply(i) then
// checks and writes cs[i] against that state, exactly as Client.Apply does after its own read.
//
// A change refused before any read (outside the OU, a request that cannot be built, a malformed
// ExchangeGUID) is left out of the searches and fails in Apply(i). An error means the state
// could not be read: nothing was written, and the caller falls back to Client.Apply per change.
func (c *Client) Prepare(ctx context.Context, cs []plan.Change) (Prepared, error) {
	if len(cs) > ChunkSize {
		return nil, fmt.Errorf("writer: prepare: %d changes, at most %d", len(cs), ChunkSize)
	}
	b := &batch{c: c, cs: cs, reqs: make([]any, len(cs)), errs: make([]error, len(cs)),
		state: make([]casState, len(cs)), sent: make([]bool, len(cs)), created: make([]bool, len(cs))}
	var creates, others []int
	for i, ch := range cs {
		if !c.InScope(ch.DN) {
			b.errs[i] = fmt.Errorf("%w: %s is not under %s", directory.ErrOutOfScope, ch.DN, c.opt.OU)
			continue
		}
		req, err := Request(ch)
		if err != nil {
			b.errs[i] = err
			continue
		}
		b.reqs[i] = req
		if _, ok := req.(*ldap.AddRequest); ok {
			if _, err := keyGUID(ch.Key); err != nil {
				b.errs[i] = err
				continue
			}
			creates = append(creates, i)
		} else {
			others = append(others, i)
		}
	}
	if len(creates)+len(others) == 0 {
		return b, nil // nothing to read: every change is refused already
	}
	conn, err := c.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("writer: connect: %w", err)
	}
	err = b.read(conn, creates, others)
	if isConnError(err) {
		// The reads write nothing: once more, on a new connection.
		c.release(conn, err)
		if conn, err = c.acquire(ctx); err != nil {
			return nil, fmt.Errorf("writer: reconnect: %w", err)
		}
		err = b.read(conn, creates, others)
	}
	c.release(conn, err)
	if err != nil {
		return nil, fmt.Errorf("writer: re-read %d changes before writing: %w", len(cs), err)
	}
	return b, nil
}

// read reads the compare-and-set state of the creates and of the others, afresh.
func (b *batch) read(conn Conn, creates, others []int) error {
	for _, i := range creates {
		b.state[i] = casState{}
	}
	for _, i := range others {
		b.state[i] = casState{}
	}
	if err := b.readCreates(conn, creates); err != nil {
		return err
	}
	return b.readOthers(conn, others)
}

// Apply checks cs[i] against the state Prepare read and writes it on a pooled connection. Each
// change is sent at most once.
func (b *batch) Apply(ctx context.Context, i int) (string, error) {
	if i < 0 || i >= len(b.cs) {
		return "", fmt.Errorf("writer: change %d of a chunk of %d", i, len(b.cs))
	}
	b.mu.Lock()
	again := b.sent[i]
	b.sent[i] = true
	b.mu.Unlock()
	if again {
		// Its state was read before the first attempt and may no longer hold.
		return "", fmt.Errorf("writer: %s was already applied from this chunk", b.cs[i].DN)
	}
	if b.errs[i] != nil {
		return "", b.errs[i]
	}
	conn, err := b.c.acquire(ctx)
	if err != nil {
		return "", notSent(fmt.Errorf("connect: %w", err))
	}
	st := b.state[i]
	_, isAdd := b.reqs[i].(*ldap.AddRequest)
	st.noGUIDRead = isAdd
	guid, err := b.c.write(conn, b.cs[i], b.reqs[i], st)
	b.c.release(conn, err)
	if unsent(err) {
		// Nothing reached the directory: once more on a new connection, against the same
		// state (it was read for this write, which has not happened).
		if conn, err = b.c.acquire(ctx); err != nil {
			return "", notSent(fmt.Errorf("reconnect: %w", err))
		}
		guid, err = b.c.write(conn, b.cs[i], b.reqs[i], st)
		b.c.release(conn, err)
	}
	if isAdd && err == nil {
		b.mu.Lock()
		b.created[i] = true
		b.mu.Unlock()
	}
	return guid, err
}

// CreatedGUIDs returns the objectGUIDs of the objects this chunk created, by change index, read
// in one search instead of one read after each add. An object not found (already renamed or
// deleted by someone else) is left out; the GUID is informative only.
func (b *batch) CreatedGUIDs(ctx context.Context) (map[int]string, error) {
	b.mu.Lock()
	byDN := map[string]int{}
	var f strings.Builder
	for i, ok := range b.created {
		if ok {
			byDN[dnKey(b.cs[i].DN)] = i
			f.WriteString("(" + directory.AttrDistinguishedName + "=" + ldap.EscapeFilter(b.cs[i].DN) + ")")
		}
	}
	b.mu.Unlock()
	if len(byDN) == 0 {
		return nil, nil
	}
	conn, err := b.c.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	res, err := conn.Search(ldap.NewSearchRequest(b.c.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|"+f.String()+")", []string{directory.AttrObjectGUID}, nil))
	b.c.release(conn, err)
	if err != nil {
		return nil, fmt.Errorf("read the objectGUIDs of %d new objects: %w", len(byDN), err)
	}
	out := make(map[int]string, len(byDN))
	for _, e := range res.Entries {
		if i, ok := byDN[dnKey(e.DN)]; ok {
			if g, err := directory.GUIDFromAD(e.GetEqualFoldRawAttributeValue(directory.AttrObjectGUID)); err == nil {
				out[i] = g.String()
			}
		}
	}
	return out, nil
}

// readCreates is takenBy for several creates in one search.
func (b *batch) readCreates(conn Conn, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	var f strings.Builder
	f.WriteString("(|")
	for _, i := range idx {
		ch := b.cs[i]
		f.WriteString("(distinguishedName=" + ldap.EscapeFilter(ch.DN) + ")")
		if g, _ := keyGUID(ch.Key); g != nil {
			f.WriteString("(" + directory.AttrMailboxGUID + "=" + g.FilterValue() + ")")
		}
	}
	f.WriteString(")")
	res, err := conn.Search(ldap.NewSearchRequest(b.c.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		f.String(), []string{directory.AttrMailboxGUID}, nil))
	if err != nil {
		return fmt.Errorf("re-check before create: %w", err)
	}
	byDN := map[string]bool{}
	byKey := map[directory.GUID]string{} // ExchangeGUID → the DN holding it
	for _, e := range res.Entries {
		byDN[dnKey(e.DN)] = true
		for _, raw := range e.GetEqualFoldRawAttributeValues(directory.AttrMailboxGUID) {
			if g, err := directory.GUIDFromAD(raw); err == nil {
				byKey[g] = e.DN
			}
		}
	}
	for _, i := range idx {
		ch := b.cs[i]
		if byDN[dnKey(ch.DN)] {
			b.state[i].holder = ch.DN + " exists now; it did not when the plan was made"
		} else if g, _ := keyGUID(ch.Key); g != nil && byKey[*g] != "" {
			b.state[i].holder = "ExchangeGUID " + ch.Key + " is now on " + byKey[*g]
		}
	}
	return nil
}

// readOthers is the re-read of several updates and deletes in one search. An object is looked
// up by its planned objectGUID, so that one moved since the plan is told apart from one deleted.
func (b *batch) readOthers(conn Conn, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	guids := make(map[int]directory.GUID, len(idx))
	cs := make([]plan.Change, 0, len(idx))
	var f strings.Builder
	f.WriteString("(|")
	for _, i := range idx {
		ch := b.cs[i]
		cs = append(cs, ch)
		if g, err := directory.ParseGUID(ch.ObjectGUID); err == nil && !g.IsZero() {
			guids[i] = g
			f.WriteString("(" + directory.AttrObjectGUID + "=" + g.FilterValue() + ")")
			continue
		}
		// No (usable) objectGUID in the plan: by DN, as the per-change read does; check then
		// compares the objectGUID strings as it always has.
		f.WriteString("(distinguishedName=" + ldap.EscapeFilter(ch.DN) + ")")
	}
	f.WriteString(")")
	res, err := conn.Search(ldap.NewSearchRequest(b.c.opt.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		f.String(), b.c.casAttrs(cs), nil))
	if err != nil {
		return fmt.Errorf("re-read before write: %w", err)
	}
	byGUID := map[directory.GUID]*directory.Entry{}
	byDN := map[string]*directory.Entry{}
	for _, e := range res.Entries {
		d := decodeEntry(e)
		byGUID[d.ObjectGUID] = d
		byDN[dnKey(e.DN)] = d
	}
	for _, i := range idx {
		ch := b.cs[i]
		g, ok := guids[i]
		if !ok {
			b.state[i].cur = byDN[dnKey(ch.DN)]
			continue
		}
		cur := byGUID[g]
		b.state[i].cur = cur
		if cur != nil && dnKey(cur.DN) != dnKey(ch.DN) {
			b.state[i].movedTo = cur.DN
		}
	}
	return nil
}

// keyGUID parses a change's ExchangeGUID key; nil when the change has none.
func keyGUID(key string) (*directory.GUID, error) {
	if key == "" {
		return nil, nil
	}
	g, err := directory.ParseGUID(key)
	if err != nil {
		return nil, fmt.Errorf("change key: %w", err)
	}
	return &g, nil
}

// dnKey is the form in which two DNs compare equal when AD would say they name one object.
func dnKey(dn string) string { return strings.ToLower(normDN(dn)) }
