package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/switchboard-dev/switchboard/client"
)

const explainSummary = "explain how an event would be routed: which bindings match, which win and why, session keys, rollout stage (nothing is enqueued)"

func init() {
	add(Command{Name: "explain", Summary: explainSummary, Run: runExplain})
}

func runExplain(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("explain", env)
	inst := fs.String("installation", "", "the installation (required)")
	payload := fs.String("payload-file", "", "a provider payload as the provider sends it (JSON, or a form body with --content-type); - reads stdin")
	ctype := fs.String("content-type", "", "the payload's content type when it is not JSON (e.g. application/x-www-form-urlencoded for a Slack slash command)")
	var ev client.SimulateEvent
	fs.StringVar(&ev.Account, "account", "", "described event: the provider-side account (team, business account, guild)")
	fs.StringVar(&ev.Channel, "channel", "", "described event: channel / chat id")
	fs.StringVar(&ev.User, "user", "", "described event: sender id")
	fs.StringVar(&ev.Thread, "thread", "", "described event: thread id")
	fs.StringVar(&ev.Text, "text", "", "described event: message text (@words in it are mentions)")
	mention := fs.String("mention", "", "described event: a mention keyword, e.g. @support")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		fmt.Fprintf(env.Stdout, "%s\n\nusage: switchboard explain --installation ID (--payload-file FILE | --channel C --user U --text T …) [flags]\n\nflags:\n", explainSummary)
		printFlags(env.Stdout, fs)
		return nil
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		return usageErr(env, "explain", "takes no arguments, got %q", pos)
	}
	if *inst == "" {
		return usageErr(env, "explain", "--installation is required")
	}
	req := client.SimulateRequest{InstallationID: *inst, ContentType: *ctype}
	if *payload != "" {
		var b []byte
		if *payload == "-" {
			b, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		} else {
			b, err = os.ReadFile(*payload)
		}
		if err != nil {
			return fmt.Errorf("--payload-file: %w", err)
		}
		if json.Valid(b) && *ctype == "" {
			req.Payload = json.RawMessage(b)
		} else {
			s, _ := json.Marshal(string(b)) // a form body travels as a JSON string
			req.Payload = s
			if req.ContentType == "" {
				req.ContentType = "application/x-www-form-urlencoded"
			}
		}
	} else {
		if *mention != "" {
			ev.Mentions = []string{*mention}
		}
		req.Event = &ev
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	sim, err := cl.Simulate(ctx, req)
	if err != nil {
		return err
	}
	if cn.json {
		return printResult(env, true, result{value: sim})
	}
	writeExplanation(env.Stdout, sim)
	return nil
}

func writeExplanation(w io.Writer, sim client.Simulation) {
	fmt.Fprintf(w, "installation %s (%s, organisation %s)\n", sim.InstallationID, sim.Provider, sim.OrgID)
	verdict := "lets it through"
	if !sim.Stage.LetsThrough {
		verdict = "holds it back"
	}
	fmt.Fprintf(w, "rollout stage %s: %s (%s)\n", sim.Stage.Stage, verdict, sim.Stage.Reason)
	if sim.Handshake {
		fmt.Fprintln(w, "the payload is a handshake: the edge and ingest answer it, nothing is routed")
	}
	if sim.Ignored != "" {
		fmt.Fprintf(w, "no event in the payload: %s\n", sim.Ignored)
	}
	for n, e := range sim.Events {
		fmt.Fprintf(w, "\nevent %d: %s in %s from %s", n+1, dash(e.Kind), dash(e.Conversation), dash(e.Sender))
		if e.Thread != "" {
			fmt.Fprintf(w, " (thread %s)", e.Thread)
		}
		if e.Text != "" {
			fmt.Fprintf(w, " %q", e.Text)
		}
		fmt.Fprintln(w)
		if e.Refusal != "" {
			fmt.Fprintf(w, "  ingest would refuse it: %s\n", e.Refusal)
		}
		if len(e.Bindings) == 0 {
			fmt.Fprintln(w, "  no live binding on this installation")
		} else {
			fmt.Fprintln(w, "  bindings, in rank order (specificity, priority, id):")
		}
		for _, b := range e.Bindings {
			mark, won := "✗", ""
			if b.Matched {
				mark = "✓"
			}
			if b.Won {
				won = "  WINS"
			}
			fmt.Fprintf(w, "    %s %s  %s → %s persona %s  specificity %d priority %d%s: %s\n", mark, b.ID, selectorCell(b.Selector),
				b.AgentID, dash(b.Persona), b.Specificity, b.Priority, won, b.Why)
		}
		for _, tg := range e.Targets {
			fmt.Fprintf(w, "  → delivered to %s as %s, session key %s (%s)\n", tg.AgentID, dash(tg.Persona), tg.SessionKey, tg.Why)
		}
		fmt.Fprintf(w, "  outcome: %s\n", e.Outcome)
	}
	if !sim.Enqueued {
		fmt.Fprintln(w, "\n(a simulation: nothing was enqueued or written)")
	}
}
