package dynamodblocal

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid: true,
		// If our process dies without calling Stop (test binary killed by
		// `go test -timeout`, SIGKILL, panic in another goroutine), java gets
		// SIGTERM instead of lingering forever and holding its port. This is
		// tied to the OS thread that forked; the Go runtime does not retire
		// threads unless a goroutine exits while locked to one, so in practice
		// it fires when the process exits.
		Pdeathsig: syscall.SIGTERM,
	}
}

// listenerOwnedBy reports whether the TCP socket listening on port belongs to
// process pid or another member of its process group. Start uses it to tell
// our java apart from another server that took the port before java could
// bind it: a probe answered by that other server would otherwise look like
// success. Only when /proc is unusable altogether does it return true (trust
// the probe); an unreadable /proc/PID means java is gone, which is a "no".
func listenerOwnedBy(pid, port int) bool {
	if !procUsable() {
		return true
	}
	inodes := listeningSockets(pid, port)
	if len(inodes) == 0 {
		return false
	}
	if hasSocket(pid, inodes) {
		return true
	}
	// Java might be behind a launcher that forks (some version-manager
	// shims do), so look at the rest of the group too.
	for _, p := range groupMembers(pid) {
		if hasSocket(p, inodes) {
			return true
		}
	}
	return false
}

// procUsable reports whether this process can read its own socket table and
// fds through /proc (not the case without a mounted /proc, e.g. some sandboxes).
var procUsable = sync.OnceValue(func() bool {
	_, errNet := os.Stat("/proc/self/net/tcp")
	_, errFd := os.ReadDir("/proc/self/fd")
	return errNet == nil && errFd == nil
})

// listeningSockets returns the "socket:[inode]" names of sockets in LISTEN
// state on port, as seen from pid's network namespace.
func listeningSockets(pid, port int) map[string]bool {
	inodes := map[string]bool{}
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + name)
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] { // first line is a header
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A = TCP_LISTEN
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	return inodes
}

// hasSocket reports whether pid has one of the sockets open. A process that
// has exited (or is a zombie) has no fds, so this is false for it.
func hasSocket(pid int, inodes map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if link, err := os.Readlink(dir + e.Name()); err == nil && inodes[link] {
			return true
		}
	}
	return false
}

// groupMembers lists the processes whose process group is pgid, other than
// the leader itself.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ..."; comm may contain spaces and
		// parentheses, so split after the last ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
