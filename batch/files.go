package batch

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names and modes used by WriteFiles.
const (
	ManifestName = "manifest.json"
	dirMode      = 0o750
	fileMode     = 0o640
	tmpPrefix    = ".xtm-batch-"
)

// WriteFiles writes r into dir as batch-001.csv, batch-002.csv, ... (one per batch, see
// WriteCSV) and manifest.json (see Manifest), and returns the paths written, manifest last.
// dir is created (mode 0750) if missing; files get mode 0640. Batch files and a manifest
// left in dir by an earlier run are removed first, so that dir never mixes two plans; other
// files are left alone. Each file is written to a temporary name and renamed into place,
// and the manifest is written last: a dir without manifest.json is incomplete.
func WriteFiles(dir string, r *Result) ([]string, error) {
	if r == nil {
		return nil, errors.New("batch: write files: nil result")
	}
	if err := checkBatches(r.Batches); err != nil {
		return nil, err
	}
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	if err := removeStale(dir); err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(r.Batches)+1)
	for _, b := range r.Batches {
		p, err := writeAtomic(dir, b.Name+".csv", func(w io.Writer) error { return WriteCSV(w, b) })
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	p, err := writeAtomic(dir, ManifestName, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(NewManifest(r)); err != nil {
			return fmt.Errorf("batch: encode manifest: %w", err)
		}
		return nil
	})
	if err != nil {
		return paths, err
	}
	return append(paths, p), nil
}

// isBatchName reports whether name is "batch-" followed by decimal digits.
func isBatchName(name string) bool {
	digits, ok := strings.CutPrefix(name, "batch-")
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkBatches refuses, before anything is removed or written, batch names that are not
// batch-NNN (they become file names) or repeat, and addresses WriteCSV would refuse.
func checkBatches(bs []Batch) error {
	seen := make(map[string]bool, len(bs))
	for _, b := range bs {
		if !isBatchName(b.Name) {
			return fmt.Errorf("batch: %q: want batch-<digits>: %w", b.Name, ErrName)
		}
		if seen[b.Name] {
			return fmt.Errorf("batch: %q twice: %w", b.Name, ErrName)
		}
		seen[b.Name] = true
		for _, m := range b.Members {
			if err := checkAddress(m.Address); err != nil {
				return fmt.Errorf("batch: %s: %q: address %q: %w", b.Name, m.ID, m.Address, err)
			}
		}
	}
	return nil
}

// makeDir creates dir with mode 0750 (whatever the umask) unless it exists.
func makeDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("batch: %s: not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("batch: %w", err)
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	return nil
}

// removeStale deletes the manifest first, then the batch files and temporaries of an earlier run.
func removeStale(dir string) error {
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("batch: remove stale manifest: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		stale := strings.HasPrefix(name, tmpPrefix) ||
			(strings.HasSuffix(name, ".csv") && isBatchName(strings.TrimSuffix(name, ".csv")))
		if !stale || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("batch: remove stale file: %w", err)
		}
	}
	return nil
}

// writeAtomic writes dir/name through a temporary file renamed into place, with mode 0640.
func writeAtomic(dir, name string, write func(io.Writer) error) (path string, err error) {
	path = filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, tmpPrefix+name+"-*")
	if err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err = write(bw); err != nil {
		return "", err // already says what failed
	}
	if err = bw.Flush(); err != nil {
		return "", fmt.Errorf("batch: write %s: %w", path, err)
	}
	if err = f.Chmod(fileMode); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("batch: %w", err)
	}
	return path, nil
}
