// Package synth generates synthetic source mailboxes in the hybrid shape of the demo forest
// (remote mailboxes whose targetAddress points at contoso.mail.onmicrosoft.com), for
// integration tests and benchmarks that need their own, non-overlapping objects.
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Options describe a generated population.
type Options struct {
	N      int
	OU     string // parent DN for users and the group
	Tag    string // short unique tag (letters/digits, <= 6) keeping names and GUIDs apart
	Domain string // primary SMTP domain (default contoso.com)
	// Routing is the source routing domain (default contoso.mail.onmicrosoft.com).
	Routing string
	// ArchiveEvery gives every n-th mailbox an archive (0: none).
	ArchiveEvery int
	// Filter, when set, is stamped as extensionAttribute1 (scope by filter).
	ExtensionAttribute1 string
}

// Alias returns the alias of mailbox i.
func (o Options) Alias(i int) string { return fmt.Sprintf("s%s%05d", o.Tag, i) }

// GUID returns mailbox i's ExchangeGUID (kind "mbx") or ArchiveGUID ("arc"), derived from the tag.
func (o Options) GUID(kind string, i int) directory.GUID {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", o.Tag, kind, i))
	var g directory.GUID
	copy(g[:], sum[:16])
	g[6] = g[6]&0x0f | 0x40 // version 4 shape
	g[8] = g[8]&0x3f | 0x80
	return g
}

// GroupDN is the DN of the generated scope group.
func (o Options) GroupDN() string { return "CN=Scope " + o.Tag + "," + o.OU }

// UserDN returns mailbox i's DN.
func (o Options) UserDN(i int) string { return "CN=" + o.Alias(i) + "," + o.OU }

// Requests returns the add requests: N users, then the scope group holding them all.
func Requests(o Options) []*ldap.AddRequest {
	if o.Domain == "" {
		o.Domain = "contoso.com"
	}
	if o.Routing == "" {
		o.Routing = "contoso.mail.onmicrosoft.com"
	}
	out := make([]*ldap.AddRequest, 0, o.N+1)
	members := make([]string, 0, o.N)
	for i := range o.N {
		a := o.Alias(i)
		g := o.GUID("mbx", i)
		h := hex.EncodeToString(g[:])
		c := o.GUID("cloud", i)
		cloud := hex.EncodeToString(c[:])
		r := ldap.NewAddRequest(o.UserDN(i), nil)
		r.Attribute("objectClass", []string{"user"})
		r.Attribute("sAMAccountName", []string{a})
		r.Attribute("userPrincipalName", []string{a + "@" + o.Domain})
		r.Attribute("givenName", []string{"Synthetic"})
		r.Attribute("sn", []string{a})
		r.Attribute("displayName", []string{"Synthetic " + a})
		r.Attribute("mail", []string{a + "@" + o.Domain})
		r.Attribute("mailNickname", []string{a})
		r.Attribute("legacyExchangeDN", []string{"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + h + "-" + a})
		r.Attribute("proxyAddresses", []string{
			"SMTP:" + a + "@" + o.Domain,
			"smtp:" + a + "@contoso.onmicrosoft.com",
			"smtp:" + a + "@" + o.Routing,
			"X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + cloud + "-" + a,
		})
		r.Attribute("targetAddress", []string{"SMTP:" + a + "@" + o.Routing})
		r.Attribute("msExchMailboxGuid", []string{string(g.AD())})
		remote := "4"
		if o.ArchiveEvery > 0 && i%o.ArchiveEvery == 0 {
			r.Attribute("msExchArchiveGUID", []string{string(o.GUID("arc", i).AD())})
			remote = "6"
		}
		r.Attribute("msExchRecipientTypeDetails", []string{"2147483648"})
		r.Attribute("msExchRecipientDisplayType", []string{"-2147483642"})
		r.Attribute("msExchRemoteRecipientType", []string{remote})
		if o.ExtensionAttribute1 != "" {
			r.Attribute("extensionAttribute1", []string{o.ExtensionAttribute1})
		}
		out = append(out, r)
		members = append(members, o.UserDN(i))
	}
	grp := ldap.NewAddRequest(o.GroupDN(), nil)
	grp.Attribute("objectClass", []string{"group"})
	grp.Attribute("sAMAccountName", []string{"scope-" + o.Tag})
	grp.Attribute("groupType", []string{"-2147483640"})
	grp.Attribute("mail", []string{"scope-" + o.Tag + "@" + o.Domain})
	if len(members) > 0 {
		grp.Attribute("member", members)
	}
	return append(out, grp)
}

// Adder is what Load needs of a connection.
type Adder interface {
	Add(*ldap.AddRequest) error
}

// Load adds the requests in order.
func Load(c Adder, reqs []*ldap.AddRequest) error {
	for _, r := range reqs {
		if err := c.Add(r); err != nil {
			return fmt.Errorf("synth: add %s: %w", r.DN, err)
		}
	}
	return nil
}
