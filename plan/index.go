package plan

import (
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
)

// index is the target forest as the diff needs it: objects by ExchangeGUID and by anchor, and
// every address, UPN, sAMAccountName and DN in use. Lists are sorted by DN, so results never
// depend on the order the server returned objects in.
type index struct {
	ou        *ldap.DN
	ouName    string // lower-case value of the OU's first RDN, as is and escaped
	ouEscaped string
	ouSuffix  string // ","+the OU's normalised lower-case form
	byGUID    map[directory.GUID][]*directory.Entry
	byAnchor  map[string][]*directory.Entry
	proxies   map[string][]*directory.Entry // proxy key -> holders
	upns      map[string][]*directory.Entry
	sams      map[string]bool
	dns       map[string]bool // lower-case normalised DNs under the OU
	inOU      map[*directory.Entry]bool
	opt       Options
}

func newIndex(target []*directory.Entry, opt Options) *index {
	n := len(target)
	x := &index{
		byGUID: make(map[directory.GUID][]*directory.Entry, n), byAnchor: make(map[string][]*directory.Entry, n),
		proxies: make(map[string][]*directory.Entry, 4*n), upns: make(map[string][]*directory.Entry, n),
		sams: make(map[string]bool, n), dns: make(map[string]bool, n), inOU: make(map[*directory.Entry]bool, n), opt: opt,
	}
	x.ou, _ = ldap.ParseDN(opt.OU)
	if x.ou != nil && len(x.ou.RDNs) > 0 && len(x.ou.RDNs[0].Attributes) > 0 {
		x.ouName = strings.ToLower(x.ou.RDNs[0].Attributes[0].Value)
		x.ouEscaped = strings.ToLower(ldap.EscapeDN(x.ou.RDNs[0].Attributes[0].Value))
		x.ouSuffix = "," + strings.ToLower(x.ou.String())
	}
	sorted := slices.Clone(target)
	slices.SortFunc(sorted, func(a, b *directory.Entry) int { return strings.Compare(strings.ToLower(a.DN), strings.ToLower(b.DN)) })
	for _, e := range sorted {
		if g, err := directory.ParseGUID(e.First(directory.AttrMailboxGUID)); err == nil {
			x.byGUID[g] = append(x.byGUID[g], e)
		}
		if opt.Anchor != "" {
			for _, v := range e.Get(opt.Anchor) {
				k := strings.ToLower(v)
				x.byAnchor[k] = append(x.byAnchor[k], e)
			}
		}
		for _, v := range e.Get(directory.AttrProxyAddresses) {
			k := directory.Proxy(v).Key()
			x.proxies[k] = append(x.proxies[k], e)
		}
		if u := e.First(directory.AttrUPN); u != "" {
			k := strings.ToLower(u)
			x.upns[k] = append(x.upns[k], e)
		}
		if s := e.First(directory.AttrSAMAccountName); s != "" {
			x.sams[strings.ToLower(s)] = true
		}
		if dn, ok := x.underOU(e.DN); ok {
			x.inOU[e] = true
			x.dns[dn] = true
		}
	}
	return x
}

// underOU reports whether dn lies strictly under the OU, and returns its normalised lower-case
// form. A DN that does not even contain the OU's own name is rejected without parsing.
func (x *index) underOU(dn string) (string, bool) {
	if x.ou == nil {
		return "", false
	}
	low := strings.ToLower(dn)
	if n := len(low) - len(x.ouSuffix); n > 0 && strings.HasSuffix(low, x.ouSuffix) && !strings.Contains(low[:n], `\`) {
		return low, true // AD's own rendering of a DN under the OU, no escapes: no need to parse
	}
	if !strings.Contains(low, x.ouName) && !strings.Contains(low, x.ouEscaped) {
		return "", false
	}
	d, err := ldap.ParseDN(dn)
	if err != nil || !x.ou.AncestorOfFold(d) {
		return "", false
	}
	return strings.ToLower(d.String()), true
}

// InOU reports whether dn lies under the OU (case-insensitive, RDN-aware).
func InOU(ou *ldap.DN, dn string) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && ou != nil && ou.AncestorOfFold(d)
}

func (x *index) owned(e *directory.Entry) bool {
	return strings.EqualFold(e.First(x.opt.OwnerAttr), x.opt.OwnerValue)
}

// other returns the first holder (by DN) that is not the matched object, or nil.
func other(holders []*directory.Entry, match *directory.Entry) *directory.Entry {
	for _, h := range holders {
		if h != match {
			return h
		}
	}
	return nil
}

func intOf(e *directory.Entry, attr string) int64 {
	v, _ := strconv.ParseInt(e.First(attr), 10, 64)
	return v
}

func dnList(es []*directory.Entry) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.DN
	}
	slices.Sort(s)
	return strings.Join(s, "; ")
}

func normDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	return d.String()
}
