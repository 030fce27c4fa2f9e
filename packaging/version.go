package main

import (
	"fmt"
	"regexp"
	"strings"
)

// pkgVersion is a package version split the way nfpm writes it: Version~Prerelease+Metadata,
// then -Release. The same string sorts correctly for dpkg and rpm.
type pkgVersion struct {
	Version, Prerelease, Metadata string
}

func (v pkgVersion) String() string {
	s := v.Version
	if v.Prerelease != "" {
		s += "~" + v.Prerelease
	}
	if v.Metadata != "" {
		s += "+" + v.Metadata
	}
	return s
}

var (
	describeRe = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]{4,40})$`)
	hashRe     = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
	semverRe   = regexp.MustCompile(`^v?([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.]+))?$`)
)

// parseDescribe turns `git describe --tags --always --dirty` into a package version; commits
// (`git rev-list --count HEAD`) orders untagged builds.
//
//	v1.2.3                -> 1.2.3
//	v1.2.3-rc.1           -> 1.2.3~rc.1          (sorts before 1.2.3)
//	v1.2.3-4-gabc1234     -> 1.2.3+git4.gabc1234 (sorts after 1.2.3)
//	abc1234 (no tag yet)  -> 0.0.0+git<commits>.gabc1234
//	... -dirty            -> ... with .dirty at the end of the metadata
func parseDescribe(describe string, commits int) (pkgVersion, error) {
	d, dirty := strings.CutSuffix(strings.TrimSpace(describe), "-dirty")
	var v pkgVersion
	var meta []string
	tag := d
	switch {
	case hashRe.MatchString(d):
		tag = "0.0.0"
		meta = append(meta, fmt.Sprintf("git%d", commits), "g"+d)
	case describeRe.MatchString(d):
		m := describeRe.FindStringSubmatch(d)
		tag = m[1]
		meta = append(meta, "git"+m[2], "g"+m[3])
	}
	m := semverRe.FindStringSubmatch(tag)
	if m == nil {
		return v, fmt.Errorf("version %q: the newest tag %q is not vMAJOR.MINOR.PATCH[-PRERELEASE]", describe, tag)
	}
	v.Version, v.Prerelease = m[1], m[2]
	if dirty {
		meta = append(meta, "dirty")
	}
	v.Metadata = strings.Join(meta, ".")
	return v, nil
}
