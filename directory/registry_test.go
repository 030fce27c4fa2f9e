package directory

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// fixtureOnly are attributes the test forests' schema adds for the demo fixtures (the source
// LDIF carries them) that the product neither reads nor writes.
var fixtureOnly = map[string]bool{"msexcharchivename": true, "msexchpreviousrecipienttypedetails": true,
	"msexchlitigationholdowner": true, "msexcharchivestatus": true}

// syntaxOf maps an attributeSyntax OID to the registry's syntaxes it may stand for.
var syntaxOf = map[string][]Syntax{
	"2.5.5.1": {SyntaxDN}, "2.5.5.8": {SyntaxBoolean}, "2.5.5.9": {SyntaxInteger}, "2.5.5.16": {SyntaxInteger},
	"2.5.5.10": {SyntaxGUID, SyntaxBinary}, "2.5.5.11": {SyntaxTime}, "2.5.5.12": {SyntaxString},
}

// The test forests' schema (testdata/schema/exchange-attributes.tsv) and the registry agree:
// every attribute the schema adds is a registry row (or a fixture's), with the same syntax and
// the same single- or multi-valuedness.
func TestRegistry_AgreesWithTheTestSchema(t *testing.T) {
	f, err := os.Open("../testdata/schema/exchange-attributes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "#") || len(cols) < 6 {
			continue
		}
		name, syntax, single := cols[0], cols[3], cols[5] == "TRUE"
		if fixtureOnly[strings.ToLower(name)] {
			continue
		}
		a, ok := Lookup(name)
		if !ok {
			t.Errorf("the test schema adds %s, which the registry does not know", name)
			continue
		}
		seen++
		if !a.Exchange {
			t.Errorf("%s is in Exchange's schema extension; the registry says it is not", name)
		}
		if a.Multi == single {
			t.Errorf("%s: the schema says single-valued %v, the registry multi-valued %v", name, single, a.Multi)
		}
		if ok := strings.Contains(" "+syntaxList(syntaxOf[syntax])+" ", " "+string(a.Syntax)+" "); !ok {
			t.Errorf("%s: schema syntax %s, registry %s", name, syntax, a.Syntax)
		}
	}
	if seen < 30 {
		t.Fatalf("only %d attributes compared: is the TSV's format still the one this test reads?", seen)
	}
}

func syntaxList(ss []Syntax) string {
	var out []string
	for _, s := range ss {
		out = append(out, string(s))
	}
	return strings.Join(out, " ")
}

// The README's table of what a target MailUser gets names every attribute the registry says
// xtmsyncd writes.
func TestRegistry_READMENamesEveryWrittenAttribute(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start := strings.Index(s, "## What a target MailUser gets")
	end := strings.Index(s, "### Matching and classes")
	if start < 0 || end < start {
		t.Fatal("README has no section \"What a target MailUser gets\"")
	}
	section := s[start:end]
	for _, a := range Attributes {
		if a.Policy != PolicyNone && !strings.Contains(section, "`"+a.Name+"`") {
			t.Errorf("README's table of what a target MailUser gets does not name %s (%s)", a.Name, a.Policy)
		}
	}
}

// The derived lists and KindOf come from the registry.
func TestRegistry_DerivedLists(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []string
		keep func(Attribute) bool
	}{
		{"source", SourceAttributes, func(a Attribute) bool { return a.Source }},
		{"target", TargetAttributes, func(a Attribute) bool { return a.Target }},
		{"exchange", ExchangeAttributes, func(a Attribute) bool { return a.Exchange }},
	} {
		n := 0
		for _, a := range Attributes {
			if tc.keep(a) {
				if n >= len(tc.list) || tc.list[n] != a.Name {
					t.Errorf("%s list differs from the registry at %d (%s)", tc.name, n, a.Name)
				}
				n++
			}
		}
		if n != len(tc.list) {
			t.Errorf("%s list has %d names, the registry %d", tc.name, len(tc.list), n)
		}
	}
	if KindOf("MSEXCHMAILBOXGUID") != KindGUID || KindOf("msExchSafeSendersHash") != KindBinary || KindOf("mail") != KindString {
		t.Error("KindOf does not follow the registry's syntaxes")
	}
}
