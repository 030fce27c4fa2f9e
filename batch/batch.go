// Package batch prepares the move batches of a cross-tenant mailbox migration.
//
// Cross-tenant mailbox and calendar permissions are not supported, so Microsoft asks to
// "organize principals and delegates into consolidated move batches" and not to exceed
// 2,000 mailboxes per batch. Plan puts mailboxes linked by delegation (directly or
// transitively) into the same batch, packs those groups into batches of at most Size
// mailboxes and never splits a group: a group that cannot fit is reported, not cut.
// WriteCSV and WriteFiles render the result as New-MigrationBatch CSV files plus a JSON
// manifest. The package is pure: Plan does no I/O and its output is deterministic.
package batch

import (
	"errors"
	"fmt"
)

// MaxSize is the largest batch Microsoft supports ("Don't exceed 2,000 mailboxes per batch"),
// and the default size.
const MaxSize = 2000

// Edge kinds produced by the directory readers. Other non-empty kinds are accepted too.
const (
	KindPublicDelegates  = "publicDelegates"        // Send on Behalf (AD publicDelegates)
	KindDelegateListLink = "msExchDelegateListLink" // Outlook auto-mapping of delegated mailboxes
)

// Errors returned by Plan and WriteFiles, always wrapped with the offending value.
var (
	ErrSize             = errors.New("batch size must be at most 2000 mailboxes")
	ErrID               = errors.New("empty mailbox ID")
	ErrDuplicateID      = errors.New("duplicate mailbox ID")
	ErrAddress          = errors.New("unusable target address")
	ErrDuplicateAddress = errors.New("duplicate target address")
	ErrEdge             = errors.New("invalid delegation edge")
	ErrName             = errors.New("invalid batch name")
)

// Item is one mailbox that may go into a batch.
type Item struct {
	ID      string // stable key: the source DN (compared case-insensitively)
	Address string // target tenant address written to the CSV (EmailAddress)
	Alias   string
}

// Edge links two mailboxes by delegation; its direction is irrelevant to batching.
type Edge struct {
	A, B string // mailbox IDs (source DNs, compared case-insensitively)
	Kind string // KindPublicDelegates, KindDelegateListLink or another non-empty label
}

// Excluded is a mailbox left out of every batch (blocked by the caller, or in an oversized
// delegation group), with the reason.
type Excluded struct {
	ID      string
	Address string `json:",omitempty"`
	Reason  string
	// Group is the ID of the oversized delegation group the mailbox belongs to (0: none).
	Group int `json:",omitempty"`
	// Members are related mailboxes. For a member of an oversized group Plan sets them to the
	// addresses of its direct delegation partners; the whole group is in Result.Oversized.
	Members []string `json:",omitempty"`
}

// Options tune Plan.
type Options struct {
	// Size is the maximum number of mailboxes per batch: below 1 means MaxSize, above
	// MaxSize is ErrSize.
	Size int
	// Excluded are mailboxes the caller already left out (blocked). They are passed through
	// to Result.Excluded, must not also be items, and edges to them count as out of scope.
	Excluded []Excluded
	// Migrated are mailboxes that have already moved: neither batched nor blocked. They are
	// passed through to Result.Migrated, must be neither items nor excluded, and an edge to
	// one is ignored for grouping and named as a delegate that has already moved.
	Migrated []Excluded
}

// Batch is one New-MigrationBatch CSV.
type Batch struct {
	Name    string   // "batch-001", "batch-002", ...
	Members []Member // sorted by Address, case-insensitively
}

// Member is a mailbox in a batch, with why it is there.
type Member struct {
	ID, Address, Alias string
	// Group is the ID of its delegation group (1-based; groups are numbered largest first,
	// ties by smallest member ID). A mailbox without links is a group of its own.
	Group int
	// Reasons explain the placement, e.g. "delegation group of 3: with x@..., y@...
	// (publicDelegates, msExchDelegateListLink)" or "no delegation links", followed by one
	// line per delegate outside this export.
	Reasons []string
}

// Group is a delegation group larger than the batch size.
type Group struct {
	ID      int
	Members []string // addresses, sorted case-insensitively
	Size    int      // len(Members)
	Kinds   []string // edge kinds inside the group
}

// Result is the outcome of Plan.
type Result struct {
	Size      int        // effective batch size
	Batches   []Batch    // in creation order (first-fit decreasing)
	Oversized []Group    // groups larger than Size: reported whole, never split; by ID
	Excluded  []Excluded // the caller's plus members of oversized groups; by ID
	Migrated  []Excluded // the caller's migrated mailboxes (already moved); by ID
}

// batchSize applies the default and the limit.
func (o Options) batchSize() (int, error) {
	switch {
	case o.Size < 1:
		return MaxSize, nil
	case o.Size > MaxSize:
		return 0, fmt.Errorf("batch: size %d: %w", o.Size, ErrSize)
	}
	return o.Size, nil
}
