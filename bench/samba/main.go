// Command samba measures xtmsyncd against the raw LDAP tools on the demo Samba forests:
//
//	go run ./bench/samba -n 5000
//
// It loads N synthetic source mailboxes (kept in OU=xtm-bench-N for later runs), then reports
//   - plan: `xtmsyncd plan` against the raw paged read of the same attributes from both forests
//     with ldapsearch (ratio of medians; the two alternate -reps times);
//   - apply, creates: `xtmsyncd sync --confirm` creating N MailUsers against `ldapadd` of the
//     plan's own LDIF (ratio of medians, and xtmsyncd's peak RSS). The target directory is
//     restored from its snapshot (scripts/testdirs.sh reset target) before every run, and the
//     tools alternate raw, xtmsyncd, xtmsyncd, raw (-apply-reps runs each);
//   - apply, updates: a sync that changes one attribute on every object against `ldapmodify` of
//     the update plan's own LDIF, alternating the same way.
//
// For both applies it also prints the writes alone (from the binary's "writes done" log line):
// ldapadd and ldapmodify replay a finished plan, so that is the like-for-like figure; the sync
// total adds the plan (reading both forests).
//
// The forests must be up (scripts/testdirs.sh up) and .testdirs/env sourced; run it from the
// project root. It leaves the target as its snapshot has it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

func main() {
	n := flag.Int("n", 5000, "synthetic source mailboxes")
	conns := flag.Int("connections", 2, "xtmsyncd target.connections")
	procs := flag.Int("gomaxprocs", 0, "GOMAXPROCS for the xtmsyncd binary (0: Go's default). On a small machine that also runs both Samba servers, 1 stands in for a client on a machine of its own")
	reps := flag.Int("reps", 7, "runs of each plan measurement (raw read and plan alternate; medians compared)")
	applyReps := flag.Int("apply-reps", 2, "runs of each apply per tool (they alternate: raw, xtmsyncd, xtmsyncd, raw, ...)")
	planOnly := flag.Bool("plan-only", false, "measure only the creates plan against the raw read (no writes)")
	flag.Parse()
	if *procs > 0 {
		binEnv = append(os.Environ(), fmt.Sprint("GOMAXPROCS=", *procs)) // the binary under test only
	}
	ctx := context.Background()
	srcCfg, ok1 := ldaptest.Config("source")
	tgtCfg, ok2 := ldaptest.Config("target")
	if !ok1 || !ok2 {
		log.Fatal("directories unknown: run scripts/testdirs.sh up and . .testdirs/env")
	}
	src, err := ldapconn.Dial(ctx, &srcCfg)
	check(err)
	tgt, err := ldapconn.Dial(ctx, &tgtCfg)
	check(err)

	work, err := os.MkdirTemp("", "xtmbench")
	check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "xtmsyncd")
	run("go", "build", "-o", bin, "./cmd/xtmsyncd")

	// Source: N synthetic mailboxes, loaded once and kept.
	srcOU := fmt.Sprintf("OU=xtm-bench-%d,%s", *n, srcCfg.BaseDN)
	o := synth.Options{N: *n, OU: srcOU, Tag: fmt.Sprintf("b%d", *n%100000), ArchiveEvery: 3}
	if !exists(src, o.GroupDN()) {
		fmt.Printf("loading %d source mailboxes into %s ...\n", *n, srcOU)
		_ = ldaptest.DeleteTreeConn(src, srcOU)
		add(src, srcOU)
		t0 := time.Now()
		check(synth.Load(src, synth.Requests(o)))
		fmt.Printf("  loaded in %s (%.0f adds/s)\n", time.Since(t0).Round(time.Millisecond), float64(*n+1)/time.Since(t0).Seconds())
	}

	// One fresh target OU; the raw tools and xtmsyncd take turns on the same starting state
	// (sAMAccountNames are unique in a domain, so both cannot hold copies at once).
	ouX := fmt.Sprintf("OU=xtm-bench-x,%s", tgtCfg.BaseDN)
	_ = ldaptest.DeleteTreeConn(tgt, ouX)
	add(tgt, ouX)
	cfgX := writeConfig(work, "x.yaml", srcCfg.CAFile, tgtCfg.CAFile, o.GroupDN(), ouX, *n, *conns)

	// 1. plan vs raw paged read of the same attributes from both forests.
	attrsSrc := "objectGUID cn displayName givenName sn sAMAccountName userPrincipalName mail mailNickname proxyAddresses targetAddress legacyExchangeDN msExchMailboxGuid msExchArchiveGUID msExchRecipientTypeDetails msExchRecipientDisplayType msExchRemoteRecipientType msExchELCMailboxFlags msExchLitigationHoldDate msExchUserHoldPolicies msExchBlockedSendersHash msExchSafeSendersHash msExchSafeRecipientsHash publicDelegates msExchDelegateListLink"
	attrsTgt := "objectGUID cn sAMAccountName userPrincipalName displayName givenName sn mail mailNickname proxyAddresses targetAddress msExchMailboxGuid msExchArchiveGUID msExchRecipientTypeDetails msExchRecipientDisplayType msExchRemoteRecipientType msExchVersion msExchELCMailboxFlags msExchBlockedSendersHash msExchSafeSendersHash msExchSafeRecipientsHash msExchPreviousMailboxGuid publicDelegates extensionAttribute15"
	rawRead := func() time.Duration {
		t0 := time.Now()
		ldapsearch(srcCfg.URL, srcCfg.CAFile, srcCfg.BindDN, srcCfg.BaseDN,
			"(&(objectClass=user)(!(objectClass=computer))(memberOf="+ldap.EscapeFilter(o.GroupDN())+"))", attrsSrc)
		ldapsearch(tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, tgtCfg.BaseDN,
			"(|(objectClass=user)(objectClass=group)(objectClass=contact))", attrsTgt)
		return time.Since(t0)
	}
	rawRead() // warm both servers' caches
	ldifC := filepath.Join(work, "create.ldif")
	comparePlans("all creates", *reps, rawRead, func() (time.Duration, int64) {
		return timed(bin, "plan", "-config", cfgX, "-o", "ldif", "--out", ldifC)
	})
	if *planOnly {
		return
	}

	// 2. apply, creates: ldapadd of the plan's own LDIF against xtmsyncd sync. The target is
	// restored from its snapshot before every run, so each starts from the same directory: a
	// Samba database slows with every object deleted (tombstones), which would favour
	// whichever tool ran first. The tools alternate (raw, xtmsyncd, xtmsyncd, raw, ...).
	resetTarget := func() {
		tgt.Close()
		run("scripts/testdirs.sh", "reset", "target")
		tgt, err = ldapconn.Dial(ctx, &tgtCfg)
		check(err)
		add(tgt, ouX)
	}
	var addT, syncT, writeT []time.Duration
	var rssC int64
	for k := range 2 * max(1, *applyReps) {
		resetTarget()
		if k%4 == 0 || k%4 == 3 {
			addT = append(addT, ldapTool("ldapadd", tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, ldifC))
			continue
		}
		cfg := writeConfig(work, fmt.Sprintf("c%d.yaml", k), srcCfg.CAFile, tgtCfg.CAFile, o.GroupDN(), ouX, *n, *conns)
		d, rss, w := timedLog(bin, "sync", "-config", cfg, "--confirm", "--allow-large-plan", "-o", "json")
		syncT, writeT, rssC = append(syncT, d), append(writeT, w), max(rssC, rss)
	}
	reportApply("creates", "ldapadd", *n, *conns, addT, syncT, writeT, rssC)

	// 3. updates: drift one attribute on every MailUser, then either ldapmodify of the update
	// plan's own LDIF or xtmsyncd sync, alternating as above.
	drift(tgt, ouX)
	ldifU := filepath.Join(work, "update.ldif")
	_, _ = timed(bin, "plan", "-config", cfgX, "-o", "ldif", "--out", ldifU)
	var modT []time.Duration
	syncT, writeT, rssC = nil, nil, 0
	for k := range 2 * max(1, *applyReps) {
		if k > 0 {
			drift(tgt, ouX)
		}
		if k%4 == 0 || k%4 == 3 {
			modT = append(modT, ldapTool("ldapmodify", tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, ldifU))
			continue
		}
		d, rss, w := timedLog(bin, "sync", "-config", cfgX, "--confirm", "--allow-large-plan", "-o", "json")
		syncT, writeT, rssC = append(syncT, d), append(writeT, w), max(rssC, rss)
	}
	reportApply("updates", "ldapmodify", *n, *conns, modT, syncT, writeT, rssC)
	comparePlans("all unchanged", *reps, rawRead, func() (time.Duration, int64) {
		return timed(bin, "plan", "-config", cfgX, "-o", "json", "--out", os.DevNull)
	})
	resetTarget() // leave the target as the snapshot has it
}

// reportApply prints the medians of the raw tool's runs and of xtmsyncd's, whole sync (the plan
// included) and writes alone (the like-for-like figure: the raw tool replays a finished plan).
func reportApply(what, tool string, n, conns int, raw, sync, writes []time.Duration, rss int64) {
	mr, ms, mw := median(raw), median(sync), median(writes)
	per := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("apply (N=%d %s, %d connections, %d runs each, alternating, target restored before each create run): %s median %s (%.0f/s) %s\n",
		n, what, conns, len(raw), tool, mr.Round(time.Millisecond), per(mr), durations(raw))
	fmt.Printf("  xtmsyncd sync median %s (%.0f/s, peak RSS %d MB, plan included) %s: ratio %.2f\n",
		ms.Round(time.Millisecond), per(ms), rss/1024, durations(sync), ms.Seconds()/mr.Seconds())
	fmt.Printf("  writes alone (journal and compare-and-set included) median %s (%.0f/s) %s: ratio %.2f\n",
		mw.Round(time.Millisecond), per(mw), durations(writes), mw.Seconds()/mr.Seconds())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func durations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(10*time.Millisecond).String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// comparePlans alternates the raw read and xtmsyncd plan reps times and compares the medians:
// Samba's own time for the same search varies by a third from one run to the next.
func comparePlans(what string, reps int, raw func() time.Duration, plan func() (time.Duration, int64)) {
	var rs, ps []time.Duration
	var rss int64
	for range max(1, reps) {
		rs = append(rs, raw())
		d, r := plan()
		ps = append(ps, d)
		rss = max(rss, r)
	}
	slices.Sort(rs)
	slices.Sort(ps)
	mr, mp := rs[len(rs)/2], ps[len(ps)/2]
	fmt.Printf("plan (%s, %d runs each): xtmsyncd plan median %s (%s–%s, peak RSS %d MB), raw paged read of both forests with ldapsearch median %s (%s–%s): ratio %.2f\n",
		what, len(ps), mp.Round(time.Millisecond), ps[0].Round(time.Millisecond), ps[len(ps)-1].Round(time.Millisecond), rss/1024,
		mr.Round(time.Millisecond), rs[0].Round(time.Millisecond), rs[len(rs)-1].Round(time.Millisecond), mp.Seconds()/mr.Seconds())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func exists(c *ldap.Conn, dn string) bool {
	_, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	return err == nil
}

func add(c *ldap.Conn, ou string) {
	r := ldap.NewAddRequest(ou, nil)
	r.Attribute("objectClass", []string{"organizationalUnit"})
	check(c.Add(r))
}

func drift(c *ldap.Conn, ou string) {
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"1.1"}, nil), 1000)
	check(err)
	for _, e := range res.Entries {
		m := ldap.NewModifyRequest(e.DN, nil)
		m.Replace("displayName", []string{"drifted"})
		check(c.Modify(m))
	}
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
}

// timed runs the xtmsyncd binary and returns its wall time and peak RSS (KiB).
func timed(bin string, args ...string) (time.Duration, int64) {
	d, rss, _ := timedLog(bin, args...)
	return d, rss
}

// binEnv is the environment of the xtmsyncd processes (nil: this process's).
var binEnv []string

// timedLog runs the binary and also returns the duration of its writes, from its "writes done"
// log line (0 when it wrote nothing).
func timedLog(bin string, args ...string) (time.Duration, int64, time.Duration) {
	cmd := exec.Command(bin, args...)
	cmd.Env = binEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	d := time.Since(t0)
	var writes time.Duration
	for _, line := range strings.Split(stderr.String(), "\n") {
		var rec struct {
			Msg     string  `json:"msg"`
			Elapsed float64 `json:"elapsed_seconds"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "writes done" {
			writes = time.Duration(rec.Elapsed * float64(time.Second))
		}
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return d, 0, writes
	}
	return d, ru.Maxrss, writes
}

func ldapsearch(url, ca, bindDN, base, filter, attrs string) {
	args := append([]string{"-x", "-LLL", "-H", url, "-D", bindDN, "-w", os.Getenv("XTM_TEST_ADMIN_PASSWORD"), "-E", "pr=1000/noprompt", "-b", base, filter}, strings.Fields(attrs)...)
	cmd := exec.Command("ldapsearch", args...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+ca)
	cmd.Stdout = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("ldapsearch: %v %s", err, stderr.String())
	}
}

func ldapTool(tool, url, ca, bindDN, file string) time.Duration {
	cmd := exec.Command(tool, "-x", "-H", url, "-D", bindDN, "-w", os.Getenv("XTM_TEST_ADMIN_PASSWORD"), "-f", file)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+ca)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", tool, err, out.String())
	}
	return time.Since(t0)
}

func writeConfig(dir, name, srcCA, tgtCA, group, ou string, n, conns int) string {
	srcCfg, _ := ldaptest.Config("source")
	tgtCfg, _ := ldaptest.Config("target")
	y := fmt.Sprintf(`source:
  url: %s
  ca_file: %s
  bind_dn: %s
  bind_password: ${XTM_TEST_ADMIN_PASSWORD}
  base_dn: %s
target:
  url: %s
  ca_file: %s
  bind_dn: %s
  bind_password: ${XTM_TEST_ADMIN_PASSWORD}
  base_dn: %s
  ou: %s
  connections: %d
scope:
  group: %s
mapping:
  source_routing_domain: contoso.mail.onmicrosoft.com
  source_domains: [contoso.com, contoso.onmicrosoft.com]
  target_primary_domain: northwind.com
  target_delivery_domain: northwindtraders.mail.onmicrosoft.com
  target_upn_suffix: northwind.com
  accepted_domains: [northwind.com, northwindtraders.onmicrosoft.com, northwindtraders.mail.onmicrosoft.com]
limits:
  max_changes: %d
journal:
  path: %s
log:
  level: info
  format: json
`, srcCfg.URL, srcCA, srcCfg.BindDN, srcCfg.BaseDN, tgtCfg.URL, tgtCA, tgtCfg.BindDN, tgtCfg.BaseDN, ou, conns, group, n+10,
		filepath.Join(dir, name+".db"))
	p := filepath.Join(dir, name)
	check(os.WriteFile(p, []byte(y), 0o600))
	return p
}
