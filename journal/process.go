package journal

import "os"

// self is this process's host and pid, as runs and locks record them.
func self() (host string, pid int) {
	host, _ = os.Hostname()
	return host, os.Getpid()
}

// goneHere reports whether the process host/pid is known to be gone: it ran on this host and
// no process with its pid exists now. A holder on another host, or one recorded before hosts
// and pids were (pid 0), is never "gone" by this test; only its heartbeat can tell. A reused
// pid reads as alive, the safe side: the heartbeat then decides.
func goneHere(host string, pid int) bool {
	me, mypid := self()
	if pid <= 0 || host == "" || host != me || pid == mypid {
		return false
	}
	return !processExists(pid)
}
