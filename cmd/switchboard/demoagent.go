package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/demoagent"
)

func init() {
	register(command{name: "demo-agent", usage: "run a demo agent that verifies, logs and answers deliveries", run: func(ctx context.Context, args []string) error {
		return runDemoAgent(ctx, args, os.Stdout, os.Stderr)
	}})
}

const envAgentSecret = "SWITCHBOARD_AGENT_SECRET"

func runDemoAgent(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("demo-agent", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", "127.0.0.1:9000", "address to serve deliveries on")
	secret := fs.String("secret", "", "the agent's whsec_ signing secret (from the API's agent creation answer); or env "+envAgentSecret+"; comma-separate two during a rotation")
	secretFile := fs.String("secret-file", "", "read the signing secret from this file, or generate one into it (0600) when it does not exist (`switchboard connect --agent-secret-file` uses the same file)")
	reply := fs.Bool("reply", true, "answer each event with a reply (sent back through the provider by the worker)")
	record := fs.Bool("record", false, "serve what was received at GET /received (for tests; shows message texts)")
	jsonLogs := fs.Bool("json", false, "log JSON lines instead of text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	s := *secret
	if s == "" && *secretFile != "" {
		v, created, err := datadir.LoadOrCreateAgentSecret(*secretFile)
		if err != nil {
			return fmt.Errorf("--secret-file: %w", err)
		}
		if created {
			fmt.Fprintf(out, "signing secret generated in %s (give the agent it: switchboard connect … --agent-secret-file %s)\n", *secretFile, *secretFile)
		}
		s = v
	}
	if s == "" {
		s = os.Getenv(envAgentSecret)
	}
	if s == "" {
		return errors.New("no signing secret: pass --secret-file FILE, --secret whsec_… or set " + envAgentSecret + " (the agent's signing_secret from POST /v1/agents)")
	}
	var h slog.Handler = slog.NewTextHandler(errOut, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(errOut, nil)
	}
	log := slog.New(h).With("component", "demo-agent")
	agent, err := demoagent.New(demoagent.Config{Secrets: strings.Split(s, ","), Reply: *reply, Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	if *record {
		mux.Handle("GET /received", agent.ReceivedHandler())
	}
	mux.Handle("/", agent)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("--listen %s: address already in use (another demo agent?); stop it or pick another address with --listen", *listen)
		}
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	fmt.Fprintf(out, "demo agent listening on http://%s/ (use it as the agent url)\n", ln.Addr())
	return serveHTTP(ctx, ln, mux, log)
}
