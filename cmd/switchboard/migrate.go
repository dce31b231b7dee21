package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/switchboard-dev/switchboard/migrate"
)

func init() {
	register(command{name: "migrate", usage: "migrate up|down|status [--store DSN]: apply, revert or show store migrations",
		run: func(ctx context.Context, args []string) error { return runMigrate(ctx, args, os.Stdout, os.Stderr) }})
}

func runMigrate(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(errOut)
	opts := addStoreFlags(fs)
	yes := fs.Bool("yes", false, "confirm down (drops every table and its data)")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: switchboard migrate up|down|status [flags]")
		fs.PrintDefaults()
	}
	// The action may come before or after the flags.
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if action == "" && fs.NArg() > 0 {
		action = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return exitError{code: 2}
		}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	d, dsn, err := parseStoreDSN(opts.DSN())
	if err != nil {
		return err
	}
	switch action {
	case "up":
		if err := migrate.Up(ctx, d, dsn); err != nil {
			return err
		}
	case "down":
		if !*yes {
			return fmt.Errorf("migrate down drops every table of the %s store and its data: rerun with --yes", d)
		}
		if err := migrate.Down(ctx, d, dsn); err != nil {
			return err
		}
	case "status":
	case "":
		fs.Usage()
		return exitError{code: 2}
	default:
		return fmt.Errorf("unknown action %q: want up, down or status", action)
	}
	st, err := migrate.Status(ctx, d, dsn)
	if err != nil {
		return err
	}
	state := "current"
	switch {
	case st.Dirty:
		state = "DIRTY: a migration failed half-way; repair by hand"
	case st.Version < st.Latest:
		state = fmt.Sprintf("%d pending", st.Latest-st.Version)
	case st.Version > st.Latest:
		state = "newer than this binary"
	}
	fmt.Fprintf(out, "%s store: version %d of %d (%s)\n", d, st.Version, st.Latest, state)
	return nil
}
