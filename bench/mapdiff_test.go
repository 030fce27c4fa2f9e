// Package bench holds xtmsyncd's benchmarks: the in-process map+diff here (go test -bench), and
// the directory benchmark against the raw LDAP tools in bench/samba (go run ./bench/samba).
package bench

import (
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

var rules = mapper.Rules{
	SourceRoutingDomain: "contoso.mail.onmicrosoft.com", SourceDomains: []string{"contoso.com", "contoso.onmicrosoft.com"},
	TargetPrimaryDomain: "northwind.com", TargetDeliveryDomain: "northwindtraders.mail.onmicrosoft.com",
	TargetUPNSuffix: "northwind.com", AcceptedDomains: []string{"northwind.com", "northwindtraders.onmicrosoft.com", "northwindtraders.mail.onmicrosoft.com"},
	DisplayType: -2147483642, ExchangeVersion: 88218628259840, OwnerAttr: "extensionAttribute15", OwnerValue: "xtmsyncd",
}

const ou = "OU=Cross-Tenant,DC=northwind,DC=test"

// population returns n source mailboxes and target entries for the first `existing` of them
// (already stamped, one attribute drifted on every tenth), as a later sync would see.
func population(n, existing int) ([]directory.Mailbox, []*directory.Entry) {
	src := make([]directory.Mailbox, n)
	for i := range n {
		a := fmt.Sprintf("user%06d", i)
		var g directory.GUID
		g[0], g[1], g[2], g[15] = byte(i>>16), byte(i>>8), byte(i), 1
		src[i] = directory.Mailbox{
			DN: "CN=" + a + ",OU=Staff,DC=contoso,DC=test", Alias: a, CN: a, DisplayName: "User " + a,
			GivenName: "User", Surname: a, Mail: a + "@contoso.com", MailboxGUID: g.AD(),
			LegacyExchangeDN: "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + a,
			Proxies: []directory.Proxy{
				directory.Proxy("SMTP:" + a + "@contoso.com"), directory.Proxy("smtp:" + a + "@contoso.onmicrosoft.com"),
				directory.Proxy("smtp:" + a + "@contoso.mail.onmicrosoft.com"),
				directory.Proxy("X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + a),
			},
			TargetAddress: "SMTP:" + a + "@contoso.mail.onmicrosoft.com", TypeDetails: directory.TypeRemoteUserMailbox,
		}
	}
	desired, _ := mapper.Map(src, rules)
	var tgt []*directory.Entry
	for i, d := range desired[:existing] {
		// as writer.decodeEntry builds them: a map sized by the values read, fresh strings
		e := &directory.Entry{DN: "CN=" + d.CN + "," + ou, Attrs: make(map[string][]string, len(d.Attrs)+1)}
		for k, v := range d.Attrs {
			if len(v) > 0 {
				vals := make([]string, len(v))
				for i, s := range v {
					vals[i] = strings.Clone(s)
				}
				e.Attrs[k] = vals
			}
		}
		e.Attrs["sAMAccountName"] = []string{d.SAMBase}
		if i%10 == 0 {
			e.Attrs["displayName"] = []string{"drifted"}
		}
		tgt = append(tgt, e)
	}
	return src, tgt
}

func benchMapDiff(b *testing.B, n, existing int) {
	src, tgt := population(n, existing)
	opt := plan.Options{OU: ou, Anchor: "mailNickname", OwnerAttr: rules.OwnerAttr, OwnerValue: rules.OwnerValue}
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var p *plan.Plan
	for b.Loop() {
		p = plan.Build(src, rules, tgt, opt)
	}
	b.StopTimer()
	if p.Summary.Create != n-existing || p.Summary.Update != (existing+9)/10 {
		b.Fatalf("unexpected plan summary %+v", p.Summary)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/plan")
}

// BenchmarkMapDiff100kSteady maps 100,000 source mailboxes and diffs them against their
// 100,000 existing target MailUsers, 10,000 of them drifted: the daily sync at full scale.
func BenchmarkMapDiff100kSteady(b *testing.B) { benchMapDiff(b, 100_000, 100_000) }

// BenchmarkMapDiff100kFirst is the first sync at full scale: 100,000 creates.
func BenchmarkMapDiff100kFirst(b *testing.B) { benchMapDiff(b, 100_000, 0) }

// BenchmarkMapDiff5k is the steady state at the Samba benchmark's scale.
func BenchmarkMapDiff5k(b *testing.B) { benchMapDiff(b, 5_000, 5_000) }
