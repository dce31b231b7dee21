package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/cli"
	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/testevent"
)

func init() {
	register(command{name: "send-test", usage: "sign a test event for a provider and send it to the edge", run: func(ctx context.Context, args []string) error {
		return sendTest(ctx, args, os.Stdout, os.Stderr)
	}})
}

const defaultEdgeURL = "http://127.0.0.1:8443"

func sendTest(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("send-test", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: switchboard send-test --provider P (--ingress-id ID | --url URL) (--secret S | --secret-file F | --private-key K) [flags]")
		fmt.Fprintln(errOut, "\nSigns a realistic test event the way the provider would and POSTs it to the edge.")
		fmt.Fprintln(errOut, "Exit status 0 when the edge accepts it (with --forge: when the edge refuses it).")
		fs.PrintDefaults()
	}
	edge := fs.String("edge", "", "base URL of the edge (default: the edge `switchboard up` recorded in the data directory, else "+defaultEdgeURL+")")
	dataDir := fs.String("data-dir", datadir.Dir(os.Getenv), "data directory of `switchboard up`: its edge address, and the API and admin token to look the installation up with [$"+datadir.Env+"]")
	prov := fs.String("provider", "", "provider: slack, telegram, whatsapp, discord, messenger, instagram, twilio, line, standardwebhooks, github")
	ingressID := fs.String("ingress-id", "", "the installation's ingress id (from the API's ingress_id); default: the installation of --provider whose external id is --account, looked up through the API")
	fullURL := fs.String("url", "", "full webhook URL instead of --edge + --ingress-id (the API's webhook_path on the edge)")
	secret := fs.String("secret", "", "the installation's signing secret (Slack signing secret, Meta app secret, Telegram secret token, whsec_ …)")
	secretFile := fs.String("secret-file", "", "read the secret from this file")
	privKey := fs.String("private-key", "", "Discord: hex Ed25519 seed (32 bytes) or private key (64 bytes), or a file holding it")
	text := fs.String("text", "", "message text (default: a greeting)")
	forge := fs.Bool("forge", false, "sign with a wrong secret to see the edge refuse it")
	bodyFile := fs.String("body", "", "send this file as the payload instead of a generated one")
	account := fs.String("account", "", "provider-side tenant id in the body: Slack team id, WhatsApp phone_number_id, Discord guild id (must be the installation's external_id)")
	appID := fs.String("app-id", "", "provider app id in the body (Slack api_app_id, Discord application_id)")
	channel := fs.String("channel", "", "channel / chat id")
	user := fs.String("user", "", "sender id")
	eventID := fs.String("event-id", "", "provider event id (default: random; repeat one to see deduplication)")
	age := fs.Duration("age", 0, "sign as if sent this long ago (e.g. 10m shows a stale_timestamp refusal)")
	timeout := fs.Duration("timeout", 10*time.Second, "HTTP timeout")
	waitConfig := fs.Duration("wait-config", 5*time.Second, "while the edge answers unknown_ingress or no_config (a new installation reaches it over xDS within about a second), resend for up to this long; 0: answer at once")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *prov == "" {
		return errors.New("--provider is required")
	}
	if *edge == "" {
		*edge = defaultEdgeURL
		if rt, err := datadir.ReadRuntime(*dataDir); err == nil && rt.Edge != "" {
			*edge = rt.Edge
		}
	}
	// The API (as the CLI finds it) says whether an ingress id exists, and
	// which one an installation has.
	api, apiErr := cli.APIClient(os.Getenv, *dataDir)
	target := *fullURL
	if target == "" {
		if *ingressID == "" {
			if *account == "" {
				return errors.New("--ingress-id, --url or --account (the installation's external id, looked up through the API) is required")
			}
			if apiErr != nil {
				return fmt.Errorf("--account %s: cannot look the installation up (%v); pass --ingress-id", *account, apiErr)
			}
			id, err := ingressOfAccount(ctx, api, *prov, *account)
			if err != nil {
				return err
			}
			*ingressID = id
		}
		target = strings.TrimRight(*edge, "/") + "/v1/hooks/" + url.PathEscape(*prov) + "/" + url.PathEscape(*ingressID)
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook URL %q: want an absolute http(s) URL", target)
	}

	var cred testevent.Credentials
	switch {
	case *privKey != "":
		k, err := testevent.ParsePrivateKey(*privKey)
		if err != nil {
			return fmt.Errorf("--private-key: %w", err)
		}
		cred.PrivateKey = k
	case *secretFile != "":
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("--secret-file: %w", err)
		}
		cred.Secret = strings.TrimSpace(string(b))
	default:
		cred.Secret = *secret
		if cred.Secret == "" {
			cred.Secret = os.Getenv("SWITCHBOARD_TEST_SECRET")
		}
	}
	if *forge {
		cred = testevent.Forge(*prov, cred)
	}

	now := time.Now().Add(-*age)
	ev := testevent.Event{Provider: *prov, Account: *account, AppID: *appID, Channel: *channel, User: *user,
		Text: *text, EventID: *eventID, Now: now}.Defaults()
	var body []byte
	var ct string
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return fmt.Errorf("--body: %w", err)
		}
		body, ct = b, "application/json"
		if !json.Valid(b) {
			ct = "application/x-www-form-urlencoded"
		}
	} else {
		var err error
		if body, ct, err = testevent.Body(ev); err != nil {
			return err
		}
	}
	signed, err := testevent.Sign(*prov, target, body, ct, cred, now)
	if err != nil {
		return err
	}
	what := "signed"
	if *forge {
		what = "FORGED (signed with a wrong secret)"
	}
	fmt.Fprintf(out, "POST %s\n  %s %s event", signed.URL, what, *prov)
	if *bodyFile == "" {
		fmt.Fprintf(out, " event_id=%s text=%q", ev.EventID, ev.Text)
	} else {
		fmt.Fprintf(out, " from %s", *bodyFile)
	}
	fmt.Fprintf(out, " (%d bytes)\n", len(signed.Body))

	hc := &http.Client{Timeout: *timeout}
	post := func() (status string, code int, answer []byte, err error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, signed.URL, bytes.NewReader(signed.Body))
		if err != nil {
			return "", 0, nil, err
		}
		for _, h := range signed.Headers {
			req.Header.Set(h[0], h[1])
		}
		req.Header.Set("User-Agent", "switchboard-send-test/1")
		resp, err := hc.Do(req)
		if err != nil {
			return "", 0, nil, fmt.Errorf("send to the edge: %w (is `switchboard up` or `switchboard edge` running?)", err)
		}
		defer resp.Body.Close()
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp.Status, resp.StatusCode, answer, nil
	}
	// A webhook verifies only once its installation reached the edge; the
	// same signed request is resent (a provider would retry it too) while
	// the edge does not know the ingress yet, for a bounded time.
	waitUntil := time.Now().Add(*waitConfig)
	status, code, answer, err := post()
	for said := false; err == nil && notConfiguredYet(code, answer) && time.Now().Before(waitUntil); {
		// Resending helps only for an installation on its way to the edge:
		// an ingress id the API does not know is said at once.
		if !said && *ingressID != "" && apiErr == nil {
			if known, kerr := ingressKnown(ctx, api, *ingressID); kerr == nil && !known {
				fmt.Fprintf(out, "← %s %s\n", status, reasonOf(answer))
				return fmt.Errorf("unknown ingress id %s: no installation or platform profile of the API at %s has it (`switchboard installations list` shows the ingress ids)", *ingressID, api.BaseURL())
			}
		}
		if !said {
			fmt.Fprintf(out, "← %s %s: the edge has no configuration for this ingress yet; resending for up to %s\n", status, reasonOf(answer), *waitConfig)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		status, code, answer, err = post()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "← %s\n", status)
	if a := strings.TrimSpace(string(answer)); a != "" {
		fmt.Fprintf(out, "  %s\n", a)
	}
	accepted := code/100 == 2
	switch {
	case *forge && accepted:
		fmt.Fprintln(out, "FAIL: the edge ACCEPTED a forged event")
		return exitError{code: 1}
	case *forge:
		if r := reasonOf(answer); r != "" {
			fmt.Fprintf(out, "refused as expected: %s\n", r)
		} else {
			fmt.Fprintln(out, "refused as expected")
		}
		return nil
	case accepted:
		fmt.Fprintln(out, "accepted: the event is queued for the agents bound to this installation")
		return nil
	default:
		if r := reasonOf(answer); r != "" {
			fmt.Fprintf(out, "refused: %s\n", r)
		}
		return exitError{code: 1}
	}
}

// notConfiguredYet: the edge does not (yet) know the ingress, or has no
// configuration at all.
func notConfiguredYet(code int, answer []byte) bool {
	r := reasonOf(answer)
	return code == http.StatusNotFound && r == "unknown_ingress" || code == http.StatusServiceUnavailable && r == "no_config"
}

// reasonOf reads the {"error":reason} answer of the edge or ingest.
func reasonOf(body []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		return v.Error
	}
	return ""
}

// ingressOfAccount is the ingress id of the live installation of provider
// whose external id is account.
func ingressOfAccount(ctx context.Context, api *client.Client, provider, account string) (string, error) {
	insts, err := api.ListInstallations(ctx, "")
	if err != nil {
		return "", fmt.Errorf("look the installation up: %w", err)
	}
	var found []client.Installation
	for _, i := range insts {
		if i.Provider == provider && i.ExternalID == account && i.RevokedAt == nil {
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no live %s installation has external id %s (`switchboard installations list`)", provider, account)
	case 1:
		return found[0].IngressID, nil
	}
	return "", fmt.Errorf("%d %s installations have external id %s: pass --ingress-id", len(found), provider, account)
}

// ingressKnown reports whether an installation or platform profile the API
// shows has ingressID.
func ingressKnown(ctx context.Context, api *client.Client, ingressID string) (bool, error) {
	insts, err := api.ListInstallations(ctx, "")
	if err != nil {
		return false, err
	}
	for _, i := range insts {
		if i.IngressID == ingressID {
			return true, nil
		}
	}
	profs, err := api.ListProfiles(ctx, client.ProfilesOfPlatform)
	if err != nil {
		return false, err
	}
	for _, p := range profs {
		if p.IngressID == ingressID {
			return true, nil
		}
	}
	who, err := api.Whoami(ctx)
	if err != nil {
		return false, err
	}
	if who.Kind != client.TokenPlatform {
		// Tenants do not see platform profiles' ingress ids: not conclusive.
		return true, nil
	}
	return false, nil
}
