package plan

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// The packer gives back exactly what it was given, whatever the reference object shares with it:
// multi-byte runes that share a first byte, empty values, keys that mean "absent", more values
// than the reference has.
func TestPacker_RoundTrip(t *testing.T) {
	ref := map[string][]string{
		"proxyAddresses": {"SMTP:ana@northwind.com", "x500:/o=Contoso/cn=Recipients/cn=ana"},
		"displayName":    {"Ana Érica"},
		"sn":             {"é"},
	}
	cases := []map[string][]string{
		ref,
		{"proxyAddresses": {"SMTP:bo@northwind.com", "x500:/o=Contoso/cn=Recipients/cn=bo", "smtp:bo@x.test"}},
		{"displayName": {"Ana Èrica"}, "sn": {"è"}},
		{"displayName": {""}, "msExchArchiveGUID": nil, "sn": {}},
		{"proxyAddresses": {"SMTP:ana@northwind.com"}},
		{"newAttribute": {"値", "值", "ana@northwind.com"}},
		{},
	}
	p := newPacker()
	p.pack(ref)
	for i, want := range cases {
		got := p.unpack(p.pack(want))
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if len(got) != len(want) {
			t.Fatalf("case %d: %d attributes back, want %d: %q", i, len(got), len(want), got)
		}
		for k, v := range want {
			g, ok := got[k]
			if !ok || len(g) != len(v) || (len(v) > 0 && !slices.Equal(g, v)) {
				t.Errorf("case %d: %s = %q (present %v), want %q", i, k, g, ok, v)
			}
		}
	}
}

// Random values over a small alphabet with multi-byte runes: the worst case for shared prefixes
// and suffixes.
func TestPacker_RoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "@", ".", "é", "è", "値", "Ä", "ä", ""}
	word := func() string {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	obj := func() map[string][]string {
		m := map[string][]string{}
		for range rng.IntN(5) {
			vals := make([]string, rng.IntN(4))
			for i := range vals {
				vals[i] = word()
			}
			m[fmt.Sprint("attr", rng.IntN(6))] = vals
		}
		return m
	}
	p := newPacker()
	for range 2000 {
		want := obj()
		got := p.unpack(p.pack(want))
		if len(want) == 0 {
			continue
		}
		for k, v := range want {
			if g := got[k]; len(g) != len(v) || (len(v) > 0 && !slices.Equal(g, v)) {
				t.Fatalf("%s = %q, want %q", k, g, v)
			}
		}
	}
}

// Names and addresses compare the way AD compares them: case-insensitively, also beyond ASCII
// and past the hasher's 64-byte buffer.
func TestFolded_CaseInsensitiveLikeAD(t *testing.T) {
	seed := maphash.MakeSeed()
	long := strings.Repeat("x500:/o=Contoso/ou=Exchange Administrative Group/", 3)
	same := [][2]string{
		{"SMTP:Ana@Northwind.com", "smtp:ana@northwind.COM"},
		{long + "CN=Ana", strings.ToUpper(long) + "cn=ana"},
		{"Äsa@northwind.com", "äsa@NORTHWIND.com"},
		{"", ""},
	}
	for _, p := range same {
		if folded(seed, p[0]) != folded(seed, p[1]) {
			t.Errorf("%q and %q hash differently", p[0], p[1])
		}
	}
	differ := [][2]string{{"ana@northwind.com", "ana@northwind.co"}, {long + "a", long + "b"}, {"äsa", "asa"}}
	for _, p := range differ {
		if folded(seed, p[0]) == folded(seed, p[1]) {
			t.Errorf("%q and %q hash the same", p[0], p[1])
		}
	}
}

// streamScenario has one source for every way a source can end, and target objects for each.
func streamScenario(t *testing.T) ([]directory.Mailbox, []*directory.Entry) {
	t.Helper()
	var ms []directory.Mailbox
	var ts []*directory.Entry
	add := func(m directory.Mailbox, e *directory.Entry) {
		ms = append(ms, m)
		if e != nil {
			ts = append(ts, e)
		}
	}
	prep := func(m directory.Mailbox) *directory.Entry { _, e := prepared(t, m); return e }

	add(src("Lara Newton", "LaraN", "lara"), nil) // creates whose CN and sAMAccountName collide
	twin := src("Lara Newton", "LaraN2", "lara2")
	twin.DN = "CN=Lara Newton,OU=Finance,DC=contoso,DC=test"
	add(twin, nil)
	same1, same2 := src("Sam Same", "averyveryverylongalias1", "sam1"), src("Sam Same", "averyveryverylongalias2", "sam2")
	same2.DN = "CN=Sam Same,OU=Finance,DC=contoso,DC=test" // the first named gets the plain CN and sAMAccountName
	add(same1, nil)
	add(same2, nil)
	up := src("Bert Upd", "bupd", "bert")
	e := prep(up)
	e.Set(directory.AttrDisplayName, "stale")
	add(up, e)
	unc := src("Uma Unc", "uunc", "uma")
	add(unc, prep(unc))
	notOwned := src("Cleo Con", "ccon", "cleo")
	e = prep(notOwned)
	e.Set(ownerAttr)
	add(notOwned, e)
	anchored := src("Anke Anchor", "aanc", "anke") // matched by mailNickname, no GUID on the target
	e = prep(anchored)
	e.Set(directory.AttrMailboxGUID)
	e.Set(directory.AttrDisplayName, "Anke (pre-staged)")
	add(anchored, e)
	amb := src("Ada Amb", "aamb", "ada") // two objects hold its GUID
	e = prep(amb)
	e2 := prep(amb)
	e2.DN = "CN=Ada Copy," + testOU
	e2.Set(directory.AttrProxyAddresses)
	e2.Set(directory.AttrUPN)
	e2.Set(directory.AttrMailNickname)
	add(amb, e)
	ts = append(ts, e2)
	inUse := src("Ivo Use", "iuse", "ivo") // its primary is held by another object
	add(inUse, entry("CN=Someone Else,"+otherOU, directory.AttrProxyAddresses, "SMTP:ivo@northwind.com", directory.AttrSAMAccountName, "iuse"))
	upn := src("Ula Upn", "uupn", "ula")
	add(upn, entry("CN=Ula Other,"+otherOU, directory.AttrUPN, "UUPN@northwind.onmicrosoft.com"))
	twiceA, twiceB := src("Tara One", "tone", "tara"), src("Tara Two", "ttwo", "tara")
	add(twiceA, nil)
	add(twiceB, nil)
	dupA, dupB := src("Dora Dup", "ddup", "dora"), src("Dora Dup2", "ddup2", "dora2")
	dupB.MailboxGUID = dupA.MailboxGUID
	add(dupA, nil)
	add(dupB, nil)
	bad := src("Ivan Inv", "iinv", "ivan")
	bad.LegacyExchangeDN = ""
	add(bad, nil)
	moved := src("Mo Migrated", "mmig", "mo")
	e = prep(moved)
	e.Set(directory.AttrRecipientTypeDetails, fmt.Sprint(directory.TypeRemoteUserMailbox))
	add(moved, e)
	outside := src("Otto Out", "oout", "otto")
	e = prep(outside)
	e.DN = "CN=Otto Out," + otherOU
	add(outside, e)
	ts = append(ts, entry("CN=Lara Newton,"+testOU, directory.AttrSAMAccountName, "LaraN"), entry("CN=Unrelated,"+otherOU, directory.AttrMailNickname, "nobody"))
	return ms, ts
}

// The plan does not depend on the order either forest returns its objects in, nor on how many
// target objects arrive before the last source (those are held, then looked at).
func TestBuilder_StreamOrderIndependent(t *testing.T) {
	ms, ts := streamScenario(t)
	want := Build(ms, rules(), ts, opts())
	seen := map[Action]int{}
	for _, c := range want.Changes {
		seen[c.Action]++
	}
	if seen[Create] < 2 || seen[Update] < 2 || seen[Unchanged] < 2 || seen[Conflict] < 5 || seen[Invalid] < 3 {
		t.Fatalf("scenario does not cover every class: %v", seen)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 200 {
		ms2, ts2 := slices.Clone(ms), slices.Clone(ts)
		rng.Shuffle(len(ms2), func(i, j int) { ms2[i], ms2[j] = ms2[j], ms2[i] })
		rng.Shuffle(len(ts2), func(i, j int) { ts2[i], ts2[j] = ts2[j], ts2[i] })
		early := rng.IntN(len(ts2) + 1)
		b := NewBuilder(rules(), opts())
		for i := range ms2 {
			if i < early {
				b.AddTarget(ts2[i]) // interleaved, as the engine's two reads are
			}
			b.AddSource(&ms2[i])
		}
		for _, e := range ts2[min(early, len(ms2)):early] {
			b.AddTarget(e)
		}
		b.SourcesDone()
		for _, e := range ts2[early:] {
			b.AddTarget(e)
		}
		got := b.Finish()
		if !reflect.DeepEqual(got.Changes, want.Changes) {
			for i := range want.Changes {
				if i >= len(got.Changes) || !reflect.DeepEqual(got.Changes[i], want.Changes[i]) {
					t.Fatalf("round %d (%d targets early): change %d differs:\n got %+v\nwant %+v", round, early, i, at(got.Changes, i), want.Changes[i])
				}
			}
			t.Fatalf("round %d: %d changes, want %d", round, len(got.Changes), len(want.Changes))
		}
	}
}

func at(cs []Change, i int) any {
	if i < len(cs) {
		return cs[i]
	}
	return nil
}

// A source is packed until its match is seen, then only the diff is kept; a target object no
// source refers to leaves nothing behind but hashes.
func TestBuilder_DropsWhatItNoLongerNeeds(t *testing.T) {
	m := src("Bert Upd", "bupd", "bert")
	_, e := prepared(t, m)
	b := NewBuilder(rules(), opts())
	b.AddSource(&m)
	b.SourcesDone()
	if b.srcs[0].blob == "" {
		t.Fatal("the source was not packed")
	}
	b.AddTarget(entry("CN=Unrelated,"+otherOU, directory.AttrMailNickname, "nobody"))
	if len(b.tgts) != 0 {
		t.Errorf("an unrelated object was kept: %+v", b.tgts)
	}
	b.AddTarget(e)
	if b.srcs[0].blob != "" || len(b.tgts) != 1 || b.tgts[0].x != nil {
		t.Errorf("after its match: packed %d bytes, %d objects kept, extra %+v", len(b.srcs[0].blob), len(b.tgts), b.tgts[0].x)
	}
	if p := b.Finish(); p.Summary.Unchanged != 1 {
		t.Errorf("summary %+v, want unchanged", p.Summary)
	}
}

// Objects that arrive before the last source are held packed and counted, then released.
func TestBuilder_HeldBytes(t *testing.T) {
	m := src("Bert Upd", "bupd", "bert")
	_, e := prepared(t, m)
	b := NewBuilder(rules(), opts())
	b.AddTarget(e)
	if b.HeldBytes() <= len(e.DN) {
		t.Errorf("held %d bytes for one object", b.HeldBytes())
	}
	b.AddSource(&m)
	b.SourcesDone()
	if b.HeldBytes() != 0 || b.held != nil {
		t.Errorf("still holding %d bytes after SourcesDone", b.HeldBytes())
	}
	if p := b.Finish(); p.Summary.Unchanged != 1 {
		t.Errorf("summary %+v, want unchanged", p.Summary)
	}
}

// The in-place proxy comparison (a handful of addresses) and the indexed one (large sets) agree.
func TestDiffProxies_InPlaceEqualsIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pool := []string{"SMTP:a@northwind.com", "smtp:A@NORTHWIND.COM", "smtp:b@northwind.com", "SMTP:b@northwind.com",
		"x500:/o=X/cn=a", "X500:/o=x/CN=A", "SIP:a@northwind.com", "smtp:c@northwind.mail.onmicrosoft.com", "x400:c=US;a= ;p=X;s=a"}
	pick := func() []string {
		var out []string
		seen := map[string]bool{}
		for range rng.IntN(6) {
			v := pool[rng.IntN(len(pool))]
			if k := strings.ToLower(v); !seen[k] {
				seen[k] = true
				out = append(out, v)
			}
		}
		return out
	}
	for range 5000 {
		want, have := pick(), pick()
		a, okA := diffProxies(want, have)
		b, okB := diffProxiesIndexed(want, have)
		if okA != okB || !slices.Equal(a.Add, b.Add) || !slices.Equal(a.Delete, b.Delete) || !slices.Equal(a.Before, b.Before) {
			t.Fatalf("want %q have %q: in place %+v %v, indexed %+v %v", want, have, a, okA, b, okB)
		}
	}
}

// compareFold orders names as comparing their lower-case forms does.
func TestCompareFold_AsToLower(t *testing.T) {
	words := []string{"", "a", "A", "ab", "aB", "b", "msExchMailboxGuid", "msexchmailboxguid", "msExchArchiveGUID", "mail",
		"mailNickname", "Ärger", "ärger", "zeta", "Z", "cn", "CN", "co"}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for _, a := range words {
		for _, b := range words {
			if got, want := sign(compareFold(a, b)), strings.Compare(strings.ToLower(a), strings.ToLower(b)); got != want {
				t.Errorf("compareFold(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// The key of a create's DN is built from the CN's RDN and the OU normalised apart; it must be the
// key of the whole DN, or a create could take the name of an existing object.
func TestBuilder_CreateKeyIsTheWholeDNsKey(t *testing.T) {
	for _, ou := range []string{"OU=Migrated,DC=northwind,DC=test", "ou=Mig\\,rated , dc=northwind,dc=test", "OU=#Hash+OU=Plus,DC=x", "OU=A+CN=B,DC=x"} {
		b := NewBuilder(mapper.Rules{}, Options{OU: ou})
		for _, cn := range []string{"Ann Lee", "Lee, Ann", " lead space", "trail ", "#hash", "a+b", "Zoë \"Q\" <x>;y=z", "back\\slash", "日本 語", "a=b", "=", " ", "tab\tnl\n"} {
			dn := "CN=" + directory.EscapeRDNValue(cn) + "," + ou
			if got, want := b.createKey(cn), folded(b.seed, normDN(dn)); got != want {
				t.Errorf("OU %q, CN %q: key of the parts %x, of the whole DN %q %x", ou, cn, got, normDN(dn), want)
			}
		}
	}
}

// Enough creates for Finish to draft them on several goroutines: names are still given in
// source-DN order, whatever order the sources arrived in (the first keeps its CN and
// sAMAccountName, every later one gets the alias form and a unique numbered sAMAccountName).
func TestBuilder_ManyCreatesNamedInSourceDNOrder(t *testing.T) {
	const n = 1200
	ms := make([]directory.Mailbox, n)
	for i := range ms {
		ms[i] = src("Same Name", fmt.Sprintf("averyveryverylongalias%04d", i), fmt.Sprintf("same.name%04d", i))
		ms[i].DN = fmt.Sprintf("CN=Same Name,OU=Dept%04d,DC=contoso,DC=test", i)
		g := guidFor(ms[i].Alias)
		g[0], g[1] = byte(i), byte(i>>8)
		ms[i].MailboxGUID = g.AD()
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	b := NewBuilder(rules(), opts())
	for i := range ms {
		b.AddSource(&ms[i])
	}
	p := b.Finish()
	if p.Summary.Create != n {
		t.Fatalf("summary %+v, want %d creates", p.Summary, n)
	}
	sams := map[string]bool{}
	for _, c := range p.Changes {
		cn, sam := attr(c, directory.AttrCN).After[0], attr(c, directory.AttrSAMAccountName).After[0]
		first := c.Source == "CN=Same Name,OU=Dept0000,DC=contoso,DC=test"
		if first != (cn == "Same Name") || first != (sam == "averyveryverylongali") {
			t.Errorf("%s: cn %q, sAMAccountName %q (the first in DN order alone keeps both)", c.Source, cn, sam)
		}
		if !first && !strings.HasPrefix(cn, "Same Name (averyveryverylongalias") {
			t.Errorf("%s: cn %q", c.Source, cn)
		}
		if c.DN != "CN="+ldap.EscapeDN(cn)+","+testOU || sams[strings.ToLower(sam)] || len(sam) > 20 {
			t.Errorf("%s: DN %q, sAMAccountName %q (seen before: %v)", c.Source, c.DN, sam, sams[strings.ToLower(sam)])
		}
		sams[strings.ToLower(sam)] = true
	}
}

// The sources' packer hands attributes back in the order a plan lists them, so a create is
// drafted without sorting; the values are what was packed.
func TestPacker_SortedGivesNamesInPlanOrder(t *testing.T) {
	p := &packer{ids: map[string]int{}, sorted: true}
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"mail", "Mail2", "proxyAddresses", "cn", "displayName", "msExchMailboxGuid", " cn", " sam", "targetAddress", "givenName", "sn", "userPrincipalName"}
	for range 50 {
		in := map[string][]string{}
		for _, n := range names {
			if rng.IntN(3) > 0 {
				in[n] = []string{fmt.Sprint(rng.IntN(1000)), n}
			}
		}
		var got []string
		out := map[string][]string{}
		p.each(p.pack(in), func(name string, vals []string) {
			got = append(got, name)
			out[name] = vals
		})
		if !slices.IsSortedFunc(got, compareName) || !reflect.DeepEqual(out, in) && len(in) > 0 {
			t.Fatalf("packed %v, got names %v values %v", in, got, out)
		}
	}
}
