package ldapwire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// entryMessage encodes a SearchResultEntry with go-asn1-ber, the encoder go-ldap uses.
func entryMessage(id int64, e *ldap.Entry) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, e.DN, ""))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range e.Attributes {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.Name, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range a.ByteValues {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(v), ""))
		}
		pa.AppendChild(set)
		attrs.AppendChild(pa)
	}
	op.AppendChild(attrs)
	env.AppendChild(op)
	return env.Bytes()
}

func attr(name string, vals ...string) *ldap.EntryAttribute {
	a := &ldap.EntryAttribute{Name: name, Values: []string{}, ByteValues: [][]byte{}}
	for _, v := range vals {
		a.Values = append(a.Values, v)
		a.ByteValues = append(a.ByteValues, []byte(v))
	}
	return a
}

func decodeEntry(t *testing.T, f []byte) *ldap.Entry {
	t.Helper()
	m, err := parseMessage(f)
	if err != nil {
		t.Fatalf("parseMessage: %v", err)
	}
	if m.op != tagEntry {
		t.Fatalf("op %#x, want an entry", m.op)
	}
	e, err := entry(m.body)
	if err != nil {
		t.Fatalf("entry: %v", err)
	}
	return e
}

// What go-asn1-ber encodes, the lean decoder reads back exactly: values as strings and bytes,
// binary GUIDs, values past 127 and 65,535 bytes (long length forms), empty value sets.
func TestEntry_DecodesWhatGoASN1BEREncodes(t *testing.T) {
	guid := string([]byte{0xf7, 0xdd, 0x11, 0x2d, 0x1e, 0xcc, 0x69, 0x47, 0x82, 0x14, 0x72, 0xe4, 0x32, 0x34, 0xcd, 0x63})
	cases := []*ldap.Entry{
		{DN: "CN=Anna Berg,OU=Staff,DC=contoso,DC=test", Attributes: []*ldap.EntryAttribute{
			attr("objectGUID", guid), attr("proxyAddresses", "SMTP:anna@contoso.com", "x500:/o=Contoso/cn=anna"), attr("cn", "Anna Berg")}},
		{DN: "CN=Zoë \\, Ünïcode,DC=x", Attributes: []*ldap.EntryAttribute{attr("displayName", "Zoë 日本")}},
		{DN: "CN=long,DC=x", Attributes: []*ldap.EntryAttribute{attr("info", string(bytes.Repeat([]byte("a"), 200))),
			attr("msExchSafeSendersHash", string(bytes.Repeat([]byte{0xff, 0}, 40000)))}},
		{DN: "CN=empty set,DC=x", Attributes: []*ldap.EntryAttribute{attr("member;range=0-*"), attr("cn", "")}},
		{DN: "", Attributes: nil},
	}
	for _, want := range cases {
		got := decodeEntry(t, entryMessage(7, want))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %+v\nwant %+v", got, want)
		}
	}
}

// Random entries round-trip: the property the hand-written cases above only sample.
func TestEntry_RandomRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	val := func() string {
		b := make([]byte, rng.IntN(300))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	for range 500 {
		e := &ldap.Entry{DN: val()}
		for range rng.IntN(8) {
			var vs []string
			for range rng.IntN(5) {
				vs = append(vs, val())
			}
			e.Attributes = append(e.Attributes, attr(val(), vs...))
		}
		got := decodeEntry(t, entryMessage(int64(rng.IntN(1<<31)), e))
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("random entry did not round-trip:\n got %+v\nwant %+v", got, e)
		}
	}
}

// Active Directory writes every length in the four-byte form (0x84 ...), even for short values.
func TestParseMessage_ADFourByteLengths(t *testing.T) {
	l := func(n int) []byte { return []byte{0x84, 0, 0, byte(n >> 8), byte(n)} }
	tlvAD := func(tag byte, v ...[]byte) []byte {
		body := bytes.Join(v, nil)
		return append(append([]byte{tag}, l(len(body))...), body...)
	}
	msg := tlvAD(tagSequence,
		tlvAD(tagInteger, []byte{5}),
		tlvAD(tagEntry,
			tlvAD(tagOctetString, []byte("CN=a,DC=x")),
			tlvAD(tagSequence, tlvAD(tagSequence, tlvAD(tagOctetString, []byte("mail")), tlvAD(tagSet, tlvAD(tagOctetString, []byte("a@x.test")))))))
	m, err := parseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := entry(m.body)
	if err != nil {
		t.Fatal(err)
	}
	if m.id != 5 || e.DN != "CN=a,DC=x" || len(e.Attributes) != 1 || e.GetAttributeValue("mail") != "a@x.test" {
		t.Errorf("id %d, entry %+v", m.id, e)
	}
}

// Broken input is a protocol error, never a panic and never a silently short entry.
func TestParse_MalformedIsAProtocolError(t *testing.T) {
	good := entryMessage(9, &ldap.Entry{DN: "CN=a,DC=x", Attributes: []*ldap.EntryAttribute{attr("cn", "a")}})
	cases := map[string][]byte{
		"empty":                {},
		"truncated":            good[:len(good)-3],
		"trailing bytes":       append(append([]byte{}, good...), 0),
		"indefinite length":    {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"multi-byte tag":       {0x30, 0x05, 0x02, 0x01, 0x01, 0x7f, 0x00},
		"5-byte length":        {0x30, 0x85, 0, 0, 0, 0, 1, 0},
		"length past the end":  {0x30, 0x03, 0x02, 0x09, 0x01},
		"no message ID":        {0x30, 0x02, 0x64, 0x00},
		"9-byte message ID":    {0x30, 0x0b, 0x02, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		"empty message ID":     {0x30, 0x02, 0x02, 0x00},
		"controls wrong tag":   append(append([]byte{0x30, byte(len(good) - 2 + 2)}, good[2:]...), 0x04, 0x00),
		"over the size limit":  {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"entry value not OCTS": entryWithValueTag(0x02),
	}
	for name, b := range cases {
		m, err := parseMessage(b)
		if err == nil && m.op == tagEntry {
			_, err = entry(m.body)
		}
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err %v, want ErrProtocol", name, err)
		}
	}
}

func entryWithValueTag(tag byte) []byte {
	val := []byte{tag, 1, 'x'}
	set := append([]byte{tagSet, byte(len(val))}, val...)
	name := []byte{tagOctetString, 2, 'c', 'n'}
	pa := append([]byte{tagSequence, byte(len(name) + len(set))}, append(name, set...)...)
	attrs := append([]byte{tagSequence, byte(len(pa))}, pa...)
	dn := []byte{tagOctetString, 1, 'x'}
	op := append([]byte{tagEntry, byte(len(dn) + len(attrs))}, append(dn, attrs...)...)
	id := []byte{tagInteger, 1, 1}
	return append([]byte{tagSequence, byte(len(id) + len(op))}, append(id, op...)...)
}

// The paging control's cookie is found among other controls, with or without criticality;
// an empty cookie (the last page) and a missing control both end the search.
func TestPagingCookie(t *testing.T) {
	enc := func(cs ...ldap.Control) []byte {
		p := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, c := range cs {
			p.AppendChild(c.Encode())
		}
		_, v, _, err := tlv(p.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	withCookie := ldap.NewControlPaging(1000)
	withCookie.SetCookie([]byte{1, 2, 0xff})
	cases := []struct {
		name     string
		controls []byte
		want     []byte
	}{
		{"cookie", enc(withCookie), []byte{1, 2, 0xff}},
		{"after another control", enc(ldap.NewControlManageDsaIT(false), withCookie), []byte{1, 2, 0xff}},
		{"empty cookie", enc(ldap.NewControlPaging(1000)), nil},
		{"no paging control", enc(ldap.NewControlManageDsaIT(true)), nil},
		{"no controls", nil, nil},
	}
	for _, c := range cases {
		got, err := pagingCookie(c.controls)
		if err != nil || !bytes.Equal(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("%s: cookie %v, err %v; want %v", c.name, got, err, c.want)
		}
	}
	// criticality TRUE before the value (go-ldap's encoder leaves it out when false)
	val := []byte{tagSequence, 6, tagInteger, 1, 10, tagOctetString, 1, 0x42}
	ctl := append([]byte{tagOctetString, byte(len(ldap.ControlTypePaging))}, ldap.ControlTypePaging...)
	ctl = append(ctl, 0x01, 0x01, 0xff, tagOctetString, byte(len(val)))
	ctl = append(ctl, val...)
	got, err := pagingCookie(append([]byte{tagSequence, byte(len(ctl))}, ctl...))
	if err != nil || !bytes.Equal(got, []byte{0x42}) {
		t.Errorf("critical control: cookie %v, err %v", got, err)
	}
}

// FuzzParseMessage: no input makes the decoder panic or read past its input; whatever it
// accepts as an entry, go-asn1-ber reads as the same structure.
func FuzzParseMessage(f *testing.F) {
	f.Add(entryMessage(1, &ldap.Entry{DN: "CN=a,DC=x", Attributes: []*ldap.EntryAttribute{attr("cn", "a"), attr("objectGUID", "\x00\xff")}}))
	f.Add([]byte{0x30, 0x84, 0, 0, 0, 3, 0x02, 0x01, 0x01})
	f.Add(entryWithValueTag(0x04))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil || m.op != tagEntry {
			return
		}
		e, err := entry(m.body)
		if err != nil {
			return
		}
		p, perr := ber.DecodePacketErr(b)
		if perr != nil || len(p.Children) < 2 || len(p.Children[1].Children) < 2 {
			return // go-asn1-ber is stricter in places (e.g. some lengths); only compare what both read
		}
		if dn, ok := p.Children[1].Children[0].Value.(string); ok && dn != e.DN {
			t.Errorf("DN %q, go-asn1-ber %q", e.DN, dn)
		}
		if n := len(p.Children[1].Children[1].Children); n != len(e.Attributes) {
			t.Errorf("%d attributes, go-asn1-ber %d", len(e.Attributes), n)
		}
	})
}
