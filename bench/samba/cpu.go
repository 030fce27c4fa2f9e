//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverCPU is the CPU time (user and system) the target Samba has used so far, read from
// /proc; 0 when it cannot be read (not Linux, not started by scripts/testdirs.sh). It is the sum
// over every process in the server's session (scripts/testdirs.sh starts it with setsid): one
// process with -M single, the root process and the LDAP workers with prefork, with the CPU of
// workers that have exited and were reaped. Unlike wall time it leaves out the time the server
// waits for the client, so it shows what each tool costs the server; it still moves with the
// machine's load (another busy core raised it by about 12%).
func serverCPU() time.Duration {
	b, err := os.ReadFile(".testdirs/target/run/testdirs.pid")
	if err != nil {
		return 0
	}
	sid := strings.TrimSpace(string(b))
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := parseStat(string(stat)); err == nil && st.session == sid {
			total += st.cpu + st.children
		}
	}
	return total
}

// procCPU is the CPU time process pid has used so far; 0 when /proc cannot tell.
func procCPU(pid string) time.Duration {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	st, _ := parseStat(string(stat))
	return st.cpu
}

// procStat is what the bench needs of /proc/PID/stat.
type procStat struct {
	session  string        // field 6
	cpu      time.Duration // utime+stime, fields 14 and 15
	children time.Duration // cutime+cstime of reaped children, fields 16 and 17
}

// parseStat reads the text of /proc/PID/stat. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted after the last closing one.
func parseStat(stat string) (procStat, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 15", len(f))
	}
	var ticks [4]int64
	for k := range ticks {
		v, err := strconv.ParseInt(f[11+k], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("field %d: %w", 14+k, err)
		}
		ticks[k] = v
	}
	const hz = 100 // USER_HZ: 100 on every Linux architecture Go supports
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / hz }
	return procStat{session: f[3], cpu: tick(ticks[0] + ticks[1]), children: tick(ticks[2] + ticks[3])}, nil
}

// logTimes follows the binary's JSON log as it is written and returns the duration of its
// writes (the "writes done" line), and the target server's CPU and the binary's own (process
// pid) between the end of the read ("forests read") and that line, which holds only the writes
// and their compare-and-set searches. Lines that are not JSON are kept in rest for error
// messages.
func logTimes(r io.Reader, rest io.Writer, pid string) (writes, cpu, client time.Duration) {
	var from, clientFrom time.Duration
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var rec struct {
			Msg     string  `json:"msg"`
			Elapsed float64 `json:"elapsed_seconds"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			fmt.Fprintln(rest, sc.Text())
			continue
		}
		switch rec.Msg {
		case "forests read":
			from, clientFrom = serverCPU(), procCPU(pid)
		case "writes done":
			writes = time.Duration(rec.Elapsed * float64(time.Second))
			cpu, client = serverCPU()-from, procCPU(pid)-clientFrom
		}
		fmt.Fprintln(rest, sc.Text())
	}
	return writes, cpu, client
}
