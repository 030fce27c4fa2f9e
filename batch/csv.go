package batch

import (
	"encoding/csv"
	"fmt"
	"io"
)

// CSVHeader is the only column New-MigrationBatch needs for a cross-tenant move: the
// target tenant address of each mailbox.
const CSVHeader = "EmailAddress"

// WriteCSV writes one batch as New-MigrationBatch CSV: the header "EmailAddress", then one
// row per member in the batch's order. Lines end in LF (PowerShell's CSV reader accepts LF
// and CRLF alike); the encoding is UTF-8 without a byte order mark, and fields are quoted
// only when encoding/csv requires it.
func WriteCSV(w io.Writer, b Batch) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{CSVHeader}); err != nil {
		return fmt.Errorf("batch: %s: write header: %w", b.Name, err)
	}
	for _, m := range b.Members {
		if err := checkAddress(m.Address); err != nil {
			return fmt.Errorf("batch: %s: %q: address %q: %w", b.Name, m.ID, m.Address, err)
		}
		if err := cw.Write([]string{m.Address}); err != nil {
			return fmt.Errorf("batch: %s: write %q: %w", b.Name, m.Address, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("batch: %s: write: %w", b.Name, err)
	}
	return nil
}
