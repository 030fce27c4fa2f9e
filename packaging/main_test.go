package main

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDescribe(t *testing.T) {
	for _, c := range []struct {
		in      string
		commits int
		want    string
	}{
		{"v1.2.3", 0, "1.2.3"},
		{"1.2.3", 0, "1.2.3"},
		{"v1.2.3-dirty", 0, "1.2.3+dirty"},
		{"v1.2.3-rc.1", 0, "1.2.3~rc.1"},
		{"v1.2.3-4-gabc1234", 0, "1.2.3+git4.gabc1234"},
		{"v1.2.3-rc.1-4-gabc1234-dirty", 0, "1.2.3~rc.1+git4.gabc1234.dirty"},
		{"9421412", 217, "0.0.0+git217.g9421412"},
		{"9421412-dirty", 217, "0.0.0+git217.g9421412.dirty"},
	} {
		got, err := parseDescribe(c.in, c.commits)
		if err != nil || got.String() != c.want {
			t.Errorf("parseDescribe(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "release-7", "v1.2", "v1.2.3-4-gabc1234x"} {
		if v, err := parseDescribe(bad, 1); err == nil {
			t.Errorf("parseDescribe(%q) = %q, want an error", bad, v)
		}
	}
}

// The packaged unit must keep the hardening and run as the package's user on its paths.
func TestUnit_Hardened(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "configs", "xtmsyncd.service"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{
		"User=xtmsyncd", "Group=xtmsyncd",
		"ExecStart=/usr/bin/xtmsyncd run -config /etc/xtmsyncd/xtmsyncd.yaml",
		"ProtectSystem=strict", "ReadWritePaths=/var/lib/xtmsyncd", "ProtectHome=yes",
		"NoNewPrivileges=yes", "PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "UMask=0027", "Restart=on-failure", "WantedBy=multi-user.target",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("configs/xtmsyncd.service lacks the line %q", want)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// verify wants the ExecStart binary to exist; every other complaint is a real one.
		out, _ := exec.Command(sa, "verify", filepath.Join("..", "configs", "xtmsyncd.service")).CombinedOutput()
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.Contains(l, "/usr/bin/xtmsyncd is not executable") {
				t.Errorf("systemd-analyze verify: %s", l)
			}
		}
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	linux, win := filepath.Join(dir, "xtmsyncd"), filepath.Join(dir, "xtmsyncd.exe")
	for _, p := range []string{linux, win} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho stub\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "dist")
	o := options{describe: "v1.4.0-3-gabc1234-dirty", root: "..", out: out, linuxBin: linux, windowsExe: win,
		mtime: time.Unix(1_800_000_000, 0).UTC(), formats: []string{"deb", "rpm", "zip"}}
	built, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range built {
		names = append(names, filepath.Base(p))
	}
	want := []string{"xtmsyncd_1.4.0+git3.gabc1234.dirty-1_amd64.deb", "xtmsyncd-1.4.0+git3.gabc1234.dirty-1.x86_64.rpm",
		"xtmsyncd_1.4.0+git3.gabc1234.dirty_windows_amd64.zip", "SHA256SUMS"}
	if !slices.Equal(names, want) {
		t.Fatalf("built %v, want %v", names, want)
	}

	t.Run("deb", func(t *testing.T) {
		dpkgDeb, err := exec.LookPath("dpkg-deb")
		if err != nil {
			t.Skip("no dpkg-deb on this machine")
		}
		deb := built[0]
		listing := run(t, dpkgDeb, "--contents", deb)
		for _, want := range []string{
			"-rwxr-xr-x root/root", "./usr/bin/xtmsyncd",
			"drwxr-x--- root/xtmsyncd", "./etc/xtmsyncd/",
			"-rw-r----- root/xtmsyncd", "./etc/xtmsyncd/xtmsyncd.yaml",
			"-rw------- root/root", "./etc/default/xtmsyncd",
			"drwxr-x--- xtmsyncd/xtmsyncd", "./var/lib/xtmsyncd/", "./var/lib/xtmsyncd/reports/", "./var/lib/xtmsyncd/completed/",
			"./usr/lib/systemd/system/xtmsyncd.service",
		} {
			if !strings.Contains(listing, want) {
				t.Errorf("deb contents lack %q:\n%s", want, listing)
			}
		}
		ctl := t.TempDir()
		run(t, dpkgDeb, "--control", deb, ctl)
		conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
		if got := strings.Fields(string(conffiles)); !slices.Equal(got, []string{"/etc/default/xtmsyncd", "/etc/xtmsyncd/xtmsyncd.yaml"}) {
			t.Errorf("conffiles = %v", got)
		}
		for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
			if _, err := os.Stat(filepath.Join(ctl, s)); err != nil {
				t.Errorf("no %s: %v", s, err)
			}
		}
		if v := strings.TrimSpace(run(t, dpkgDeb, "--field", deb, "Version")); v != "1.4.0+git3.gabc1234.dirty-1" {
			t.Errorf("Version = %q", v)
		}
		unit := run(t, dpkgDeb, "--fsys-tarfile", deb) // the unit ships byte for byte
		src, _ := os.ReadFile(filepath.Join("..", "configs", "xtmsyncd.service"))
		if !strings.Contains(unit, string(src)) {
			t.Errorf("the packaged unit differs from configs/xtmsyncd.service")
		}
	})

	t.Run("rpm", func(t *testing.T) {
		b, err := os.ReadFile(built[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte{0xed, 0xab, 0xee, 0xdb}) {
			t.Fatalf("not an rpm: % x", b[:4])
		}
		// The header (names, users, scripts) is not compressed.
		for _, want := range []string{"xtmsyncd.yaml", "/etc/xtmsyncd/", "/var/lib/xtmsyncd/", "xtmsyncd.service",
			"useradd --system", "shadow-utils", "1.4.0+git3.gabc1234.dirty"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("rpm header lacks %q", want)
			}
		}
	})

	t.Run("zip", func(t *testing.T) {
		z, err := zip.OpenReader(built[2])
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		var got []string
		for _, f := range z.File {
			got = append(got, f.Name)
			if !f.Modified.Equal(o.mtime) {
				t.Errorf("%s: mtime %v, want %v", f.Name, f.Modified, o.mtime)
			}
		}
		if want := []string{"xtmsyncd/xtmsyncd.exe", "xtmsyncd/xtmsyncd.example.yaml", "xtmsyncd/INSTALL.md"}; !slices.Equal(got, want) {
			t.Errorf("zip holds %v, want %v", got, want)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		o2 := o
		o2.out = filepath.Join(dir, "again")
		if _, err := build(o2); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		b, _ := os.ReadFile(filepath.Join(o2.out, "SHA256SUMS"))
		if !bytes.Equal(a, b) {
			t.Errorf("two builds of the same inputs differ:\n%s\n%s", a, b)
		}
	})
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}
