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
}

// Completed reports whether the row's status says the move finished.
func (c Completion) Completed() bool {
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
