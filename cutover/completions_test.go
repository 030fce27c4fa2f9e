package cutover_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/xtmsyncd/xtmsyncd/cutover"
)

// Completed-moves exports as the tenants produce them: Get-MoveRequest -Flags CrossTenant or
// Get-MigrationUser piped to Export-Csv, by Windows PowerShell 5.1 ("#TYPE" first line, CRLF,
// ASCII or -Encoding Unicode/UTF8 with a BOM) or PowerShell 7 (UTF-8 without BOM, no #TYPE).

const laraGUID = "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d8" // the article's worked example

// utf16LE encodes s the way Out-File / Export-Csv -Encoding Unicode write it: a FF FE BOM and
// little-endian code units.
func utf16LE(s string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

func utf16BE(s string) []byte {
	b := []byte{0xFE, 0xFF}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

const ps51 = "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MoveRequest\r\n" +
	"\"Identity\",\"Alias\",\"ExchangeGuid\",\"Status\"\r\n" +
	"\"Lara Newton\",\"LaraN\",\"" + laraGUID + "\",\"Completed\"\r\n" +
	"\"Maria Lopez\",\"MariaL\",\"\",\"InProgress\"\r\n"

var ps51Rows = []cutover.Completion{
	{Row: 1, Identity: "Lara Newton", Alias: "LaraN", ExchangeGUID: laraGUID, Status: "Completed", HasStatus: true},
	{Row: 2, Identity: "Maria Lopez", Alias: "MariaL", Status: "InProgress", HasStatus: true},
}

func TestReadCSV_Encodings(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"windows powershell 5.1 #TYPE line and CRLF", []byte(ps51)},
		{"utf-8 BOM (Export-Csv -Encoding UTF8)", append([]byte{0xEF, 0xBB, 0xBF}, ps51...)},
		{"utf-16LE BOM (Export-Csv -Encoding Unicode, Out-File)", utf16LE(ps51)},
		{"powershell 7: no #TYPE, LF, no BOM", []byte(strings.ReplaceAll(strings.SplitN(ps51, "\r\n", 2)[1], "\r\n", "\n"))},
		{"no trailing newline", []byte(strings.TrimSuffix(ps51, "\r\n"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cutover.ReadCSV(strings.NewReader(string(tc.raw)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ps51Rows) {
				t.Errorf("got  %+v\nwant %+v", got, ps51Rows)
			}
		})
	}
}

// The doc comment promises that a UTF-16 byte-order mark is tolerated; Export-Csv -Encoding
// BigEndianUnicode writes FE FF.
func TestReadCSV_UTF16BigEndianBOM(t *testing.T) {
	got, err := cutover.ReadCSV(strings.NewReader(string(utf16BE(ps51))))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, ps51Rows) {
		t.Errorf("got %+v, want %+v", got, ps51Rows)
	}
}

func TestReadCSV_UTF16NonASCII(t *testing.T) {
	// Names outside ASCII (and outside the BMP) survive the UTF-16 decoding.
	in := "\"Identity\",\"Alias\"\r\n\"Zoë Ødegård 𝄞\",\"zoe\"\r\n"
	got, err := cutover.ReadCSV(strings.NewReader(string(utf16LE(in))))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Identity != "Zoë Ødegård 𝄞" || got[0].Alias != "zoe" {
		t.Errorf("got %+v", got)
	}
}

func TestReadCSV_Columns(t *testing.T) {
	for _, tc := range []struct {
		name string
		csv  string
		want cutover.Completion
	}{
		{"ExchangeGuid", "ExchangeGuid\n" + laraGUID + "\n", cutover.Completion{Row: 1, ExchangeGUID: laraGUID}},
		{"MailboxGuid alias (Get-MigrationUser)", "MailboxGuid\n" + laraGUID + "\n", cutover.Completion{Row: 1, ExchangeGUID: laraGUID}},
		{"exchangeguid lower case", "exchangeguid\n" + laraGUID + "\n", cutover.Completion{Row: 1, ExchangeGUID: laraGUID}},
		{"EXCHANGEGUID upper case, padded name", " EXCHANGEGUID \n" + laraGUID + "\n", cutover.Completion{Row: 1, ExchangeGUID: laraGUID}},
		{"EmailAddress", "EmailAddress\nlara.newton@northwind.com\n", cutover.Completion{Row: 1, EmailAddress: "lara.newton@northwind.com"}},
		{"PrimarySmtpAddress", "PrimarySmtpAddress\nlara.newton@northwind.com\n", cutover.Completion{Row: 1, EmailAddress: "lara.newton@northwind.com"}},
		{"MailboxIdentity", "mailboxidentity\nlara.newton@northwind.com\n", cutover.Completion{Row: 1, EmailAddress: "lara.newton@northwind.com"}},
		{"Identity", "IDENTITY\nLara Newton\n", cutover.Completion{Row: 1, Identity: "Lara Newton"}},
		{"Alias", "alias\nLaraN\n", cutover.Completion{Row: 1, Alias: "LaraN"}},
		{"Status with a key", "Alias,STATUS\nLaraN,Completed\n", cutover.Completion{Row: 1, Alias: "LaraN", Status: "Completed", HasStatus: true}},
		{"unknown columns ignored", "DisplayName,Alias,TargetDatabase\nLara,LaraN,EURPR01DG123\n", cutover.Completion{Row: 1, Alias: "LaraN"}},
		{"values trimmed", "Alias,Status\n  LaraN  , Completed \n", cutover.Completion{Row: 1, Alias: "LaraN", Status: "Completed", HasStatus: true}},
		{"quoted fields with commas, quotes and newlines",
			"\"Identity\",\"Alias\"\r\n\"Newton, Lara \"\"LN\"\"\r\nSales\",\"LaraN\"\r\n",
			cutover.Completion{Row: 1, Identity: "Newton, Lara \"LN\"\nSales", Alias: "LaraN"}}, // encoding/csv folds a quoted CRLF to LF
		{"first of two aliased columns wins", "ExchangeGuid,MailboxGuid\n" + laraGUID + ",00000000-0000-0000-0000-000000000000\n",
			cutover.Completion{Row: 1, ExchangeGUID: laraGUID}},
		{"short row", "Alias,Identity,Status\nLaraN\n", cutover.Completion{Row: 1, Alias: "LaraN", HasStatus: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cutover.ReadCSV(strings.NewReader(tc.csv))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("got %+v, want [%+v]", got, tc.want)
			}
		})
	}
}

func TestReadCSV_BlankLinesSkipped(t *testing.T) {
	in := "\"Alias\",\"Identity\",\"Status\"\r\n" +
		"\r\n" +
		"\"LaraN\",\"\",\"Completed\"\r\n" +
		"\"\",\"\",\"\"\r\n" + // an all-empty row
		",,Completed\r\n" + // a status without any key
		"\r\n" +
		"\"MariaL\",\"\",\"Failed\"\r\n\r\n"
	got, err := cutover.ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var aliases []string
	for _, c := range got {
		aliases = append(aliases, c.Alias)
	}
	if !reflect.DeepEqual(aliases, []string{"LaraN", "MariaL"}) {
		t.Fatalf("rows %+v, want LaraN and MariaL only", got)
	}
	if got[0].Row >= got[1].Row || got[0].Row < 1 {
		t.Errorf("row numbers %d, %d: want increasing, 1-based", got[0].Row, got[1].Row)
	}
}

func TestReadCSV_Empty(t *testing.T) {
	for _, in := range []string{"", "\xEF\xBB\xBF", "#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MoveRequest\r\n",
		"#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MoveRequest", "Alias,Status\r\n"} {
		got, err := cutover.ReadCSV(strings.NewReader(in))
		if err != nil || len(got) != 0 {
			t.Errorf("%q: %+v, %v; want no rows, no error", in, got, err)
		}
	}
}

func TestReadCSV_NoKeyColumn(t *testing.T) {
	for _, in := range []string{
		"Status\r\nCompleted\r\n",
		"DisplayName,Status\r\nLara,Completed\r\n",
		"DisplayName,TargetDatabase\r\nLara,DB1\r\n",
		"#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MoveRequest\r\n\"Status\",\"BatchName\"\r\n\"Completed\",\"wave1\"\r\n",
		string(utf16LE("\"DisplayName\",\"Status\"\r\n\"Lara\",\"Completed\"\r\n")),
	} {
		_, err := cutover.ReadCSV(strings.NewReader(in))
		if !errors.Is(err, cutover.ErrNoKeyColumn) {
			t.Errorf("%q: err %v, want ErrNoKeyColumn", in, err)
		}
	}
}

func TestReadCSV_MalformedRowReportsRow(t *testing.T) {
	_, err := cutover.ReadCSV(strings.NewReader("Alias\nLaraN\n\"unterminated\n"))
	if err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("err %v, want one naming row 2", err)
	}
}

func TestCompletion_Completed(t *testing.T) {
	for _, tc := range []struct {
		status    string
		hasStatus bool
		want      bool
	}{
		{"Completed", true, true},
		{"completed", true, true},
		{"CompletedWithWarning", true, true},  // Get-MoveRequest
		{"CompletedWithWarnings", true, true}, // Get-MigrationUser
		{"completed with warnings", true, true},
		{"Completed With Warning", true, true},
		{"InProgress", true, false},
		{"Synced", true, false}, // the initial sync finished; the move is not completed
		{"Completing", true, false},
		{"CompletionInProgress", true, false},
		{"AutoSuspended", true, false},
		{"Failed", true, false},
		{"Queued", true, false},
		{"", true, false}, // a Status column with no value in this row
		{"", false, true}, // no Status column at all: every row is taken as completed
	} {
		c := cutover.Completion{Alias: "LaraN", Status: tc.status, HasStatus: tc.hasStatus}
		if got := c.Completed(); got != tc.want {
			t.Errorf("status %q (column %v): Completed() = %v, want %v", tc.status, tc.hasStatus, got, tc.want)
		}
	}
}

func TestReadCSV_HasStatusFollowsTheHeader(t *testing.T) {
	got, err := cutover.ReadCSV(strings.NewReader("Alias\nLaraN\n"))
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	if got[0].HasStatus || !got[0].Completed() {
		t.Errorf("no Status column: HasStatus %v Completed %v, want false, true", got[0].HasStatus, got[0].Completed())
	}
}

func TestCSVFile_Completions(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "moves.csv")
	if err := os.WriteFile(ok, utf16LE(ps51), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cutover.CSVFile(ok).Completions(context.Background())
	if err != nil || !reflect.DeepEqual(got, ps51Rows) {
		t.Errorf("Completions = %+v, %v", got, err)
	}

	missing := filepath.Join(dir, "no-such-export.csv")
	_, err = cutover.CSVFile(missing).Completions(context.Background())
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err %v, want os.ErrNotExist naming %s", err, missing)
	}

	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("DisplayName,Status\nLara,Completed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cutover.CSVFile(bad).Completions(context.Background())
	if !errors.Is(err, cutover.ErrNoKeyColumn) || !strings.Contains(err.Error(), bad) {
		t.Errorf("no key column: err %v, want ErrNoKeyColumn naming %s", err, bad)
	}
}
