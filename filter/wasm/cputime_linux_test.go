//go:build linux

package main

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used. Benchmarks
// report it beside wall time: on a shared machine wall time includes waiting
// for a core, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
