package main

import (
	"net"
	"syscall"

	"golang.org/x/net/netutil"
)

// Connection limits of the public listeners (edge, ingest, API).
const (
	minConnLimit = 64
	maxConnLimit = 16384
)

// connLimit is how many connections one listener keeps open at once: a
// quarter of the process's descriptor limit (RLIMIT_NOFILE, soft), so the
// listener's connections, the process's own outbound connections (ingest,
// Redis, store) and its files stay inside the limit together. Past it a new
// connection waits in the kernel's backlog until one closes, instead of
// accept failing with EMFILE and every hop after it erroring.
func connLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur == 0 {
		return 1024
	}
	n := r.Cur / 4
	switch {
	case n < minConnLimit:
		return minConnLimit
	case n > maxConnLimit:
		return maxConnLimit
	}
	return int(n)
}

// limitConns makes ln hold at most n connections open at once.
func limitConns(ln net.Listener, n int) net.Listener { return netutil.LimitListener(ln, n) }
