package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/queue"
)

func init() {
	register(command{name: "queue", usage: "the shard queues' layout: show it, or change the shard count under load (layout | reshard --to N)", run: func(ctx context.Context, args []string) error {
		return runQueue(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	}})
}

func runQueue(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("queue", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: switchboard queue [flags] layout | reshard --to N")
		fmt.Fprintln(errOut, "\n  layout    the recorded shard layout (epoch, shard count, a reshard under way, earlier layouts)")
		fmt.Fprintln(errOut, "  reshard   change the shard count while ingest and workers run: seal the old shards, open the new,")
		fmt.Fprintln(errOut, "            wait until moved sessions' tasks have left the old queues, record the layout stable")
		fmt.Fprintln(errOut, "            (docs/scaling.md, \"Resharding\"); run it again to resume one that stopped")
		fmt.Fprintln(errOut)
		fs.PrintDefaults()
	}
	redisAddr := addRedisFlag(fs)
	dataDir := fs.String("data-dir", datadir.Dir(getenv), "data directory of `switchboard up` (finds its private Redis and password) [$"+datadir.Env+"]")
	var shards int
	fs.IntVar(&shards, "shards", queue.DefaultShards, "the shard count ingest and workers were started with (--shards), used while no layout is recorded")
	to := fs.Int("to", 0, "reshard: the new shard count")
	dryRun := fs.Bool("dry-run", false, "reshard: show the plan and how many queued tasks belong to sessions that would move; change nothing")
	noWait := fs.Bool("no-wait", false, "reshard: return once the new layout takes tasks, before the old queues drain (run it again to finish)")
	poll := fs.Duration("poll", time.Second, "reshard: pause between checks of the old queues")
	asJSON := fs.Bool("json", false, "JSON output (reshard: one JSON line per step)")
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
	if len(pos) != 1 || (pos[0] != "layout" && pos[0] != "reshard") {
		fs.Usage()
		return exitError{code: 2}
	}
	if err := checkShards(shards); err != nil {
		return err
	}
	if pos[0] == "reshard" && *to == 0 {
		return errors.New("reshard needs --to N, the new shard count")
	}
	if *poll <= 0 {
		return fmt.Errorf("--poll must be positive, got %s", *poll)
	}
	conn, err := redisOptions(*redisAddr, *dataDir, getenv)
	if err != nil {
		return err
	}
	rdb := conn.NewClient()
	defer rdb.Close()
	if unreachable, err := checkRedis(ctx, rdb, conn); err != nil {
		return err
	} else if unreachable != nil {
		return unreachable
	}
	if pos[0] == "layout" {
		return showLayout(ctx, rdb, shards, *asJSON, out)
	}
	return reshardCommand(ctx, rdb, *to, queue.ReshardOptions{Shards: shards, DryRun: *dryRun, NoWait: *noWait, Poll: *poll}, *asJSON, out)
}

func showLayout(ctx context.Context, rdb redis.UniversalClient, shards int, asJSON bool, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l, raw, err := queue.ReadLayout(ctx, rdb, shards)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(struct {
			queue.Layout
			Recorded    bool `json:"recorded"`
			LeaseShards int  `json:"lease_shards"`
		}{l, raw != "", l.LeaseShards()})
	}
	src := "recorded"
	if raw == "" {
		src = "none recorded: the --shards count"
	}
	fmt.Fprintf(out, "layout: epoch %d, %d shards, %s (%s)\n", l.Epoch, l.Shards, l.State, src)
	if l.State == queue.Moving {
		fmt.Fprintf(out, "reshard under way since %s: from %d shards (epoch %d); workers consume %d shards until it finishes\n",
			l.StartedAt.Format(time.RFC3339), l.From.Shards, l.From.Epoch, l.LeaseShards())
	}
	for _, p := range l.History {
		fmt.Fprintf(out, "earlier: epoch %d, %d shards, ended %s (its shards are checked for duplicates within the dedup horizon)\n",
			p.Epoch, p.Shards, p.EndedAt.Format(time.RFC3339))
	}
	return nil
}

func reshardCommand(ctx context.Context, rdb redis.UniversalClient, to int, o queue.ReshardOptions, asJSON bool, out io.Writer) error {
	enc := json.NewEncoder(out)
	last := -1
	o.Progress = func(p queue.ReshardProgress) {
		if asJSON {
			if p.Phase != "draining" || p.Remaining != last {
				_ = enc.Encode(p)
			}
			if p.Phase == "draining" {
				last = p.Remaining
			}
			return
		}
		switch p.Phase {
		case "planned":
			verb := "reshard"
			if o.DryRun {
				verb = "dry run"
			} else if p.Resume {
				verb = "resuming reshard"
			}
			fmt.Fprintf(out, "%s: %d shards (epoch %d) → %d shards (epoch %d)\n", verb, p.From, p.Epoch-1, p.To, p.Epoch)
			if o.DryRun {
				fmt.Fprintf(out, "%d queued task(s) belong to sessions that would move%s; nothing changed\n", p.Remaining, byQueue(p.ByShard))
			}
		case "sealed":
			fmt.Fprintf(out, "sealed: the %d old shards refuse tasks of epoch %d\n", p.From, p.Epoch-1)
		case "opened":
			fmt.Fprintf(out, "opened: the %d shards take tasks of epoch %d\n", p.To, p.Epoch)
			if o.NoWait {
				fmt.Fprintf(out, "not waiting for the drain: run `switchboard queue reshard --to %d` again to finish\n", p.To)
			}
		case "draining":
			if p.Remaining != last {
				fmt.Fprintf(out, "draining: %d task(s) of moved sessions left in the old queues%s\n", p.Remaining, byQueue(p.ByShard))
			}
			last = p.Remaining
		case "finished":
			fmt.Fprintf(out, "finished: %d shards (epoch %d), stable\n", p.To, p.Epoch)
			if p.Removed > 0 {
				fmt.Fprintf(out, "deleted %d completed task(s) of the queues the layout removed\n", p.Removed)
			}
		}
	}
	_, err := queue.Reshard(ctx, rdb, to, o)
	var ref *queue.Refusal
	if errors.As(err, &ref) && asJSON {
		_ = enc.Encode(map[string]string{"phase": "refused", "reason": string(ref.Reason), "detail": ref.Detail})
	}
	return err
}

// byQueue lists the non-zero counts per shard queue, " (sb-shard-003: 5, …)".
func byQueue(by map[int]int) string {
	var shards []int
	for s, n := range by {
		if n > 0 {
			shards = append(shards, s)
		}
	}
	if len(shards) == 0 {
		return ""
	}
	sort.Ints(shards)
	parts := make([]string, 0, len(shards))
	for i, s := range shards {
		if i == 8 {
			parts = append(parts, fmt.Sprintf("… %d more", len(shards)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s: %d", queue.QueueName(s), by[s]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// logRecordedLayout says, at the start of ingest or a worker, when a layout
// recorded by a reshard overrides the --shards it was given.
func logRecordedLayout(ctx context.Context, rdb redis.UniversalClient, shards int, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, raw, err := queue.ReadLayout(ctx, rdb, shards)
	switch {
	case err != nil:
		log.Warn("read shard layout", "err", err)
	case raw != "" && (l.Shards != shards || l.State != queue.Stable):
		log.Info("the shard layout recorded in Redis applies, not --shards", "shards_flag", shards, "epoch", l.Epoch, "shards", l.Shards, "state", string(l.State))
	}
}
