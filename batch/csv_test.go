package batch

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestWriteCSV(t *testing.T) {
	r := mustPlan(t, items("Carol", "alice", "Bob"), nil, Options{})
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r.Batches[0]); err != nil {
		t.Fatal(err)
	}
	want := "EmailAddress\n" +
		"alice@northwind.onmicrosoft.com\n" +
		"bob@northwind.onmicrosoft.com\n" +
		"carol@northwind.onmicrosoft.com\n"
	if buf.String() != want {
		t.Errorf("CSV =\n%q\nwant\n%q", buf.String(), want)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("parse back: %v", err)
	}
	if len(recs) != 4 || !slices.Equal(recs[0], []string{"EmailAddress"}) {
		t.Fatalf("records = %q", recs)
	}
	for k, m := range r.Batches[0].Members {
		if !slices.Equal(recs[k+1], []string{m.Address}) {
			t.Errorf("row %d = %q, want %q", k+1, recs[k+1], m.Address)
		}
	}
}

func TestWriteCSVQuotesWhenNeeded(t *testing.T) {
	b := Batch{Name: "batch-001", Members: []Member{{ID: dn("A"), Address: `"odd,local"@northwind.test`}}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != b.Members[0].Address {
		t.Errorf("records = %q, err %v", recs, err)
	}
}

type failWriter struct{}

var errDisk = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestWriteCSVErrors(t *testing.T) {
	bad := Batch{Name: "batch-007", Members: []Member{{ID: dn("A"), Address: addr("A")}, {ID: dn("B")}}}
	if err := WriteCSV(&bytes.Buffer{}, bad); !errors.Is(err, ErrAddress) || !strings.Contains(err.Error(), dn("B")) {
		t.Errorf("empty address: err = %v, want ErrAddress naming %s", err, dn("B"))
	}
	good := Batch{Name: "batch-001", Members: []Member{{ID: dn("A"), Address: addr("A")}}}
	if err := WriteCSV(failWriter{}, good); !errors.Is(err, errDisk) {
		t.Errorf("failing writer: err = %v, want %v", err, errDisk)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func readManifest(t *testing.T, dir string) Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return m
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "batches")
	it := items("A", "B", "C", "D", "E", "F", "G")
	ed := []Edge{edge("A", "B", pd), edge("C", "D", dl), edge("D", "E", pd), edge("E", "F", pd)}
	blocked := []Excluded{{ID: dn("Blocked"), Reason: "blocked: no target MailUser"}}
	r := mustPlan(t, it, ed, Options{Size: 2, Excluded: blocked}) // C-F is oversized
	paths, err := WriteFiles(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"batch-001.csv", "batch-002.csv", ManifestName}
	var got []string
	for _, p := range paths {
		if filepath.Dir(p) != dir {
			t.Errorf("%s is not in %s", p, dir)
		}
		got = append(got, filepath.Base(p))
	}
	if !slices.Equal(got, want) || !slices.Equal(listDir(t, dir), want) {
		t.Fatalf("paths %v, dir %v, want %v", got, listDir(t, dir), want)
	}
	if runtime.GOOS != "windows" {
		checkMode(t, dir, fs.ModeDir|dirMode)
		for _, p := range paths {
			checkMode(t, p, fileMode)
		}
	}
	for k, b := range r.Batches {
		data, err := os.ReadFile(paths[k])
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, buf.Bytes()) {
			t.Errorf("%s =\n%s\nwant\n%s", paths[k], data, buf.Bytes())
		}
	}
	m := readManifest(t, dir)
	wantTotals := Totals{Mailboxes: 8, Batched: 3, Batches: 2, Excluded: 5, OversizedGroups: 1, OversizedMailboxes: 4}
	if m.FormatVersion != "1" || m.BatchSize != 2 || m.Totals != wantTotals {
		t.Errorf("manifest version %q, size %d, totals %+v; want 1, 2, %+v", m.FormatVersion, m.BatchSize, m.Totals, wantTotals)
	}
	if len(m.Batches) != 2 || m.Batches[0].File != "batch-001.csv" || m.Batches[0].Count != 2 ||
		m.Batches[0].Mailboxes[0].Address != addr("A") || len(m.Batches[0].Mailboxes[0].Reasons) != 1 {
		t.Errorf("manifest batches = %+v", m.Batches)
	}
	if len(m.Oversized) != 1 || m.Oversized[0].Size != 4 || len(m.Excluded) != 5 || m.Excluded[0].ID != dn("Blocked") {
		t.Errorf("manifest oversized %+v, excluded %+v", m.Oversized, m.Excluded)
	}
	if !reflectEqualJSON(t, m, NewManifest(r)) {
		t.Error("manifest.json differs from NewManifest")
	}

	// A second run with fewer batches leaves no stale batch file, and keeps foreign files.
	for _, name := range []string{"notes.txt", "batch-old.csv", "batch-9.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r2 := mustPlan(t, it, nil, Options{})
	paths, err = WriteFiles(dir, r2)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Errorf("paths = %v", paths)
	}
	want = []string{"batch-001.csv", "batch-9.txt", "batch-old.csv", ManifestName, "notes.txt"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("dir = %v, want %v", got, want)
	}
	if m := readManifest(t, dir); m.Totals.Batches != 1 || m.Totals.Batched != 7 || len(m.Oversized) != 0 || m.Excluded == nil {
		t.Errorf("second manifest = %+v", m)
	}
}

func reflectEqualJSON(t *testing.T, a, b Manifest) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ja, jb)
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestWriteFilesEmptyResult(t *testing.T) {
	dir := t.TempDir()
	r := mustPlan(t, nil, nil, Options{})
	paths, err := WriteFiles(dir, r)
	if err != nil || len(paths) != 1 {
		t.Fatalf("paths %v, err %v", paths, err)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"batches": []`, `"oversized": []`, `"excluded": []`, `"format_version": "1"`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("manifest lacks %s:\n%s", s, data)
		}
	}
}

func TestWriteFilesRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := &Result{Batches: []Batch{{Name: "batch-001", Members: []Member{{ID: dn("A"), Address: addr("A")}}}}}
	tests := []struct {
		name string
		dir  string
		r    *Result
		err  error
	}{
		{"nil result", t.TempDir(), nil, nil},
		{"dir is a file", file, ok, nil},
		{"path in name", t.TempDir(), &Result{Batches: []Batch{{Name: "../batch-001"}}}, ErrName},
		{"other name", t.TempDir(), &Result{Batches: []Batch{{Name: "users"}}}, ErrName},
		{"same name twice", t.TempDir(), &Result{Batches: []Batch{{Name: "batch-001"}, {Name: "batch-001"}}}, ErrName},
		{"bad address", t.TempDir(), &Result{Batches: []Batch{{Name: "batch-001", Members: []Member{{ID: dn("A")}}}}}, ErrAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteFiles(tc.dir, tc.r)
			if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if fi, _ := os.Stat(tc.dir); fi.IsDir() {
				if left := listDir(t, tc.dir); len(left) != 0 {
					t.Errorf("left %v behind", left) // not even a temporary file
				}
			}
		})
	}
}

func ExampleWriteCSV() {
	r, err := Plan([]Item{
		{ID: "CN=Bob,OU=Users,DC=contoso,DC=test", Address: "bob@northwind.onmicrosoft.com"},
		{ID: "CN=Alice,OU=Users,DC=contoso,DC=test", Address: "alice@northwind.onmicrosoft.com"},
	}, []Edge{{A: "CN=Alice,OU=Users,DC=contoso,DC=test", B: "CN=Bob,OU=Users,DC=contoso,DC=test", Kind: KindPublicDelegates}}, Options{})
	if err != nil {
		panic(err)
	}
	if err := WriteCSV(os.Stdout, r.Batches[0]); err != nil {
		panic(err)
	}
	fmt.Println(r.Batches[0].Members[0].Reasons[0])
	// Output:
	// EmailAddress
	// alice@northwind.onmicrosoft.com
	// bob@northwind.onmicrosoft.com
	// delegation group of 2: with bob@northwind.onmicrosoft.com (publicDelegates)
}
