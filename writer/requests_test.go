package writer_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldif"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The worked example of the facts file (§C.3): the string form and the bytes AD stores.
const (
	workedGUID  = "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d8"
	workedADHex = "c7 59 c0 1e 96 83 0b 4d af 4e d6 bd 4c 12 a8 d8"
)

func adBytes(t *testing.T, spaced string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(spaced, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeDecode_GUIDAttributesUseADByteOrder(t *testing.T) {
	want := adBytes(t, workedADHex)
	for _, attr := range []string{directory.AttrMailboxGUID, directory.AttrArchiveGUID, directory.AttrPreviousMailboxGUID,
		directory.AttrObjectGUID, "MSEXCHMAILBOXGUID"} {
		t.Run(attr, func(t *testing.T) {
			enc, err := writer.Encode(attr, workedGUID)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal([]byte(enc), want) {
				t.Errorf("Encode(%s, %s) = % x, want % x", attr, workedGUID, []byte(enc), want)
			}
			if got := writer.Decode(attr, want); got != workedGUID {
				t.Errorf("Decode(%s, % x) = %s, want %s", attr, want, got, workedGUID)
			}
			if got := writer.Decode(attr, []byte(enc)); got != workedGUID {
				t.Errorf("round trip = %s", got)
			}
		})
	}
	t.Run("braces and upper case are accepted and canonicalised", func(t *testing.T) {
		enc, err := writer.Encode(directory.AttrMailboxGUID, "{"+strings.ToUpper(workedGUID)+"}")
		if err != nil || !bytes.Equal([]byte(enc), want) {
			t.Fatalf("Encode = % x, %v", []byte(enc), err)
		}
		if got := writer.Decode(directory.AttrMailboxGUID, []byte(enc)); got != workedGUID {
			t.Errorf("Decode = %s, want the lower-case canonical form", got)
		}
	})
	t.Run("a GUID value of the wrong length decodes visibly invalid", func(t *testing.T) {
		raw := want[:15]
		got := writer.Decode(directory.AttrMailboxGUID, raw)
		if got != "invalid:"+base64.StdEncoding.EncodeToString(raw) {
			t.Errorf("Decode(15 bytes) = %q", got)
		}
	})
}

func TestEncodeDecode_BinaryHashesAreBase64(t *testing.T) {
	raw := []byte{0x00, 0xff, 0x10, 0x80, 0x7f, 0x0a, 0x20, 0x3a}
	b64 := base64.StdEncoding.EncodeToString(raw)
	for _, attr := range []string{directory.AttrBlockedSendersHash, directory.AttrSafeSendersHash, directory.AttrSafeRecipientsHash} {
		enc, err := writer.Encode(attr, b64)
		if err != nil {
			t.Fatalf("Encode(%s): %v", attr, err)
		}
		if !bytes.Equal([]byte(enc), raw) {
			t.Errorf("Encode(%s, %s) = % x, want % x", attr, b64, []byte(enc), raw)
		}
		if got := writer.Decode(attr, raw); got != b64 {
			t.Errorf("Decode(%s) = %s, want %s", attr, got, b64)
		}
	}
}

func TestEncodeDecode_StringsUnchanged(t *testing.T) {
	for _, tc := range []struct{ attr, v string }{
		{directory.AttrDisplayName, "Marta Kowalska (EMEA) *Pilot* ☃"},
		{directory.AttrProxyAddresses, "SMTP:anna.berg@northwind.com"},
		{directory.AttrRecipientTypeDetails, "2147483648"},
		{directory.AttrRecipientDisplayType, "-2147483642"},
		{"extensionAttribute15", "xtmsyncd"},
		{directory.AttrDisplayName, ""},
	} {
		enc, err := writer.Encode(tc.attr, tc.v)
		if err != nil || enc != tc.v {
			t.Errorf("Encode(%s, %q) = %q, %v; want it unchanged", tc.attr, tc.v, enc, err)
		}
		if got := writer.Decode(tc.attr, []byte(tc.v)); got != tc.v {
			t.Errorf("Decode(%s, %q) = %q", tc.attr, tc.v, got)
		}
	}
}

func TestEncode_RejectsBadValues(t *testing.T) {
	for _, v := range []string{"", "not-a-guid", "1ec059c7-8396-4d0b-af4e-d6bd4c12a8d", "1ec059c7x8396-4d0b-af4e-d6bd4c12a8d8",
		"zzc059c7-8396-4d0b-af4e-d6bd4c12a8d8", base64.StdEncoding.EncodeToString(adBytes(t, workedADHex))} {
		_, err := writer.Encode(directory.AttrMailboxGUID, v)
		if !errors.Is(err, directory.ErrBadGUID) {
			t.Errorf("Encode(msExchMailboxGuid, %q) error = %v, want ErrBadGUID", v, err)
		}
		if err != nil && !strings.Contains(err.Error(), directory.AttrMailboxGUID) {
			t.Errorf("error %q does not name the attribute", err)
		}
	}
	for _, v := range []string{"not base64!", "AAA", "AA==AA=="} {
		if _, err := writer.Encode(directory.AttrSafeSendersHash, v); err == nil {
			t.Errorf("Encode(msExchSafeSendersHash, %q) accepted a value that is not base64", v)
		}
	}
}

// ---- Request -----------------------------------------------------------------------------

const (
	ouDN      = "OU=Cross-Tenant,OU=Northwind,DC=northwind,DC=test"
	annaDN    = "CN=Anna Berg," + ouDN
	mariaDN   = "CN=Maria Lopez," + ouDN
	hashB64   = "AAECAwQFBgc="
	annaGUID  = "2d11ddf7-cc1e-4769-8214-72e43234cd63"
	annaArch  = "a79c40a6-9151-49ac-9c86-d77e69142a53"
	mariaGUID = "eebbe14e-6682-42d5-8ee6-9cde14f4482b"
)

func createChange() plan.Change {
	return plan.Change{
		Action: plan.Create, Key: workedGUID, Source: "CN=Anna Berg,OU=Staff,OU=Contoso,DC=contoso,DC=test", DN: annaDN,
		Attrs: []plan.AttrChange{
			{Name: "cn", After: []string{"Anna Berg"}},
			{Name: "displayName", After: []string{"Anna Berg"}},
			{Name: "extensionAttribute15", After: []string{"xtmsyncd"}},
			{Name: "mailNickname", After: []string{"aberg"}},
			{Name: "msExchArchiveGUID", After: []string{annaArch}},
			{Name: "msExchMailboxGuid", After: []string{workedGUID}},
			{Name: "msExchRecipientDisplayType", After: []string{"-2147483642"}},
			{Name: "msExchSafeSendersHash", After: []string{hashB64}},
			{Name: "objectClass", After: []string{"user"}},
			{Name: "proxyAddresses", After: []string{"SMTP:anna.berg@northwind.com", "smtp:aberg@northwindtraders.mail.onmicrosoft.com",
				"x500:/o=Contoso/ou=First Administrative Group/cn=Recipients/cn=aberg"}},
			{Name: "sAMAccountName", After: []string{"aberg"}},
		},
	}
}

func updateChange() plan.Change {
	return plan.Change{
		Action: plan.Update, Key: mariaGUID, Source: "CN=Maria Lopez,OU=Staff,OU=Contoso,DC=contoso,DC=test", DN: mariaDN,
		ObjectGUID: "0b6a1f0e-1111-4222-8333-444455556666",
		Attrs: []plan.AttrChange{
			{Name: "displayName", Before: []string{"Maria L."}, After: []string{"Maria Lopez"}},
			{Name: "msExchArchiveGUID", Before: []string{annaArch}, After: []string{workedGUID}},
			{Name: "msExchRemoteRecipientType", Before: []string{"4"}},
			{Name: "proxyAddresses",
				Before: []string{"SMTP:mlopez@northwind.com", "smtp:maria.lopez@northwind.com"},
				Delete: []string{"SMTP:mlopez@northwind.com", "smtp:maria.lopez@northwind.com"},
				Add:    []string{"SMTP:maria.lopez@northwind.com", "smtp:mlopez@northwind.com"}},
		},
	}
}

func TestRequest_CreateIsOneAddWithEveryAttribute(t *testing.T) {
	c := createChange()
	r, err := writer.Request(c)
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	add, ok := r.(*ldap.AddRequest)
	if !ok {
		t.Fatalf("Request(create) = %T, want *ldap.AddRequest", r)
	}
	if add.DN != annaDN {
		t.Errorf("DN %q", add.DN)
	}
	if len(add.Attributes) != len(c.Attrs) {
		t.Fatalf("%d attributes, want %d: %+v", len(add.Attributes), len(c.Attrs), add.Attributes)
	}
	for i, a := range c.Attrs {
		got := add.Attributes[i]
		if got.Type != a.Name {
			t.Errorf("attribute %d is %s, want %s", i, got.Type, a.Name)
			continue
		}
		want := make([]string, len(a.After))
		for j, v := range a.After {
			want[j], _ = writer.Encode(a.Name, v)
		}
		if !slices.Equal(got.Vals, want) {
			t.Errorf("%s = %q, want %q", a.Name, got.Vals, want)
		}
	}
	mbx := add.Attributes[slices.IndexFunc(add.Attributes, func(a ldap.Attribute) bool { return a.Type == "msExchMailboxGuid" })]
	if !bytes.Equal([]byte(mbx.Vals[0]), adBytes(t, workedADHex)) {
		t.Errorf("msExchMailboxGuid sent as % x, want the AD bytes %s", []byte(mbx.Vals[0]), workedADHex)
	}
	hash := add.Attributes[slices.IndexFunc(add.Attributes, func(a ldap.Attribute) bool { return a.Type == "msExchSafeSendersHash" })]
	if !bytes.Equal([]byte(hash.Vals[0]), []byte{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("msExchSafeSendersHash sent as % x", []byte(hash.Vals[0]))
	}
}

func TestRequest_UpdateIsOneModify(t *testing.T) {
	r, err := writer.Request(updateChange())
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	mod, ok := r.(*ldap.ModifyRequest)
	if !ok {
		t.Fatalf("Request(update) = %T, want *ldap.ModifyRequest", r)
	}
	if mod.DN != mariaDN {
		t.Errorf("DN %q", mod.DN)
	}
	guid := string(adBytes(t, workedADHex))
	type op struct {
		code uint
		attr string
		vals []string
	}
	want := []op{
		{ldap.ReplaceAttribute, "displayName", []string{"Maria Lopez"}},
		{ldap.ReplaceAttribute, "msExchArchiveGUID", []string{guid}},
		{ldap.DeleteAttribute, "msExchRemoteRecipientType", nil}, // After empty: the whole attribute goes
		// SMTP:x -> smtp:x differs only in case, which AD ignores: the exact old values are deleted
		// first, then the new ones added, in the same modify.
		{ldap.DeleteAttribute, "proxyAddresses", []string{"SMTP:mlopez@northwind.com", "smtp:maria.lopez@northwind.com"}},
		{ldap.AddAttribute, "proxyAddresses", []string{"SMTP:maria.lopez@northwind.com", "smtp:mlopez@northwind.com"}},
	}
	if len(mod.Changes) != len(want) {
		t.Fatalf("%d modifications, want %d: %+v", len(mod.Changes), len(want), mod.Changes)
	}
	for i, w := range want {
		got := mod.Changes[i]
		if got.Operation != w.code || got.Modification.Type != w.attr || len(got.Modification.Vals) != len(w.vals) ||
			(len(w.vals) > 0 && !slices.Equal(got.Modification.Vals, w.vals)) {
			t.Errorf("modification %d = op %d %s %q, want op %d %s %q", i, got.Operation, got.Modification.Type, got.Modification.Vals,
				w.code, w.attr, w.vals)
		}
	}
}

func TestRequest_IncrementalOnlyAddOrOnlyDelete(t *testing.T) {
	c := plan.Change{Action: plan.Update, DN: mariaDN, Attrs: []plan.AttrChange{
		{Name: "proxyAddresses", Add: []string{"x500:/o=Contoso/cn=mlopez"}},
		{Name: "otherMailbox", Delete: []string{"old@contoso.com"}},
	}}
	r, err := writer.Request(c)
	if err != nil {
		t.Fatal(err)
	}
	mod := r.(*ldap.ModifyRequest)
	if len(mod.Changes) != 2 || mod.Changes[0].Operation != ldap.AddAttribute || mod.Changes[1].Operation != ldap.DeleteAttribute ||
		!slices.Equal(mod.Changes[1].Modification.Vals, []string{"old@contoso.com"}) {
		t.Errorf("changes %+v", mod.Changes)
	}
}

func TestRequest_DeleteIsADelRequest(t *testing.T) {
	r, err := writer.Request(plan.Change{Action: plan.Delete, DN: annaDN, Attrs: []plan.AttrChange{{Name: "cn", Before: []string{"Anna Berg"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if del, ok := r.(*ldap.DelRequest); !ok || del.DN != annaDN {
		t.Errorf("Request(delete) = %#v", r)
	}
}

func TestRequest_RefusesNonWritingActions(t *testing.T) {
	for _, a := range []plan.Action{plan.Unchanged, plan.Conflict, plan.Invalid, "rename", ""} {
		r, err := writer.Request(plan.Change{Action: a, DN: annaDN})
		if err == nil || r != nil {
			t.Errorf("Request(%q) = %v, %v; want an error", a, r, err)
		}
	}
}

func TestRequest_BadValueNamesTheObject(t *testing.T) {
	c := createChange()
	c.Attrs[5].After = []string{"not-a-guid"}
	if _, err := writer.Request(c); !errors.Is(err, directory.ErrBadGUID) || !strings.Contains(err.Error(), annaDN) {
		t.Errorf("create with a bad GUID: %v", err)
	}
	u := updateChange()
	u.Attrs[1].After = []string{"not-a-guid"}
	if _, err := writer.Request(u); !errors.Is(err, directory.ErrBadGUID) || !strings.Contains(err.Error(), mariaDN) {
		t.Errorf("update with a bad GUID: %v", err)
	}
}

// ---- WriteLDIF ---------------------------------------------------------------------------

func ldifPlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion, Kind: "sync", Source: "contoso", Target: ouDN,
		Summary: plan.Summary{Create: 1, Update: 1, Delete: 1, Unchanged: 1, Conflict: 1},
		Changes: []plan.Change{
			createChange(),
			updateChange(),
			{Action: plan.Delete, Key: annaArch, Source: "journal change 3", DN: "CN=Chloe Cooper," + ouDN},
			{Action: plan.Conflict, Source: "CN=John Smith,OU=Staff,OU=Contoso,DC=contoso,DC=test", Reason: "alias_in_use"},
			{Action: plan.Unchanged, DN: "CN=Same," + ouDN, Source: "CN=Same,OU=Staff,OU=Contoso,DC=contoso,DC=test"},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./writer -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (re-run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteLDIF_Golden(t *testing.T) {
	var b bytes.Buffer
	if err := writer.WriteLDIF(&b, ldifPlan()); err != nil {
		t.Fatalf("WriteLDIF: %v", err)
	}
	golden(t, "plan.ldif.golden", b.Bytes())
}

func TestWriteLDIF_ParsesBackToTheSameRequests(t *testing.T) {
	var b bytes.Buffer
	if err := writer.WriteLDIF(&b, ldifPlan()); err != nil {
		t.Fatalf("WriteLDIF: %v", err)
	}
	if strings.Contains(b.String(), "John Smith") || strings.Contains(b.String(), "CN=Same,") {
		t.Error("the LDIF holds a change that writes nothing")
	}
	l, err := ldif.Parse(b.String())
	if err != nil {
		t.Fatalf("the LDIF does not parse: %v\n%s", err, b.String())
	}
	if len(l.Entries) != 3 || l.Entries[0].Add == nil || l.Entries[1].Modify == nil || l.Entries[2].Del == nil {
		t.Fatalf("parsed %d records, want an add, a modify and a delete: %+v", len(l.Entries), l.Entries)
	}
	if dn := l.Entries[2].Del.DN; dn != "CN=Chloe Cooper,"+ouDN {
		t.Errorf("delete of %q", dn)
	}

	add := l.Entries[0].Add
	wantAdd := must(writer.Request(createChange())).(*ldap.AddRequest)
	if add.DN != annaDN {
		t.Errorf("add DN %q", add.DN)
	}
	if len(add.Attributes) != len(wantAdd.Attributes) {
		t.Errorf("add has %d attributes, want %d", len(add.Attributes), len(wantAdd.Attributes))
	}
	for _, w := range wantAdd.Attributes {
		i := slices.IndexFunc(add.Attributes, func(a ldap.Attribute) bool { return a.Type == w.Type })
		if i < 0 {
			t.Errorf("add lacks %s", w.Type)
			continue
		}
		if !slices.Equal(add.Attributes[i].Vals, w.Vals) {
			t.Errorf("add %s = %q, want %q", w.Type, add.Attributes[i].Vals, w.Vals)
		}
		if w.Type == "msExchMailboxGuid" {
			raw := []byte(add.Attributes[i].Vals[0])
			if !bytes.Equal(raw, adBytes(t, workedADHex)) {
				t.Errorf("msExchMailboxGuid in the LDIF decodes to % x, want the AD bytes %s", raw, workedADHex)
			}
			if got := writer.Decode(w.Type, raw); got != workedGUID {
				t.Errorf("msExchMailboxGuid in the LDIF is %s, want %s", got, workedGUID)
			}
		}
	}

	mod := l.Entries[1].Modify
	wantMod := must(writer.Request(updateChange())).(*ldap.ModifyRequest)
	if mod.DN != mariaDN || len(mod.Changes) != len(wantMod.Changes) {
		t.Fatalf("modify %s with %d changes, want %s with %d", mod.DN, len(mod.Changes), mariaDN, len(wantMod.Changes))
	}
	for i, w := range wantMod.Changes {
		g := mod.Changes[i]
		if g.Operation != w.Operation || g.Modification.Type != w.Modification.Type || len(g.Modification.Vals) != len(w.Modification.Vals) ||
			(len(w.Modification.Vals) > 0 && !slices.Equal(g.Modification.Vals, w.Modification.Vals)) {
			t.Errorf("modification %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestWriteLDIF_NoWritesIsOnlyTheHeader(t *testing.T) {
	var b bytes.Buffer
	p := ldifPlan()
	p.Changes = p.Changes[3:]
	p.Summary = plan.Summary{Unchanged: 1, Conflict: 1}
	if err := writer.WriteLDIF(&b, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "dn:") {
		t.Errorf("LDIF of a plan without writes has records:\n%s", b.String())
	}
}

func TestWriteLDIF_BadValueIsAnError(t *testing.T) {
	p := ldifPlan()
	p.Changes[0].Attrs[5].After = []string{"nope"}
	if err := writer.WriteLDIF(&bytes.Buffer{}, p); !errors.Is(err, directory.ErrBadGUID) {
		t.Errorf("WriteLDIF with a bad GUID: %v", err)
	}
}

// RFC 2849 forbids a SAFE-STRING that starts with a space: such a value must be written base64.
// go-ldap/ldif's encoder only checks for a trailing space, so " Anna" is written as
// "displayName:  Anna", which ldapmodify and ldif.Parse both read back as "Anna": the export is
// then not "exactly what apply sends".
func TestWriteLDIF_LeadingSpaceSurvives(t *testing.T) {
	c := plan.Change{Action: plan.Create, DN: annaDN, Key: workedGUID,
		Attrs: []plan.AttrChange{{Name: "displayName", After: []string{" Anna Berg"}}}}
	var b bytes.Buffer
	if err := writer.WriteLDIF(&b, &plan.Plan{Kind: "sync", Changes: []plan.Change{c}}); err != nil {
		t.Fatal(err)
	}
	l, err := ldif.Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Entries[0].Add.Attributes[0].Vals; !slices.Equal(got, []string{" Anna Berg"}) {
		t.Errorf("displayName read back from the LDIF as %q, want %q", got, " Anna Berg")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
