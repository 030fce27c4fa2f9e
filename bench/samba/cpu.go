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
// one process per forest (-M single), so this is the whole server's work. Unlike wall time it
// leaves out the time the server waits for the client, so it shows what each tool costs the
// server; it still moves with the machine's load (another busy core raised it by about 12%).
func serverCPU() time.Duration {
	b, err := os.ReadFile(".testdirs/target/run/testdirs.pid")
	if err != nil {
		return 0
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
	if err != nil {
		return 0
	}
	d, _ := cpuOf(string(stat))
	return d
}

// cpuOf returns utime+stime from the text of /proc/PID/stat. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself, so fields are counted after the last
// closing one.
func cpuOf(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseInt(f[11], 10, 64) // field 14
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64) // field 15
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	const ticks = 100 // USER_HZ: 100 on every Linux architecture Go supports
	return time.Duration(utime+stime) * time.Second / ticks, nil
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
