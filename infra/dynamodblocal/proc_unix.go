//go:build unix

package dynamodblocal

import "syscall"

// killGroup signals the process group led by pid (java was started with
// Setpgid, so its pgid is its pid): SIGKILL when force, else SIGTERM. Errors
// are ignored: ESRCH just means everything is already gone.
func killGroup(pid int, force bool) {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-pid, sig)
}
