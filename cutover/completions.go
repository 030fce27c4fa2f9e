// Package cutover plans the post-move work: once a mailbox has moved, the target MailUser
// becomes a remote mailbox routed to the target tenant, the source object's targetAddress
// follows it there (Free/Busy does not chase chains of referrals), and Send on Behalf is
// restamped in the target forest. It is pure: the caller reads the forests and says which
// moves completed.
package cutover

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf16"
)

// Completion is one row of a completed-moves export (Get-MoveRequest -Flags CrossTenant or
// Get-MigrationUser piped to Export-Csv).
type Completion struct {
	Row          int    // 1-based data row in the file, for reports
	ExchangeGUID string // ExchangeGuid / MailboxGuid column
	EmailAddress string // EmailAddress / PrimarySmtpAddress / MailboxIdentity column
	Identity     string
	Alias        string
	Status       string // "" when the file has no Status column
	HasStatus    bool
	// Unknown marks a row whose outcome could not be established (a lookup failed or proved
	// nothing): it is never completed, and the plan reports it with Reason.
	Unknown bool
	// Reason says, for a row that is not completed, why (what was asked, what failed) and
	// what to do.
	Reason string
}

// Completed reports whether the row's status says the move finished. An Unknown row never
// has.
func (c Completion) Completed() bool {
	if c.Unknown {
		return false
	}
	if !c.HasStatus {
		return true
	}
	switch strings.ToLower(strings.ReplaceAll(c.Status, " ", "")) {
	case "completed", "completedwithwarning", "completedwithwarnings":
		return true
	}
	return false
}

// Source says which moves completed. CSVFile is the one built in; a Graph-based source plugs in
// behind the same interface.
type Source interface {
	Completions(ctx context.Context) ([]Completion, error)
}

// Answer is what one tenant showed about a mailbox. The zero value is Unknown.
type Answer int

const (
	// Unknown: the lookup failed (throttling, a reset connection, a timeout) or proved nothing
	// (a UPN that finds no user, or finds another user). It is never taken as "no mailbox".
	Unknown Answer = iota
	// NoMailbox: the user, found by a stable identifier (the object id a lookup returned, or
	// its on-premises anchor), has no Exchange Online mailbox, or that object id is gone.
	NoMailbox
	// HasMailbox: the user was found and has an Exchange Online mailbox.
	HasMailbox
)

func (a Answer) String() string {
	switch a {
	case NoMailbox:
		return "no mailbox"
	case HasMailbox:
		return "mailbox"
	}
	return "unknown"
}

// Side is one tenant's answer about a mailbox and how it was reached.
type Side struct {
	Answer Answer
	// Detail says what was asked and answered, or what failed.
	Detail string
	// Fix says, for an Unknown answer, what to do.
	Fix string
}

// Evidence is what both tenants showed about one mailbox in scope.
type Evidence struct {
	SourceDN     string // the source object's DN, for reports
	Alias        string
	ExchangeGUID string
	EmailAddress string
	Target       Side // does the target user (the MailUser stamped with ExchangeGUID) have a mailbox?
	Source       Side // does the source user still have one? Asked only when the target has.
}

// Completion turns the evidence into a row, and reports false when there is nothing to say
// (the target has no mailbox yet: the move has not completed, as expected before it). A move
// is completed only on positive evidence from both tenants: the target has a mailbox and the
// source has none. An Unknown target answer, or an Unknown source answer when the target has a
// mailbox, makes an Unknown row: never completed, reported with what failed and what to do.
func (e Evidence) Completion() (Completion, bool) {
	c := Completion{Identity: e.SourceDN, ExchangeGUID: e.ExchangeGUID, EmailAddress: e.EmailAddress, HasStatus: true}
	unknown := func(tenant string, s Side) (Completion, bool) {
		c.Unknown, c.Status = true, "Unknown"
		c.Reason = tenant + " tenant: " + firstOf(s.Detail, "no answer")
		if s.Fix != "" {
			c.Reason += "; " + s.Fix
		}
		return c, true
	}
	switch e.Target.Answer {
	case NoMailbox:
		return c, false
	case HasMailbox:
	default:
		return unknown("target", e.Target)
	}
	switch e.Source.Answer {
	case NoMailbox:
		c.Status = "Completed"
		c.Reason = "target: " + e.Target.Detail + "; source: " + e.Source.Detail
		return c, true
	case HasMailbox:
		c.Status = "NotCompleted"
		c.Reason = "the target user has a mailbox but the source user still has one (" + e.Source.Detail +
			"): the move is finishing, or the target user was licensed before its ExchangeGUID was set and got a new mailbox of its own"
		return c, true
	}
	return unknown("source", e.Source)
}

// CSVFile reads completions from a CSV file exported from the target tenant.
type CSVFile string

// Completions implements Source.
func (f CSVFile) Completions(_ context.Context) ([]Completion, error) {
	raw, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("completed moves: %w", err)
	}
	c, err := ReadCSV(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("completed moves %s: %w", f, err)
	}
	return c, nil
}

// ErrNoKeyColumn is returned when a CSV has none of the columns a row can be matched by.
var ErrNoKeyColumn = errors.New("no ExchangeGuid, EmailAddress, Identity or Alias column")

var columns = map[string]string{
	"exchangeguid": "guid", "mailboxguid": "guid", "exchange_guid": "guid",
	"emailaddress": "email", "primarysmtpaddress": "email", "mailboxidentity": "email", "targetaddress": "email",
	"identity": "identity", "alias": "alias", "status": "status",
}

// ReadCSV parses an Export-Csv file: a UTF-8 or UTF-16 byte-order mark and Windows PowerShell's
// "#TYPE" first line are tolerated; column names are matched case-insensitively.
func ReadCSV(r io.Reader) ([]Completion, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	raw = toUTF8(raw)
	lines := strings.SplitN(string(raw), "\n", 2)
	if strings.HasPrefix(lines[0], "#TYPE") {
		if len(lines) < 2 {
			return nil, nil
		}
		raw = []byte(lines[1])
	}
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		if k, ok := columns[strings.ToLower(strings.TrimSpace(h))]; ok {
			if _, dup := idx[k]; !dup {
				idx[k] = i
			}
		}
	}
	_, hasStatus := idx["status"]
	if keys := len(idx); hasStatus && keys == 1 || !hasStatus && keys == 0 {
		return nil, fmt.Errorf("%w (header: %s)", ErrNoKeyColumn, strings.Join(head, ","))
	}
	var out []Completion
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("row %d: %w", row, err)
		}
		get := func(k string) string {
			if i, ok := idx[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		c := Completion{Row: row, ExchangeGUID: get("guid"), EmailAddress: get("email"), Identity: get("identity"),
			Alias: get("alias"), Status: get("status"), HasStatus: hasStatus}
		if c.ExchangeGUID == "" && c.EmailAddress == "" && c.Identity == "" && c.Alias == "" {
			continue // blank line
		}
		out = append(out, c)
	}
}

func toUTF8(b []byte) []byte {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		big := b[0] == 0xFE
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			if big {
				u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
			} else {
				u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
			}
		}
		return []byte(string(utf16.Decode(u)))
	}
	return b
}
