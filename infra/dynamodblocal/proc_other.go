//go:build unix && !linux

package dynamodblocal

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// listenerOwnedBy cannot cheaply check socket ownership outside Linux; trust
// the HTTP probe (a port clash then shows up as java exiting right after).
func listenerOwnedBy(pid, port int) bool { return true }
