package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time: `make build` and `make package` pass
// -ldflags "-X main.version=$(git describe --tags --always --dirty)". Without it the version
// is the one Go recorded (`go install module@version`, or a pseudo-version from the checkout
// when -buildvcs is on), else "dev".
var version = "dev"

func (m *Main) version(args []string) error {
	fs := newFlags("version")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v, rev := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	fmt.Fprintf(m.Stdout, "xtmsyncd %s%s %s %s/%s\n", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
