package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole process to
// $SWITCHBOARD_CPUPROFILE_DIR/<command>-<pid>.pprof when that variable is
// set (the load ladder's profiles: make loadtest-ladder-profile); the
// returned func stops and closes it. Nothing is served: the profile is a
// file in a directory the operator chose.
func startCPUProfile(args []string) func() {
	dir := os.Getenv("SWITCHBOARD_CPUPROFILE_DIR")
	if dir == "" || len(args) == 0 {
		return func() {}
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", filepath.Base(args[0]), os.Getpid()))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
