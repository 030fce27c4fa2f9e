//go:build linux

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
// total adds the plan (reading both forests). Samba's speed drifts over minutes on a shared
// machine, so it also prints the ratio within each block of adjacent runs, and the target
// server's CPU time during each tool's writes (Samba runs as one process per forest).
// -only plan or -only updates measures one step.
//
// The forests must be up (scripts/testdirs.sh up) and .testdirs/env sourced; run it from the
// project root. It leaves the target as its snapshot has it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
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
	only := flag.String("only", "", "measure one step only: plan (the creates plan against the raw read, no writes) or updates (after one untimed sync that creates the MailUsers)")
	keep := flag.Bool("keep", false, "keep the work directory (binary, configs, LDIF, journals) and leave the target as the last run left it, for profiling by hand")
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
	if *keep {
		defer fmt.Printf("kept %s; the target holds the last run's objects\n", work)
	} else {
		defer os.RemoveAll(work)
	}
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
	// The same attributes xtmsyncd reads (the registry's lists; the target's plus the marker).
	attrsSrc := strings.Join(directory.SourceAttributes, " ")
	attrsTgt := strings.Join(append(slices.Clone(directory.TargetAttributes), "extensionAttribute15"), " ")
	rawRead := func() time.Duration {
		t0 := time.Now()
		ldapsearch(srcCfg.URL, srcCfg.CAFile, srcCfg.BindDN, srcCfg.BaseDN,
			"(&(objectClass=user)(!(objectClass=computer))(memberOf="+ldap.EscapeFilter(o.GroupDN())+"))", attrsSrc)
		ldapsearch(tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, tgtCfg.BaseDN,
			"(|(objectClass=user)(objectClass=group)(objectClass=contact))", attrsTgt)
		return time.Since(t0)
	}
	switch *only {
	case "", "plan", "updates":
	default:
		log.Fatalf("-only %q: plan or updates", *only)
	}
	rawRead() // warm both servers' caches
	ldifC := filepath.Join(work, "create.ldif")
	if *only != "updates" {
		comparePlans("all creates", *reps, rawRead, func() (time.Duration, int64) {
			return timed(bin, "plan", "-config", cfgX, "-o", "ldif", "--out", ldifC)
		})
	}
	if *only == "plan" {
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
	var raw, xs []runStats
	for k := range 2 * max(1, *applyReps) {
		resetTarget()
		if *only == "updates" {
			timedLog(bin, "sync", "-config", cfgX, "--confirm", "--allow-large-plan", "-o", "json")
			break
		}
		if k%4 == 0 || k%4 == 3 {
			raw = append(raw, ldapTool("ldapadd", tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, ldifC))
			continue
		}
		cfg := writeConfig(work, fmt.Sprintf("c%d.yaml", k), srcCfg.CAFile, tgtCfg.CAFile, o.GroupDN(), ouX, *n, *conns)
		xs = append(xs, timedLog(bin, "sync", "-config", cfg, "--confirm", "--allow-large-plan", "-o", "json"))
	}
	if *only != "updates" {
		reportApply("creates", "ldapadd", *n, *conns, raw, xs)
	}

	// 3. updates: drift one attribute on every MailUser, then either ldapmodify of the update
	// plan's own LDIF or xtmsyncd sync, alternating as above.
	// The drift itself is timed: a bare modify loop on as many connections as xtmsyncd uses.
	d := drift(ctx, &tgtCfg, tgt, ouX, *conns)
	ldifU := filepath.Join(work, "update.ldif")
	_, _ = timed(bin, "plan", "-config", cfgX, "-o", "ldif", "--out", ldifU)
	raw, xs = nil, nil
	var rawBare, xsBare []time.Duration // the drift just before each run
	for k := range 2 * max(1, *applyReps) {
		if k > 0 {
			d = drift(ctx, &tgtCfg, tgt, ouX, *conns)
		}
		if k%4 == 0 || k%4 == 3 {
			raw, rawBare = append(raw, ldapTool("ldapmodify", tgtCfg.URL, tgtCfg.CAFile, tgtCfg.BindDN, ldifU)), append(rawBare, d)
			continue
		}
		xs, xsBare = append(xs, timedLog(bin, "sync", "-config", cfgX, "--confirm", "--allow-large-plan", "-o", "json")), append(xsBare, d)
	}
	reportApply("updates", "ldapmodify", *n, *conns, raw, xs)
	reportBare(*conns, raw, xs, rawBare, xsBare)
	if *only != "updates" {
		comparePlans("all unchanged", *reps, rawRead, func() (time.Duration, int64) {
			return timed(bin, "plan", "-config", cfgX, "-o", "json", "--out", os.DevNull)
		})
	}
	if !*keep {
		resetTarget() // leave the target as the snapshot has it
	}
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

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
}

// timed runs the xtmsyncd binary and returns its wall time and peak RSS (KiB).
func timed(bin string, args ...string) (time.Duration, int64) {
	r := timedLog(bin, args...)
	return r.wall, r.rss
}

// binEnv is the environment of the xtmsyncd processes (nil: this process's).
var binEnv []string

// run of the binary: wall time, peak RSS (KiB), the duration of its writes from its "writes
// done" log line (0 when it wrote nothing) and the target server's CPU during those writes.
type runStats struct {
	wall, writes, cpu time.Duration
	client            time.Duration // the client's own CPU: its writes for xtmsyncd, the whole run for a raw tool
	rss               int64
}

func timedLog(bin string, args ...string) runStats {
	cmd := exec.Command(bin, args...)
	cmd.Env = binEnv
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	var stderr bytes.Buffer
	var st runStats
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatalf("%s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.writes, st.cpu, st.client = logTimes(pr, &stderr, fmt.Sprint(cmd.Process.Pid))
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	st.wall = time.Since(t0)
	pw.Close()
	<-done
	if err != nil {
		log.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	if ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage); ru != nil {
		st.rss = ru.Maxrss
	}
	return st
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

// ldapTool runs ldapadd or ldapmodify on file; it returns the wall time and the target
// server's CPU during the run.
func ldapTool(tool, url, ca, bindDN, file string) runStats {
	cmd := exec.Command(tool, "-x", "-H", url, "-D", bindDN, "-w", os.Getenv("XTM_TEST_ADMIN_PASSWORD"), "-f", file)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+ca)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0, c0 := time.Now(), serverCPU()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", tool, err, out.String())
	}
	return runStats{wall: time.Since(t0), cpu: serverCPU() - c0, client: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
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
