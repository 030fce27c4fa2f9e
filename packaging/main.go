// Command package builds what an admin installs: a .deb and an .rpm (with nfpm) and a Windows
// zip, from binaries `make package` has built with the version stamped in. Run it through
// `make package`; it writes into -out and prints each file with its size.
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

// options are the flags; root is the repository, the other paths are relative to the working
// directory.
type options struct {
	describe, root, out, linuxBin, windowsExe string
	commits                                   int
	mtime                                     time.Time
	formats                                   []string
}

func main() {
	var o options
	var mtime int64
	var formats string
	flag.StringVar(&o.describe, "version", "", "`git describe --tags --always --dirty` of the build")
	flag.IntVar(&o.commits, "commits", 0, "`git rev-list --count HEAD`: orders builds made before the first tag")
	flag.Int64Var(&mtime, "mtime", 0, "Unix time stamped on every file (the commit's time keeps packages reproducible)")
	flag.StringVar(&o.root, "root", "..", "the repository")
	flag.StringVar(&o.out, "out", "../dist", "where the packages go")
	flag.StringVar(&o.linuxBin, "linux", "../dist/bin/linux-amd64/xtmsyncd", "the linux/amd64 binary")
	flag.StringVar(&o.windowsExe, "windows", "../dist/bin/windows-amd64/xtmsyncd.exe", "the windows/amd64 binary")
	flag.StringVar(&formats, "formats", "deb,rpm,zip", "what to build")
	flag.Parse()
	o.mtime = time.Unix(mtime, 0).UTC()
	if mtime == 0 {
		o.mtime = time.Now().UTC().Truncate(time.Second)
	}
	o.formats = strings.Split(formats, ",")
	built, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	for _, p := range built {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "package:", err)
			os.Exit(1)
		}
		fmt.Printf("%-60s %6.1f MB\n", p, float64(st.Size())/(1<<20))
	}
}

// build writes the packages o asks for and SHA256SUMS, and returns their paths.
func build(o options) ([]string, error) {
	if o.describe == "" {
		return nil, fmt.Errorf("-version is required")
	}
	v, err := parseDescribe(o.describe, o.commits)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	var built []string
	for _, f := range o.formats {
		var p string
		switch f {
		case "deb", "rpm":
			p, err = linuxPackage(o, v, f)
		case "zip":
			p, err = windowsZip(o, v)
		default:
			err = fmt.Errorf("unknown format %q (deb, rpm, zip)", f)
		}
		if err != nil {
			return nil, err
		}
		built = append(built, p)
	}
	sums, err := writeSums(o.out, built)
	if err != nil {
		return nil, err
	}
	return append(built, sums), nil
}

const description = `Prepares Microsoft 365 cross-tenant mailbox migrations from on-premises AD
xtmsyncd reads the source forest's mailboxes, writes the matching MailUsers into
one OU of the target forest (compare-and-set, journaled in SQLite), checks each
mailbox's readiness, writes New-MigrationBatch files and cuts moved mailboxes over.`

// linuxInfo describes the .deb or .rpm: binary, config (kept on upgrade), state folders owned by
// the xtmsyncd user the preinstall script creates, the systemd unit and the maintainer scripts.
func linuxInfo(o options, v pkgVersion, format string) *nfpm.Info {
	r := func(p ...string) string { return filepath.Join(append([]string{o.root}, p...)...) }
	own := func(owner, group string, mode os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: owner, Group: group, Mode: mode, MTime: o.mtime}
	}
	contents := files.Contents{
		{Source: o.linuxBin, Destination: "/usr/bin/xtmsyncd", FileInfo: own("root", "root", 0o755)},
		{Destination: "/etc/xtmsyncd", Type: files.TypeDir, FileInfo: own("root", "xtmsyncd", 0o750)},
		{Source: r("configs", "xtmsyncd.example.yaml"), Destination: "/etc/xtmsyncd/xtmsyncd.yaml",
			Type: files.TypeConfigNoReplace, FileInfo: own("root", "xtmsyncd", 0o640)},
		{Source: r("packaging", "default.env"), Destination: "/etc/default/xtmsyncd",
			Type: files.TypeConfigNoReplace, FileInfo: own("root", "root", 0o600)},
		{Source: r("configs", "xtmsyncd.service"), Destination: "/usr/lib/systemd/system/xtmsyncd.service",
			FileInfo: own("root", "root", 0o644)},
		{Source: r("configs", "xtmsyncd.example.yaml"), Destination: "/usr/share/doc/xtmsyncd/xtmsyncd.example.yaml",
			FileInfo: own("root", "root", 0o644)},
		{Source: r("README.md"), Destination: "/usr/share/doc/xtmsyncd/README.md",
			FileInfo: own("root", "root", 0o644)},
	}
	for _, d := range []string{"/var/lib/xtmsyncd", "/var/lib/xtmsyncd/reports", "/var/lib/xtmsyncd/completed"} {
		contents = append(contents, &files.Content{Destination: d, Type: files.TypeDir, FileInfo: own("xtmsyncd", "xtmsyncd", 0o750)})
	}
	info := &nfpm.Info{
		Name:            "xtmsyncd",
		Arch:            "amd64",
		Platform:        "linux",
		Version:         v.Version,
		Prerelease:      v.Prerelease,
		VersionMetadata: v.Metadata,
		VersionSchema:   "none",
		Release:         "1",
		Section:         "admin",
		Priority:        "optional",
		Maintainer:      "xtmsyncd maintainers <xtmsyncd@localhost>",
		Vendor:          "xtmsyncd",
		Description:     description,
		License:         "Proprietary",
		MTime:           o.mtime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Umask:    0o022,
			Scripts: nfpm.Scripts{
				PreInstall:  r("packaging", "scripts", "preinstall.sh"),
				PostInstall: r("packaging", "scripts", "postinstall.sh"),
				PreRemove:   r("packaging", "scripts", "preremove.sh"),
				PostRemove:  r("packaging", "scripts", "postremove.sh"),
			},
		},
	}
	switch format {
	case "deb":
		info.Depends = []string{"passwd"} // useradd, groupadd
	case "rpm":
		info.Depends = []string{"shadow-utils"}
		info.RPM.Group = "Applications/System"
		info.RPM.Summary = strings.SplitN(description, "\n", 2)[0]
	}
	return info
}

func linuxPackage(o options, v pkgVersion, format string) (string, error) {
	info := nfpm.WithDefaults(linuxInfo(o, v, format))
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	pkger, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.out, pkger.ConventionalFileName(info))
	if err := writeAtomic(path, func(w io.Writer) error { return pkger.Package(info, w) }); err != nil {
		return "", fmt.Errorf("%s: %w", format, err)
	}
	return path, nil
}

// windowsZip holds xtmsyncd/ with the .exe, the example config and the install page.
func windowsZip(o options, v pkgVersion) (string, error) {
	path := filepath.Join(o.out, fmt.Sprintf("xtmsyncd_%s_windows_amd64.zip", v))
	entries := []struct{ src, name string }{
		{o.windowsExe, "xtmsyncd/xtmsyncd.exe"},
		{filepath.Join(o.root, "configs", "xtmsyncd.example.yaml"), "xtmsyncd/xtmsyncd.example.yaml"},
		{filepath.Join(o.root, "packaging", "windows", "INSTALL.md"), "xtmsyncd/INSTALL.md"},
	}
	err := writeAtomic(path, func(w io.Writer) error {
		z := zip.NewWriter(w)
		for _, e := range entries {
			f, err := os.Open(e.src)
			if err != nil {
				return err
			}
			hw, err := z.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: o.mtime})
			if err == nil {
				_, err = io.Copy(hw, f)
			}
			f.Close()
			if err != nil {
				return err
			}
		}
		return z.Close()
	})
	return path, err
}

// writeAtomic writes path through a temporary file, so a failed build leaves no half package.
func writeAtomic(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeSums writes SHA256SUMS for the files (in sha256sum's format, names relative to dir).
func writeSums(dir string, paths []string) (string, error) {
	var lines []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
		lines = append(lines, hex.EncodeToString(h.Sum(nil))+"  "+filepath.Base(p)+"\n")
	}
	sort.Strings(lines)
	path := filepath.Join(dir, "SHA256SUMS")
	return path, os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
}
