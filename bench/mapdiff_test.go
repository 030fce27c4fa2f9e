// Package bench holds xtmsyncd's benchmarks: the in-process map+diff here (go test -bench), and
// the directory benchmark against the raw LDAP tools in bench/samba (go run ./bench/samba).
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/gctune"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/writer"
)

var rules = mapper.Rules{
	SourceRoutingDomain: "contoso.mail.onmicrosoft.com", SourceDomains: []string{"contoso.com", "contoso.onmicrosoft.com"},
	TargetPrimaryDomain: "northwind.com", TargetDeliveryDomain: "northwindtraders.mail.onmicrosoft.com",
	TargetUPNSuffix: "northwind.com", AcceptedDomains: []string{"northwind.com", "northwindtraders.onmicrosoft.com", "northwindtraders.mail.onmicrosoft.com"},
	DisplayType: -2147483642, ExchangeVersion: 88218628259840, OwnerAttr: "extensionAttribute15", OwnerValue: "xtmsyncd",
}

const ou = "OU=Cross-Tenant,DC=northwind,DC=test"

var opt = plan.Options{OU: ou, Anchor: "mailNickname", OwnerAttr: rules.OwnerAttr, OwnerValue: rules.OwnerValue}

// TestMain runs the benchmarks with the binary's collector setting (internal/gctune): they
// measure what `xtmsyncd plan` does. GOGC=100 in the environment measures Go's default.
func TestMain(m *testing.M) {
	gctune.Apply()
	os.Exit(m.Run())
}

// mailbox returns synthetic source mailbox i, every string freshly allocated as a directory
// read would.
func mailbox(i int) directory.Mailbox {
	a := fmt.Sprintf("user%06d", i)
	var g directory.GUID
	g[0], g[1], g[2], g[15] = byte(i>>16), byte(i>>8), byte(i), 1
	return directory.Mailbox{
		DN: "CN=" + a + ",OU=Staff,DC=contoso,DC=test", Alias: a, CN: strings.Clone(a), DisplayName: "User " + a,
		GivenName: "User", Surname: strings.Clone(a), Mail: a + "@contoso.com", MailboxGUID: g.AD(),
		LegacyExchangeDN: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + a,
		Proxies: []directory.Proxy{
			directory.Proxy("SMTP:" + a + "@contoso.com"), directory.Proxy("smtp:" + a + "@contoso.onmicrosoft.com"),
			directory.Proxy("smtp:" + a + "@contoso.mail.onmicrosoft.com"),
			directory.Proxy("X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + a),
		},
		TargetAddress: "SMTP:" + a + "@contoso.mail.onmicrosoft.com", TypeDetails: directory.TypeRemoteUserMailbox, HasTypeDetails: true,
	}
}

// mailUser returns the target MailUser an earlier sync made for mailbox i, as writer.decodeEntry
// builds it (a map sized by the values read, fresh strings); every tenth has a drifted
// displayName, as a later sync would see.
func mailUser(i int) *directory.Entry {
	m := mailbox(i)
	d, p := mapper.One(&m, rules)
	if p != nil {
		panic(p.Code)
	}
	e := &directory.Entry{DN: "CN=" + d.CN + "," + ou, Attrs: make(map[string][]string, len(d.Attrs)+1)}
	e.ObjectGUID[0], e.ObjectGUID[1], e.ObjectGUID[2], e.ObjectGUID[15] = byte(i>>16), byte(i>>8), byte(i), 2
	for k, v := range d.Attrs {
		if len(v) > 0 {
			vals := make([]string, len(v))
			for j, s := range v {
				vals[j] = strings.Clone(s)
			}
			e.Attrs[strings.Clone(k)] = vals
		}
	}
	e.Attrs["sAMAccountName"] = []string{d.SAMBase}
	if i%10 == 0 {
		e.Attrs["displayName"] = []string{"drifted"}
	}
	return e
}

// source and target stand in for the two directories: they generate objects on the fly and
// hand them over one at a time, as ldapsrc.Reader and writer.Client do.
type source struct{ n int }

func (s source) Scope(ctx context.Context) (*directory.Scope, error) {
	return nil, fmt.Errorf("the benchmark streams")
}

func (s source) EachMailbox(_ context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	for i := range s.n {
		m := mailbox(i)
		if err := fn(&m); err != nil {
			return nil, err
		}
	}
	return &directory.Scope{}, nil
}

type target struct{ n int }

func (t target) Entries(context.Context) ([]*directory.Entry, error) {
	return nil, fmt.Errorf("the benchmark streams")
}
func (t target) Apply(context.Context, plan.Change) (string, error) {
	return "", fmt.Errorf("read only")
}
func (t target) Connections() int { return 1 }

func (t target) EachEntry(_ context.Context, fn func(*directory.Entry) error) error {
	for i := range t.n {
		if err := fn(mailUser(i)); err != nil {
			return err
		}
	}
	return nil
}

// benchMapDiff runs engine.Plan, the code path of `xtmsyncd plan`, on n generated source
// mailboxes and their first `existing` target MailUsers, both forests streamed concurrently.
// The generators' own work (building every object, mapping it once more for the target side)
// is included in the time.
func benchMapDiff(b *testing.B, n, existing int) {
	e := &engine.Engine{Source: source{n}, Target: target{existing}, Rules: rules, Diff: opt}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var p *plan.Plan
	for b.Loop() {
		p = nil // not two plans alive at once
		var err error
		if p, err = e.Plan(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if p.Summary.Create != n-existing || p.Summary.Update != (existing+9)/10 || p.Summary.Unchanged != existing-(existing+9)/10 {
		b.Fatalf("unexpected plan summary %+v", p.Summary)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "plan-heap-MB")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/plan")
	runtime.KeepAlive(p)
}

// BenchmarkMapDiff100kSteady plans 100,000 source mailboxes against their 100,000 existing
// target MailUsers, 10,000 of them drifted: the daily sync at full scale. Run it alone
// (-bench 'MapDiff100kSteady$'): peak-RSS-MB is the whole process's.
func BenchmarkMapDiff100kSteady(b *testing.B) { benchMapDiff(b, 100_000, 100_000) }

// BenchmarkMapDiff100kFirst is the first sync at full scale: 100,000 creates, every one of
// which the plan holds with all its attributes.
func BenchmarkMapDiff100kFirst(b *testing.B) { benchMapDiff(b, 100_000, 0) }

// BenchmarkMapDiff5k is the steady state at the Samba benchmark's scale.
func BenchmarkMapDiff5k(b *testing.B) { benchMapDiff(b, 5_000, 5_000) }

// BenchmarkMapDiff5kFirst is the first sync at the Samba benchmark's scale: 5,000 creates.
func BenchmarkMapDiff5kFirst(b *testing.B) { benchMapDiff(b, 5_000, 0) }

// BenchmarkRenderLDIF5kFirst renders the first sync's plan at the Samba benchmark's scale (5,000
// creates) as LDIF, the file `xtmsyncd plan -o ldif` writes.
func BenchmarkRenderLDIF5kFirst(b *testing.B) {
	e := &engine.Engine{Source: source{5_000}, Target: target{0}, Rules: rules, Diff: opt}
	p, err := e.Plan(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var w countWriter
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w = 0
		if err := writer.WriteLDIF(&w, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w)/(1<<20), "MB/plan")
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// The benchmarks' fixtures plan as the benchmarks expect, at a small scale, so a rule change
// that makes them invalid fails `make test` instead of the next benchmark run.
func TestMapDiffFixtures(t *testing.T) {
	e := &engine.Engine{Source: source{200}, Target: target{150}, Rules: rules, Diff: opt}
	p, err := e.Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Summary.Create != 50 || p.Summary.Update != 15 || p.Summary.Unchanged != 135 || p.Summary.Invalid != 0 {
		t.Errorf("plan summary %+v, want 50 creates, 15 updates (every tenth drifted), 135 unchanged", p.Summary)
	}
}
