package directory

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The worked example of exchange-directory-facts.md §C.3 (the ExchangeGuid of the article's
// Lara Newton example).
const (
	workedGUID   = "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d8"
	workedADHex  = "c759c01e96830b4daf4ed6bd4c12a8d8"
	workedBase64 = "x1nAHpaDC02vTta9TBKo2A=="
	workedFilter = `\c7\59\c0\1e\96\83\0b\4d\af\4e\d6\bd\4c\12\a8\d8`
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex fixture %q: %v", s, err)
	}
	return b
}

func mustParseGUID(t *testing.T, s string) GUID {
	t.Helper()
	g, err := ParseGUID(s)
	if err != nil {
		t.Fatalf("ParseGUID(%q): %v", s, err)
	}
	return g
}

// bytesLE is an independent implementation of .NET Guid.ToByteArray() (Python's
// uuid.UUID.bytes_le), straight from the §C.3 rule: Data1 (4 bytes), Data2 and Data3 (2 bytes
// each) little-endian, Data4 (8 bytes) as is. It parses the string itself, so the tests do not
// trust ParseGUID to derive the expected bytes.
func bytesLE(t *testing.T, s string) []byte {
	t.Helper()
	parts := strings.Split(s, "-")
	if len(parts) != 5 {
		t.Fatalf("fixture %q is not a GUID", s)
	}
	d1, err1 := hex.DecodeString(parts[0])
	d2, err2 := hex.DecodeString(parts[1])
	d3, err3 := hex.DecodeString(parts[2])
	d4, err4 := hex.DecodeString(parts[3] + parts[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(d1) != 4 || len(d2) != 2 || len(d3) != 2 || len(d4) != 8 {
		t.Fatalf("fixture %q is not a GUID: %v", s, err)
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:4], binary.BigEndian.Uint32(d1))
	binary.LittleEndian.PutUint16(out[4:6], binary.BigEndian.Uint16(d2))
	binary.LittleEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(d3))
	copy(out[8:], d4)
	return out
}

// §C.3 worked example, in every direction: string -> AD bytes, AD bytes -> string, the LDIF
// base64 form and the LDAP filter form.
func TestGUIDFromAD_WorkedExample_1ec059c7(t *testing.T) {
	ad := mustHex(t, "c7 59 c0 1e 96 83 0b 4d af 4e d6 bd 4c 12 a8 d8")
	if !bytes.Equal(ad, mustHex(t, workedADHex)) {
		t.Fatal("fixture mismatch")
	}
	if got := bytesLE(t, workedGUID); !bytes.Equal(got, ad) {
		t.Fatalf("independent bytes_le of %s = % x, the reference says % x", workedGUID, got, ad)
	}

	t.Run("AD bytes to string", func(t *testing.T) {
		g, err := GUIDFromAD(ad)
		if err != nil {
			t.Fatalf("GUIDFromAD: %v", err)
		}
		if g.String() != workedGUID {
			t.Errorf("GUIDFromAD(% x).String() = %s, want %s", ad, g, workedGUID)
		}
	})
	t.Run("string to AD bytes", func(t *testing.T) {
		g := mustParseGUID(t, workedGUID)
		if got := g.AD(); !bytes.Equal(got, ad) {
			t.Errorf("ParseGUID(%s).AD() = % x, want % x", workedGUID, got, ad)
		}
	})
	t.Run("base64 as shown in LDIF", func(t *testing.T) {
		g := mustParseGUID(t, workedGUID)
		if got := base64.StdEncoding.EncodeToString(g.AD()); got != workedBase64 {
			t.Errorf("base64(AD) = %s, want %s", got, workedBase64)
		}
	})
	t.Run("LDAP filter escapes every byte", func(t *testing.T) {
		g := mustParseGUID(t, workedGUID)
		if got := g.FilterValue(); got != workedFilter {
			t.Errorf("FilterValue() = %s, want %s", got, workedFilter)
		}
		want := "(msExchMailboxGuid=" + workedFilter + ")"
		if got := "(" + AttrMailboxGUID + "=" + g.FilterValue() + ")"; got != want {
			t.Errorf("filter = %s, want %s", got, want)
		}
	})
	t.Run("canonical bytes are the big-endian string order", func(t *testing.T) {
		g := mustParseGUID(t, workedGUID)
		want := mustHex(t, strings.ReplaceAll(workedGUID, "-", ""))
		if !bytes.Equal(g[:], want) {
			t.Errorf("GUID bytes = % x, want the RFC 4122 order % x", g[:], want)
		}
	})
}

// §C.3: the AD layout is .NET Guid.ToByteArray(), for any GUID (not just the worked example),
// and the conversion loses nothing in either direction.
func TestGUID_ADLayoutIsDotNetToByteArray(t *testing.T) {
	for _, s := range []string{
		workedGUID,
		"00000000-0000-0000-0000-000000000001",
		"01020304-0506-0708-090a-0b0c0d0e0f10",
		"ffffffff-ffff-ffff-ffff-fffffffffffe",
		"2d11ddf7-cc1e-4769-8214-72e43234cd63", // testdata/source.ldif aberg
		"a79c40a6-9151-49ac-9c86-d77e69142a53",
		"9333af48-b09e-11d2-aa06-00c04f8eedd8", // msExchMailboxGuid's schemaIDGUID (§C.2)
	} {
		t.Run(s, func(t *testing.T) {
			want := bytesLE(t, s)
			g := mustParseGUID(t, s)
			if got := g.AD(); !bytes.Equal(got, want) {
				t.Fatalf("AD() = % x, want % x", got, want)
			}
			back, err := GUIDFromAD(want)
			if err != nil {
				t.Fatalf("GUIDFromAD: %v", err)
			}
			if back != g || back.String() != s {
				t.Errorf("GUIDFromAD(AD()) = %s, want %s", back, s)
			}
		})
	}
}

// The §C.3 permutation is its own inverse: applying the string->AD reordering twice is the
// identity, so the same code can convert in both directions.
func TestGUID_ADPermutationIsItsOwnInverse(t *testing.T) {
	var raw [16]byte
	for i := range raw {
		raw[i] = byte(0x10*i + 1)
	}
	once, err := GUIDFromAD(raw[:])
	if err != nil {
		t.Fatal(err)
	}
	twice, err := GUIDFromAD(once[:])
	if err != nil {
		t.Fatal(err)
	}
	if twice != GUID(raw) {
		t.Errorf("reordering twice = % x, want the input % x", twice[:], raw[:])
	}
	if !bytes.Equal(once.AD(), raw[:]) {
		t.Errorf("AD() of GUIDFromAD(x) = % x, want x = % x", once.AD(), raw[:])
	}
}

// msExchMailboxGuid is a 16-byte OctetString (§C.2); anything else is ErrBadGUID, never a
// silently padded or truncated GUID.
func TestGUIDFromAD_RejectsLengthOtherThan16(t *testing.T) {
	for _, n := range []int{0, 1, 15, 17, 32, 36} {
		t.Run(fmt.Sprintf("%d bytes", n), func(t *testing.T) {
			b := bytes.Repeat([]byte{0xab}, n)
			g, err := GUIDFromAD(b)
			if !errors.Is(err, ErrBadGUID) {
				t.Fatalf("GUIDFromAD(%d bytes) error = %v, want ErrBadGUID", n, err)
			}
			if !g.IsZero() {
				t.Errorf("GUIDFromAD(%d bytes) = %s, want the zero GUID with the error", n, g)
			}
		})
	}
	if _, err := GUIDFromAD(nil); !errors.Is(err, ErrBadGUID) {
		t.Errorf("GUIDFromAD(nil) error = %v, want ErrBadGUID", err)
	}
}

// AD() hands out a fresh slice: a caller (the LDAP writer) mutating it cannot corrupt the GUID.
func TestGUID_ADReturnsFreshSlice(t *testing.T) {
	g := mustParseGUID(t, workedGUID)
	b := g.AD()
	b[0] ^= 0xff
	if got := g.AD(); !bytes.Equal(got, mustHex(t, workedADHex)) {
		t.Errorf("AD() after mutating an earlier result = % x, want % x", got, mustHex(t, workedADHex))
	}
}

// ParseGUID accepts the forms Exchange cmdlets and AD tools print (braces, upper case).
func TestParseGUID_AcceptedForms(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"canonical", workedGUID},
		{"upper case", strings.ToUpper(workedGUID)},
		{"braces", "{" + workedGUID + "}"},
		{"braces upper case", "{" + strings.ToUpper(workedGUID) + "}"},
		{"surrounding space", "  " + workedGUID + "\t"},
		{"mixed case", "1EC059c7-8396-4D0B-af4e-D6BD4c12a8d8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGUID(tc.in)
			if err != nil {
				t.Fatalf("ParseGUID(%q): %v", tc.in, err)
			}
			if g.String() != workedGUID {
				t.Errorf("ParseGUID(%q) = %s, want %s (canonical lower case)", tc.in, g, workedGUID)
			}
		})
	}
}

func TestParseGUID_RejectsMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"no dashes", strings.ReplaceAll(workedGUID, "-", "")},
		{"dash misplaced", "1ec059c78-396-4d0b-af4e-d6bd4c12a8d8"},
		{"too short", workedGUID[:35]},
		{"too long", workedGUID + "0"},
		{"non-hex digit", "1ec059c7-8396-4d0b-af4e-d6bd4c12a8dg"},
		{"sign in hex", "+ec059c7-8396-4d0b-af4e-d6bd4c12a8d8"},
		{"base64 form", workedBase64},
		{"filter form", workedFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := ParseGUID(tc.in)
			if !errors.Is(err, ErrBadGUID) {
				t.Fatalf("ParseGUID(%q) error = %v, want ErrBadGUID", tc.in, err)
			}
			if !g.IsZero() {
				t.Errorf("ParseGUID(%q) = %s with an error, want the zero GUID", tc.in, g)
			}
		})
	}
}

// §C.3: an all-zero ArchiveGuid (00000000-…) means "no archive" in Exchange.
func TestGUID_IsZeroMeansNoArchive(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"00000000-0000-0000-0000-000000000000", true},
		{"00000000-0000-0000-0000-000000000001", false},
		{"80000000-0000-0000-0000-000000000000", false},
		{workedGUID, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := mustParseGUID(t, tc.in).IsZero(); got != tc.want {
				t.Errorf("IsZero(%s) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	var zero GUID
	if zero.String() != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("zero GUID String() = %s", zero)
	}
	ad, err := GUIDFromAD(make([]byte, 16))
	if err != nil || !ad.IsZero() {
		t.Errorf("GUIDFromAD(16 zero bytes) = %s, %v; want the zero GUID", ad, err)
	}
}

// GUIDs travel in plans and journals as JSON text in canonical form.
func TestGUID_TextRoundTrip(t *testing.T) {
	type doc struct {
		G GUID `json:"g"`
	}
	in := doc{G: mustParseGUID(t, workedGUID)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"g":"` + workedGUID + `"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip = %s, want %s", out.G, in.G)
	}
	if err := json.Unmarshal([]byte(`{"g":"not-a-guid"}`), &out); !errors.Is(err, ErrBadGUID) {
		t.Errorf("unmarshal of a bad GUID: error = %v, want ErrBadGUID", err)
	}
	if out != in {
		t.Errorf("a failed unmarshal changed the value to %s", out.G)
	}
}

// §C.3 note: go-ldap's EscapeFilter leaves most bytes alone; binary assertion values must have
// every byte hex-escaped, including the filter metacharacters, NUL and bytes >= 0x80.
func TestEscapeBinary_EscapesEveryByte(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"ascii letters", []byte("Ab"), `\41\62`},
		{"filter metacharacters", []byte("()*\\"), `\28\29\2a\5c`},
		{"NUL and high bytes", []byte{0x00, 0x80, 0xff}, `\00\80\ff`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EscapeBinary(tc.in)
			if got != tc.want {
				t.Errorf("EscapeBinary(% x) = %q, want %q", tc.in, got, tc.want)
			}
			if len(got) != 3*len(tc.in) {
				t.Errorf("len = %d, want 3 per byte (%d)", len(got), 3*len(tc.in))
			}
		})
	}
	// Every one of the 256 byte values is written as \xx and decodes back to itself.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	esc := EscapeBinary(all)
	back, err := hex.DecodeString(strings.ReplaceAll(esc, `\`, ""))
	if err != nil || !bytes.Equal(back, all) || strings.Count(esc, `\`) != 256 {
		t.Errorf("EscapeBinary over all bytes does not round-trip: %v", err)
	}
}

// The filter value of a GUID is in AD byte order (the stored value), not in string order.
func TestGUID_FilterValueUsesADByteOrder(t *testing.T) {
	for _, s := range []string{workedGUID, "01020304-0506-0708-090a-0b0c0d0e0f10"} {
		t.Run(s, func(t *testing.T) {
			g := mustParseGUID(t, s)
			if got, want := g.FilterValue(), EscapeBinary(bytesLE(t, s)); got != want {
				t.Errorf("FilterValue() = %s, want %s", got, want)
			}
		})
	}
}

// The GUID attributes are presented as GUID strings in plans and the hashes as base64
// (§C.2: msExchMailboxGuid and msExchArchiveGUID are 16-byte OctetStrings, the hashes other
// OctetStrings), whatever the case of the attribute name.
func TestKindOf_OctetStringAttributes(t *testing.T) {
	for _, tc := range []struct {
		attr string
		want Kind
	}{
		{AttrMailboxGUID, KindGUID},
		{"MSEXCHMAILBOXGUID", KindGUID},
		{AttrArchiveGUID, KindGUID},
		{"msexcharchiveguid", KindGUID},
		{AttrObjectGUID, KindGUID},
		{AttrBlockedSendersHash, KindBinary},
		{AttrSafeSendersHash, KindBinary},
		{AttrSafeRecipientsHash, KindBinary},
		{AttrProxyAddresses, KindString},
		{AttrTargetAddress, KindString},
		{AttrRecipientTypeDetails, KindString},
		{"noSuchAttribute", KindString},
	} {
		t.Run(tc.attr, func(t *testing.T) {
			if got := KindOf(tc.attr); got != tc.want {
				t.Errorf("KindOf(%s) = %v, want %v", tc.attr, got, tc.want)
			}
		})
	}
}
