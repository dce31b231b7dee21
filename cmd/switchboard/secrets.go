package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/switchboard-dev/switchboard/secrets"
)

func init() {
	register(command{name: "secrets", usage: "secrets rekey [--store DSN]: re-encrypt every secret under the primary master key",
		run: func(ctx context.Context, args []string) error { return runSecrets(ctx, args, os.Stdout, os.Stderr) }})
}

func runSecrets(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("secrets rekey", flag.ContinueOnError)
	fs.SetOutput(errOut)
	opts := addStoreFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: switchboard secrets rekey [flags]\n\n"+
			"Re-wraps every secret that is not under the primary (first) master key. Safe to\n"+
			"run while the service is up (old and new keys both open secrets during the run)\n"+
			"and to re-run. Master keys come from "+secrets.EnvKeys+", "+secrets.EnvKeyFile+",\n"+
			"or <data-dir>/master.keys.")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "rekey" {
		fs.Usage()
		if len(args) == 0 {
			return exitError{code: 2}
		}
		return fmt.Errorf("unknown action %q: want rekey", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	// Never generate a key here: a new key could not open anything stored.
	keys, err := loadKeyringFrom(opts.DataDir, false)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, opts.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	every := 1
	n, err := secrets.Rekey(ctx, st, keys, func(done, total int) {
		if every == 1 && total > 100 {
			every = total / 100
		}
		if done%every == 0 || done == total {
			fmt.Fprintf(out, "rekeyed %d/%d\n", done, total)
		}
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(out, "every secret is already under primary key %s\n", keys.Primary())
		return nil
	}
	fmt.Fprintf(out, "done: %d secrets now under primary key %s\n", n, keys.Primary())
	return nil
}
