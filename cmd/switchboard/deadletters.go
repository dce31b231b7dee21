package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/worker"
)

func init() {
	register(command{name: "deadletters", usage: "list or replay events that failed their last attempt (list | replay ID)", run: func(ctx context.Context, args []string) error {
		return runDeadLetters(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	}})
}

func runDeadLetters(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("deadletters", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: switchboard deadletters [flags] list | replay ID")
		fs.PrintDefaults()
	}
	redisAddr := addRedisFlag(fs)
	dataDir := fs.String("data-dir", datadir.Dir(getenv), "data directory of `switchboard up` (finds its private Redis and password) [$"+datadir.Env+"]")
	var shards int
	shardsFlag(fs, &shards)
	asJSON := fs.Bool("json", false, "list as JSON lines")
	// Flags may come before or after the verb and the ID:
	// `deadletters replay ID --redis X`.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitError{code: 2}
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitError{code: 2}
	}
	verb, rest := pos[0], pos[1:]
	if err := checkShards(shards); err != nil {
		return err
	}
	redisOpts, err := redisOptions(*redisAddr, *dataDir, getenv)
	if err != nil {
		return err
	}
	rdb := redisOpts.NewClient()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if unreachable, err := checkRedis(ctx, rdb, redisOpts); err != nil {
		return err
	} else if unreachable != nil {
		return unreachable
	}
	// Dead letters may be in the queues of earlier layouts too.
	lay, _, err := queue.ReadLayout(ctx, rdb, shards)
	if err != nil {
		return err
	}
	shards = max(shards, lay.SpanShards())
	switch verb {
	case "list":
		if len(rest) != 0 {
			return fmt.Errorf("list takes no arguments, got %v", rest)
		}
		dl, err := worker.DeadLetters(ctx, rdb, shards)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(out)
			for _, d := range dl {
				if err := enc.Encode(d); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSHARD\tPROVIDER\tORG\tINSTALLATION\tAGENT\tEVENT\tSEQ\tFAILED AT\tLAST ERROR")
		for _, d := range dl {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Shard, d.Provider, d.OrgID,
				d.InstallationID, d.AgentID, d.EventID, d.Seq, d.FailedAt.UTC().Format(time.RFC3339), d.LastError)
		}
		return tw.Flush()
	case "replay":
		if len(rest) != 1 {
			return fmt.Errorf("replay takes exactly one dead-letter ID, got %d arguments", len(rest))
		}
		if err := worker.Replay(ctx, rdb, shards, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(out, "replayed %s\n", rest[0])
		return nil
	default:
		return fmt.Errorf("unknown verb %q: want list or replay ID", verb)
	}
}
