package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/egress"
	"github.com/switchboard-dev/switchboard/metrics"
	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/github"
	"github.com/switchboard-dev/switchboard/provider/instagram"
	"github.com/switchboard-dev/switchboard/provider/line"
	"github.com/switchboard-dev/switchboard/provider/messenger"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/provider/standardwebhooks"
	"github.com/switchboard-dev/switchboard/provider/telegram"
	"github.com/switchboard-dev/switchboard/provider/twilio"
	"github.com/switchboard-dev/switchboard/provider/whatsapp"
	"github.com/switchboard-dev/switchboard/worker"
)

func init() {
	register(command{name: "worker", usage: "consume shard queues: deliver to agents, send replies", run: runWorker})
}

func runWorker(ctx context.Context, args []string) error {
	return workerMain(ctx, args, os.Getenv, os.Stderr)
}

// workerMain runs a worker pool; logs go to errOut (up prefixes them per part).
func workerMain(ctx context.Context, args []string, getenv func(string) string, errOut io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(errOut)
	so := addStoreFlags(fs)
	redisAddr := addRedisFlag(fs)
	var shards int
	shardsFlag(fs, &shards)
	id := fs.String("id", "", "worker id (default hostname-pid); unique per running worker")
	lease := fs.Duration("lease", 15*time.Second, "shard lease time-to-live: a dead worker's shards are taken over after it")
	attempts := fs.Int("attempts", 8, "delivery attempts per event before it becomes a dead letter")
	shardConc := fs.Int("shard-concurrency", 4, "tasks of one shard processed at once (an organisation holds at most all but one of them; order per session is kept)")
	orgInFlight := fs.Int("org-max-in-flight", 16, "deliveries of one organisation in flight on this worker when its limits set no max_in_flight (PUT /v1/orgs/{id}/limits); 0: no default limit")
	agentTimeout := fs.Duration("agent-timeout", 30*time.Second, "how long one delivery to an agent may take before it fails and is retried")
	slackAPI := fs.String("slack-api", slack.DefaultAPIBase, "Slack Web API origin")
	telegramAPI := fs.String("telegram-api", telegram.DefaultAPIBase, "Telegram Bot API origin")
	whatsappAPI := fs.String("whatsapp-api", whatsapp.DefaultAPIBase, "Graph API origin (WhatsApp Cloud)")
	whatsappVer := fs.String("whatsapp-api-version", whatsapp.DefaultAPIVersion, "Graph API version")
	discordAPI := fs.String("discord-api", discord.DefaultAPIBase, "Discord API origin")
	twilioAPI := fs.String("twilio-api", twilio.DefaultAPIBase, "Twilio REST API origin")
	lineAPI := fs.String("line-api", line.DefaultAPIBase, "LINE Messaging API origin")
	githubAPI := fs.String("github-api", github.DefaultAPIBase, "GitHub REST API origin")
	messengerAPI := fs.String("messenger-api", messenger.DefaultAPIBase, "Graph API origin (Messenger Send API)")
	instagramAPI := fs.String("instagram-api", instagram.DefaultAPIBase, "Graph API origin (Instagram messaging Send API)")
	metaVer := fs.String("meta-api-version", messenger.DefaultAPIVersion, "Graph API version of the Messenger and Instagram Send API")
	metricsAddr := addMetricsFlag(fs, defaultWorkerMetrics)
	allowPrivate := fs.Bool("allow-private-agent-urls", false, "let agent URLs reach loopback, private and link-local addresses (local development; by default an org's agent URL may reach only public addresses, never this platform's own services)")
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := checkShards(shards); err != nil {
		return err
	}
	if *shardConc < 1 || *orgInFlight < 0 || *agentTimeout <= 0 {
		return fmt.Errorf("--shard-concurrency must be >= 1, --org-max-in-flight >= 0 and --agent-timeout > 0")
	}
	if *orgInFlight == 0 {
		*orgInFlight = -1 // worker.Config: < 0 is no default limit
	}
	redisOpts, err := redisOptions(*redisAddr, so.DataDir, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(errOut, nil))
	keys, err := loadKeyring(so.DataDir)
	if err != nil {
		return err
	}
	prov, err := readProvenanceKeys(getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, so.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	hc := &http.Client{Timeout: 30 * time.Second}
	// Agent deliveries are measured (delivery latency, agent answer time);
	// the shard queues' depth, retries and dead letters are read from Redis.
	// Agent URLs are chosen by tenants: connections go through the egress policy.
	agentHC := &http.Client{Timeout: *agentTimeout, Transport: metrics.AgentTransport(egress.Transport(*allowPrivate), prometheus.DefaultRegisterer)}
	// One connection for the pool, its Asynq servers and the queue metrics,
	// so the password and TLS apply to all of them.
	rdb := redisOpts.NewClient()
	defer rdb.Close()
	if unreachable, err := checkRedis(ctx, rdb, redisOpts); err != nil {
		return err
	} else if unreachable != nil {
		log.Warn("redis not reachable yet; shards are taken once it is", "err", unreachable)
	} else {
		logRecordedLayout(ctx, rdb, shards, log)
	}
	if err := prometheus.DefaultRegisterer.Register(metrics.NewQueueCollector(rdb, shards, log)); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
	}
	metricsErr, err := startMetrics(ctx, *metricsAddr, os.Stdout)
	if err != nil {
		return err
	}
	p, err := worker.New(worker.Config{
		Redis: rdb, Shards: shards, ID: *id,
		Store: st, Keyring: keys, Provenance: prov, Metrics: prometheus.DefaultRegisterer, Logger: log, HTTP: agentHC,
		LeaseTTL: *lease, Attempts: *attempts, ShardConcurrency: *shardConc, OrgMaxInFlight: *orgInFlight,
		Senders: map[string]worker.TextSender{
			"slack":     slack.NewSender(*slackAPI, hc),
			"telegram":  telegram.NewSender(*telegramAPI, hc),
			"whatsapp":  whatsapp.NewSender(*whatsappAPI, *whatsappVer, hc),
			"discord":   discord.NewSender(*discordAPI, hc),
			"twilio":    twilio.NewSender(*twilioAPI, hc),
			"line":      line.NewSender(*lineAPI, hc),
			"github":    github.NewSender(*githubAPI, hc),
			"messenger": messenger.NewSender(*messengerAPI, *metaVer, hc),
			"instagram": instagram.NewSender(*instagramAPI, *metaVer, hc),
			// reply_url is the tenant's choice: it goes through the egress policy.
			"standardwebhooks": standardwebhooks.NewSender(&http.Client{Timeout: 30 * time.Second, Transport: egress.Transport(*allowPrivate)}),
		},
	})
	if err != nil {
		return err
	}
	log.Info("worker starting", "id", p.ID(), "redis", redisOpts.Display(), "shards", shards)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var merr error
	go func() {
		if err := <-metricsErr; err != nil {
			merr = err
			cancel()
		}
	}()
	err = p.Run(ctx) // returns after a clean stop (SIGINT/SIGTERM): leases released
	return errors.Join(err, merr)
}
