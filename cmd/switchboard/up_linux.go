//go:build linux

package main

import "syscall"

// redisProcAttr puts redis-server in its own process group (the terminal's
// Ctrl-C reaches up, which stops redis last) and has the kernel stop it if up
// dies without cleaning up, so no orphan keeps the port.
func redisProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
