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
// /proc; 0 when it cannot be read (not Linux, not started by scripts/testdirs.sh). Samba runs as
// one process per forest (-M single), so this is the whole server's work: unlike wall time it
// does not depend on what else the machine does, and it shows what each tool costs the server.
func serverCPU() time.Duration {
	b, err := os.ReadFile(".testdirs/target/run/testdirs.pid")
	if err != nil {
		return 0
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count after it.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0
	}
	const ticks = 100 // USER_HZ: 100 on every Linux architecture Go supports
	return time.Duration(utime+stime) * time.Second / ticks
}

// logTimes follows the binary's JSON log as it is written and returns the duration of its
// writes (the "writes done" line) and the target server's CPU between the end of the read
// ("forests read") and that line, which holds only the writes and their compare-and-set
// searches. Lines that are not JSON are kept in rest for error messages.
func logTimes(r io.Reader, rest io.Writer) (writes, cpu time.Duration) {
	var from time.Duration
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
			from = serverCPU()
		case "writes done":
			writes = time.Duration(rec.Elapsed * float64(time.Second))
			cpu = serverCPU() - from
		}
		fmt.Fprintln(rest, sc.Text())
	}
	return writes, cpu
}
