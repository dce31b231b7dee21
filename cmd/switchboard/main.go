// Command switchboard is the single binary of the runtime: each part of the
// system is a subcommand (see `switchboard help`).
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/switchboard-dev/switchboard/cli"
)

// command is one subcommand. Each lives in its own file and registers itself
// in init, so adding a part of the system does not touch this file.
type command struct {
	name  string
	usage string // one line for `switchboard help`
	run   func(ctx context.Context, args []string) error
	// selfHelp: run prints its own complete help to stdout for --help
	// (the commands of package cli). Others get a header, and their flag
	// package output is captured and shown on stdout.
	selfHelp bool
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate subcommand " + c.name)
	}
	commands[c.name] = c
}

// exitError lets a subcommand choose its exit status (e.g. verify exits 1 on
// a reject) without printing an error line.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: switchboard <command> [flags]\n\ncommands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].usage)
	}
	fmt.Fprintln(w, "\n'switchboard help <command>' or 'switchboard <command> --help' shows a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startCPUProfile(os.Args[1:])
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}

// runMain runs the command line args and returns the exit status. Help and
// usage mistakes are written to stdout and stderr; the commands themselves
// write to the process's own.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				return unknownCommand(args[1], stderr)
			}
			commandHelp(ctx, c, stdout)
			return 0
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		return unknownCommand(args[0], stderr)
	}
	if wantsHelp(args[1:]) {
		commandHelp(ctx, c, stdout)
		return 0
	}
	err := c.run(ctx, args[1:])
	if err == nil {
		return 0
	}
	switch e := err.(type) {
	case exitError:
		return e.code
	case cli.ExitError:
		return e.Code
	}
	fmt.Fprintf(stderr, "switchboard %s: %v\n", c.name, err)
	return 1
}

// unknownCommand says so, with the nearest command when one is close.
func unknownCommand(name string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "switchboard: unknown command %q\n", name)
	if s := cli.Suggest(name, commandNames()); s != "" {
		fmt.Fprintf(stderr, "\nDid you mean this?\n\t%s\n", s)
	}
	fmt.Fprintln(stderr, "\nRun 'switchboard help' for the list of commands.")
	return 2
}

// wantsHelp: the arguments ask for help (before any "--"). A bare "help"
// counts only as the first argument (it may be a value elsewhere).
func wantsHelp(args []string) bool {
	for i, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		case "help":
			if i == 0 {
				return true
			}
		}
	}
	return false
}

var bareUsageLine = regexp.MustCompile(`^Usage of [^ ]+:$`)

// commandHelp prints c's help on stdout: its one-line description and its
// flags. Commands that print their own help do; for the others their flag
// package output for -h is captured (it goes to their stderr) and shown
// after the description, without Go's bare "Usage of X:" line.
func commandHelp(ctx context.Context, c command, stdout io.Writer) {
	if c.selfHelp {
		_ = withStdio(stdout, func() error { return c.run(ctx, []string{"--help"}) })
		return
	}
	fmt.Fprintf(stdout, "switchboard %s: %s\n\n", c.name, c.usage)
	var buf bytes.Buffer
	_ = withStdio(&buf, func() error { return c.run(ctx, []string{"-h"}) }) // -h returns flag.ErrHelp-like errors: help is all it did
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		line := sc.Text()
		if bareUsageLine.MatchString(line) {
			fmt.Fprintln(stdout, "flags:")
			continue
		}
		if strings.HasPrefix(line, "switchboard "+c.name+": unknown action") || strings.HasPrefix(line, "flag provided but not defined") {
			continue
		}
		fmt.Fprintln(stdout, line)
	}
}

// withStdio runs fn with the process's stdout and stderr both sent to w.
func withStdio(w io.Writer, fn func() error) error {
	r, pw, err := os.Pipe()
	if err != nil {
		return fn()
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = pw, pw
	done := make(chan struct{})
	go func() { io.Copy(w, r); close(done) }()
	ferr := fn()
	os.Stdout, os.Stderr = oldOut, oldErr
	pw.Close()
	<-done
	r.Close()
	return ferr
}
