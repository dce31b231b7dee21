package cli

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
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/testevent"
)

const connectSummary = "connect a provider: create what is missing (org, app profile, installation, agent, binding), print the setup packet, self-test through the edge"

func init() {
	add(Command{Name: "connect", Summary: connectSummary, Run: runConnect})
}

// verificationPurpose is the secret the edge verifies a provider's webhooks with.
func verificationPurpose(provider string) string {
	switch provider {
	case "telegram":
		return "secret_token"
	case "discord":
		return "public_key"
	}
	return "signing"
}

type connectOpts struct {
	provider                     string
	orgID, orgName               string
	profileID, appID, appName    string
	signing, signingFile         string
	botToken, botTokenFile       string
	externalID                   string
	agentID, agentURL, agentName string
	agentSecretFile              string
	selector                     client.Selector
	persona                      string
	priority                     int
	edge                         string
	testText                     string
	privateKey                   string
	selfTest, packet, register   bool
	wait                         time.Duration
	extra, extraFiles            func() (map[string]string, error)
	cn                           conn
}

func connectHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, connectSummary+`

usage: switchboard connect PROVIDER [flags]

Finds or creates, in order: the organisation (--org, or --org-name), the
organisation's own app profile of PROVIDER (--profile, or --app-id/--app-name
with the provider's verification secret), the installation (--external-id:
Slack team id, Telegram bot id, WhatsApp phone_number_id, Discord guild id),
the agent (--agent, or --agent-url) and the binding. Objects that exist are
reused, so running it again is safe. It prints the setup packet (what to enter
at the provider), then signs a self-test event the way the provider would,
sends it through the edge and waits until ingest accepted it.

On a terminal it asks for what the flags do not give.

Example (after `+"`switchboard up`"+`):
  switchboard connect slack --org-name Acme --app-id A0ACME --external-id T0ACME \
    --signing-secret-file slack.secret --agent-url http://127.0.0.1:9000/

flags:`)
	printFlags(w, fs)
}

func runConnect(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("connect", env)
	var o connectOpts
	fs.StringVar(&o.orgID, "org", "", "the organisation's id (an org token: its own)")
	fs.StringVar(&o.orgName, "org-name", "", "the organisation's name: found, or created when there is none")
	fs.StringVar(&o.profileID, "profile", "", "an existing app profile's id")
	fs.StringVar(&o.appID, "app-id", "", "the provider's app id (Slack api_app_id, Discord application id, Meta app id); finds the profile")
	fs.StringVar(&o.appName, "app-name", "", "the app profile's name when it is created (default: \"<org> <provider> app\")")
	fs.StringVar(&o.signing, "signing-secret", "", "the provider's verification secret: Slack signing secret, Telegram secret token, Meta app secret, … (visible in process listings: prefer --signing-secret-file)")
	fs.StringVar(&o.signingFile, "signing-secret-file", "", "read the verification secret from this file")
	fs.StringVar(&o.botToken, "bot-token", "", "the installation's bot token (xoxb-…, <bot id>:<token>, …); prefer --bot-token-file")
	fs.StringVar(&o.botTokenFile, "bot-token-file", "", "read the bot token from this file")
	fs.StringVar(&o.externalID, "external-id", "", "the provider's id of the installation: Slack team id, Telegram bot id, WhatsApp phone_number_id, Discord guild id")
	fs.StringVar(&o.agentID, "agent", "", "an existing agent's id")
	fs.StringVar(&o.agentURL, "agent-url", "", "the agent's URL: an agent of the organisation with it is reused, else one is created")
	fs.StringVar(&o.agentName, "agent-name", "agent", "the agent's name when it is created")
	fs.StringVar(&o.agentSecretFile, "agent-secret-file", "", "the new agent's whsec_ signing secret: read from this file, or generated into it (0600) when missing (`switchboard demo-agent --secret-file` reads the same file)")
	fs.StringVar(&o.selector.Channel, "channel", "", "bind only this channel (default: all of the installation's traffic)")
	fs.StringVar(&o.selector.Peer, "peer", "", "bind only this sender")
	fs.StringVar(&o.selector.Mention, "mention", "", "bind only messages mentioning this keyword, e.g. @support")
	fs.StringVar(&o.persona, "persona", "", "the persona the agent answers as")
	fs.IntVar(&o.priority, "priority", 0, "the binding's priority")
	fs.StringVar(&o.edge, "edge", "", "the edge's base URL for the self-test (default: the edge `switchboard up` recorded, else http://127.0.0.1:8443)")
	fs.StringVar(&o.testText, "test-text", "switchboard connect self-test", "text of the self-test message")
	fs.StringVar(&o.privateKey, "private-key", "", "Discord: the Ed25519 private key (hex, or a file) to sign the self-test with")
	fs.BoolVar(&o.selfTest, "self-test", true, "send a signed self-test through the edge and wait until ingest accepted it")
	fs.BoolVar(&o.packet, "packet", true, "print the installation's setup packet")
	fs.BoolVar(&o.register, "register", true, "register the webhook at the provider where the API can (Telegram setWebhook, Discord interactions URL, Meta subscriptions, Slack auth.test)")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "how long the self-test waits for the new installation to reach the edge")
	o.extra = secretFlags(fs)
	o.cn.flags(fs, env)
	if isHelp(args) {
		connectHelp(env.Stdout, fs)
		return nil
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		return usageErr(env, "connect", "want the provider (slack, telegram, whatsapp, discord, …), got %d argument(s)", len(pos))
	}
	o.provider = pos[0]
	cl, err := o.cn.client(env)
	if err != nil {
		return err
	}
	return (&connector{env: env, c: cl, o: &o, ask: newPrompter(env)}).run(ctx)
}

type connector struct {
	env *Env
	c   *client.Client
	o   *connectOpts
	ask *prompter
}

func (k *connector) step(ok bool, what, format string, a ...any) {
	mark := "✓"
	if !ok {
		mark = "✗"
	}
	fmt.Fprintf(k.env.Stdout, "%s %-13s %s\n", mark, what, fmt.Sprintf(format, a...))
}

// need returns v, else asks for it on a terminal, else fails naming flag.
func (k *connector) need(v, flagName, label, def string) (string, error) {
	if v != "" {
		return v, nil
	}
	if k.env.Terminal {
		return k.ask.ask(label, def)
	}
	if def != "" {
		return def, nil
	}
	return "", fmt.Errorf("%s is required (%s)", flagName, label)
}

func readValue(v, file, flagName string) (string, error) {
	if file == "" {
		return v, nil
	}
	fv, ok, err := datadir.ReadSecretFile(file)
	if err == nil && !ok {
		err = errors.New("no such file")
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return fv, nil
}

func (k *connector) run(ctx context.Context) error {
	o := k.o
	who, err := k.c.Whoami(ctx)
	if err != nil {
		return err
	}
	signing, err := readValue(o.signing, o.signingFile, "--signing-secret-file")
	if err != nil {
		return err
	}
	bot, err := readValue(o.botToken, o.botTokenFile, "--bot-token-file")
	if err != nil {
		return err
	}
	extra, err := o.extra()
	if err != nil {
		return err
	}

	org, err := k.org(ctx, who)
	if err != nil {
		return err
	}
	prof, signing, err := k.profile(ctx, org, signing, extra)
	if err != nil {
		return err
	}
	inst, err := k.installation(ctx, org, prof, bot)
	if err != nil {
		return err
	}
	agent, err := k.agent(ctx, org)
	if err != nil {
		return err
	}
	b, err := k.binding(ctx, inst, agent)
	if err != nil {
		return err
	}
	_ = b
	if o.packet {
		md, err := k.c.InstallationSetupMarkdown(ctx, inst.ID)
		switch {
		case err == nil:
			fmt.Fprintf(k.env.Stdout, "\n--- setup packet (what to enter at %s; `switchboard installations setup %s` shows it again) ---\n%s\n--- end of setup packet ---\n\n",
				o.provider, inst.ID, strings.TrimSpace(md))
		case client.ErrorCode(err) == client.CodeMethodOrRoute:
			k.step(true, "setup packet", "not served by this API version")
		default:
			return fmt.Errorf("setup packet: %w", err)
		}
	}
	regFailed := false
	if o.register {
		if regFailed, err = k.registration(ctx, inst); err != nil {
			return err
		}
	}
	if !o.selfTest {
		k.step(true, "self-test", "skipped (--self-test=false)")
	} else if err := k.selfTest(ctx, prof, inst, signing); err != nil {
		return err
	}
	fmt.Fprintf(k.env.Stdout, "\nnext: switchboard doctor --installation %s   (health checks)\n      switchboard explain --installation %s --channel C --user U --text hi   (routing)\n", inst.ID, inst.ID)
	if regFailed {
		return ExitError{Code: 1}
	}
	return nil
}

// registration registers the webhook at the provider where the API can;
// failed is true when the provider refused (shown with its own words).
func (k *connector) registration(ctx context.Context, inst client.Installation) (failed bool, err error) {
	reg, err := k.c.Register(ctx, inst.ID, client.RegisterRequest{})
	var ce *client.Error
	switch {
	case err == nil:
		var parts []string
		for _, st := range reg.Steps {
			mark := "ok"
			if !st.OK {
				mark = "FAILED"
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", st.Name, mark, st.Detail))
		}
		if reg.OK {
			k.step(true, "registration", "at %s: %s", reg.Provider, strings.Join(parts, "; "))
			return false, nil
		}
		k.step(false, "registration", "at %s: %s", reg.Provider, strings.Join(parts, "; "))
		if reg.Fix != "" {
			fmt.Fprintf(k.env.Stdout, "  fix: %s\n", reg.Fix)
		}
		return true, nil
	case errors.As(err, &ce) && (ce.Code == client.CodeConflict || ce.Code == client.CodeMethodOrRoute || ce.Code == client.CodeInvalidField):
		// Nothing to register with (no registration API, no public URL,
		// no bot token yet): the packet says what to enter by hand.
		k.step(true, "registration", "not done: %s", ce.Message)
		return false, nil
	case errors.As(err, &ce) && ce.Code == client.CodeProviderUnreachable:
		k.step(false, "registration", "%s did not answer: %s", inst.Provider, ce.Message)
		return true, nil
	}
	return false, fmt.Errorf("registration: %w", err)
}

func (k *connector) org(ctx context.Context, who client.Token) (client.Org, error) {
	o := k.o
	if who.Kind == client.TokenOrg {
		if o.orgID != "" && o.orgID != who.SubjectID {
			return client.Org{}, fmt.Errorf("--org %s: this token acts for organisation %s only", o.orgID, who.SubjectID)
		}
		o.orgID = who.SubjectID
	}
	if o.orgID != "" {
		org, err := k.c.GetOrg(ctx, o.orgID)
		if err != nil {
			return org, fmt.Errorf("organisation: %w", err)
		}
		k.step(true, "organisation", "%s %s", org.ID, org.Name)
		return org, nil
	}
	name, err := k.need(o.orgName, "--org or --org-name", "organisation name", "")
	if err != nil {
		return client.Org{}, err
	}
	orgs, err := k.c.ListOrgs(ctx, "")
	if err != nil {
		return client.Org{}, fmt.Errorf("organisations: %w", err)
	}
	var found []client.Org
	for _, g := range orgs {
		if g.Name == name && g.RevokedAt == nil {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 1:
		k.step(true, "organisation", "%s %s", found[0].ID, found[0].Name)
		return found[0], nil
	case 0:
		org, err := k.c.CreateOrg(ctx, client.CreateOrgRequest{Name: name})
		if err != nil {
			return org, fmt.Errorf("create organisation: %w", err)
		}
		k.step(true, "organisation", "%s %s (created)", org.ID, org.Name)
		return org, nil
	}
	return client.Org{}, fmt.Errorf("%d organisations are named %q: pass --org ID", len(found), name)
}

func (k *connector) profile(ctx context.Context, org client.Org, signing string, extra map[string]string) (client.Profile, string, error) {
	o := k.o
	if o.profileID != "" {
		p, err := k.c.GetProfile(ctx, o.profileID)
		if err != nil {
			return p, signing, fmt.Errorf("app profile: %w", err)
		}
		if p.Provider != o.provider {
			return p, signing, fmt.Errorf("--profile %s is a %s app, not %s", p.ID, p.Provider, o.provider)
		}
		k.step(true, "app profile", "%s %s", p.ID, p.Name)
		return p, signing, nil
	}
	name := o.appName
	if name == "" {
		name = org.Name + " " + o.provider + " app"
	}
	profs, err := k.c.ListProfiles(ctx, org.ID)
	if err != nil {
		return client.Profile{}, signing, fmt.Errorf("app profiles: %w", err)
	}
	for _, p := range profs {
		if p.Provider != o.provider || p.RevokedAt != nil || p.OrgID != org.ID {
			continue
		}
		if o.appID != "" && p.ExternalAppID == o.appID || o.appID == "" && p.Name == name {
			k.step(true, "app profile", "%s %s (app %s)", p.ID, p.Name, dash(p.ExternalAppID))
			return p, signing, nil
		}
	}
	purpose := verificationPurpose(o.provider)
	if signing == "" && k.env.Terminal {
		if signing, err = k.ask.secret(fmt.Sprintf("%s %s of the app", o.provider, purpose)); err != nil {
			return client.Profile{}, "", err
		}
	}
	if signing == "" {
		return client.Profile{}, "", fmt.Errorf("no %s app profile in %s yet: give its %s with --signing-secret-file FILE (or --signing-secret)", o.provider, org.Name, purpose)
	}
	secrets := map[string]string{purpose: signing}
	for p, v := range extra {
		secrets[p] = v
	}
	if o.appID == "" && k.env.Terminal {
		if o.appID, err = k.ask.ask(o.provider+" app id (optional)", ""); err != nil {
			return client.Profile{}, "", err
		}
	}
	p, err := k.c.CreateProfile(ctx, client.CreateProfileRequest{OrgID: org.ID, Provider: o.provider, Name: name, ExternalAppID: o.appID, Secrets: secrets})
	if err != nil {
		return p, "", fmt.Errorf("create app profile: %w", err)
	}
	k.step(true, "app profile", "%s %s (created; app %s, %s secret stored)", p.ID, p.Name, dash(p.ExternalAppID), purpose)
	return p, signing, nil
}

func (k *connector) installation(ctx context.Context, org client.Org, prof client.Profile, bot string) (client.Installation, error) {
	o := k.o
	ext, err := k.need(o.externalID, "--external-id", o.provider+" installation id (Slack team id, Telegram bot id, WhatsApp phone_number_id, Discord guild id)", "")
	if err != nil {
		return client.Installation{}, err
	}
	o.externalID = ext
	insts, err := k.c.ListInstallations(ctx, org.ID)
	if err != nil {
		return client.Installation{}, fmt.Errorf("installations: %w", err)
	}
	for _, i := range insts {
		if i.ProfileID == prof.ID && i.ExternalID == ext && i.RevokedAt == nil {
			k.step(true, "installation", "%s %s %s, webhook %s", i.ID, o.provider, ext, webhook(i.WebhookURL, i.WebhookPath))
			return i, nil
		}
	}
	req := client.CreateInstallationRequest{OrgID: org.ID, ProfileID: prof.ID, ExternalID: ext}
	if bot != "" {
		req.Secrets = map[string]string{"bot_token": bot}
	}
	i, err := k.c.CreateInstallation(ctx, req)
	if err != nil {
		return i, fmt.Errorf("create installation: %w", err)
	}
	k.step(true, "installation", "%s %s %s (created), webhook %s", i.ID, o.provider, ext, webhook(i.WebhookURL, i.WebhookPath))
	return i, nil
}

func (k *connector) agent(ctx context.Context, org client.Org) (client.Agent, error) {
	o := k.o
	if o.agentID != "" {
		a, err := k.c.GetAgent(ctx, o.agentID)
		if err != nil {
			return a, fmt.Errorf("agent: %w", err)
		}
		k.step(true, "agent", "%s %s", a.ID, a.URL)
		return a, nil
	}
	u, err := k.need(o.agentURL, "--agent or --agent-url", "agent URL (where deliveries are POSTed)", "http://127.0.0.1:9000/")
	if err != nil {
		return client.Agent{}, err
	}
	agents, err := k.c.ListAgents(ctx, org.ID)
	if err != nil {
		return client.Agent{}, fmt.Errorf("agents: %w", err)
	}
	for _, a := range agents {
		if a.URL == u && a.RevokedAt == nil {
			k.step(true, "agent", "%s %s", a.ID, a.URL)
			return a, nil
		}
	}
	req := client.CreateAgentRequest{OrgID: org.ID, Name: o.agentName, URL: u}
	if o.agentSecretFile != "" {
		s, _, err := datadir.LoadOrCreateAgentSecret(o.agentSecretFile)
		if err != nil {
			return client.Agent{}, err
		}
		req.SigningSecret = s
	}
	a, err := k.c.CreateAgent(ctx, req)
	if err != nil {
		return a, fmt.Errorf("create agent: %w", err)
	}
	switch {
	case o.agentSecretFile != "":
		k.step(true, "agent", "%s %s (created; signing secret in %s)", a.ID, a.URL, o.agentSecretFile)
	default:
		k.step(true, "agent", "%s %s (created; signing secret, shown this once: %s)", a.ID, a.URL, a.SigningSecret)
	}
	return a, nil
}

func (k *connector) binding(ctx context.Context, inst client.Installation, agent client.Agent) (client.Binding, error) {
	o := k.o
	bs, err := k.c.ListBindings(ctx, client.BindingFilter{InstallationID: inst.ID})
	if err != nil {
		return client.Binding{}, fmt.Errorf("bindings: %w", err)
	}
	for _, b := range bs {
		if b.AgentID == agent.ID && b.Selector == o.selector && b.Persona == o.persona && b.RevokedAt == nil {
			k.step(true, "binding", "%s %s → %s", b.ID, selectorCell(b.Selector), b.AgentID)
			return b, nil
		}
	}
	b, err := k.c.CreateBinding(ctx, client.CreateBindingRequest{InstallationID: inst.ID, AgentID: agent.ID, Selector: o.selector, Persona: o.persona, Priority: o.priority})
	if err != nil {
		return b, fmt.Errorf("create binding: %w", err)
	}
	k.step(true, "binding", "%s %s → %s (created)", b.ID, selectorCell(b.Selector), b.AgentID)
	return b, nil
}

// edgeBase is where the self-test goes.
func (k *connector) edgeBase() string {
	if k.o.edge != "" {
		return strings.TrimRight(k.o.edge, "/")
	}
	if rt, err := datadir.ReadRuntime(k.o.cn.dataDir); err == nil && rt.Edge != "" {
		return strings.TrimRight(rt.Edge, "/")
	}
	return "http://127.0.0.1:8443"
}

// selfTest signs an event as the provider would, sends it through the edge
// and waits until ingest accepted it (the edge relays ingest's answer).
func (k *connector) selfTest(ctx context.Context, prof client.Profile, inst client.Installation, secret string) error {
	o := k.o
	var cred testevent.Credentials
	switch {
	case o.provider == "discord" && o.privateKey != "":
		key, err := testevent.ParsePrivateKey(o.privateKey)
		if err != nil {
			return fmt.Errorf("--private-key: %w", err)
		}
		cred.PrivateKey = key
	case o.provider != "discord" && secret != "":
		cred.Secret = secret
	default:
		what := "--signing-secret-file"
		if o.provider == "discord" {
			what = "--private-key"
		}
		k.step(true, "self-test", "skipped: give %s to sign one (the profile existed, so its secret was not given here)", what)
		return nil
	}
	target := k.edgeBase() + "/v1/hooks/" + url.PathEscape(inst.Provider) + "/" + url.PathEscape(inst.IngressID)
	now := k.env.now()
	text := o.testText
	if o.selector.Mention != "" && !strings.Contains(text, o.selector.Mention) {
		text = o.selector.Mention + " " + text
	}
	ev := testevent.Event{Provider: inst.Provider, Account: inst.ExternalID, AppID: prof.ExternalAppID, Channel: o.selector.Channel,
		User: o.selector.Peer, Text: text, Now: now}.Defaults()
	body, ct, err := testevent.Body(ev)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	signed, err := testevent.Sign(inst.Provider, target, body, ct, cred, now)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func() (int, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, signed.URL, bytes.NewReader(signed.Body))
		if err != nil {
			return 0, "", err
		}
		for _, h := range signed.Headers {
			req.Header.Set(h[0], h[1])
		}
		req.Header.Set("User-Agent", "switchboard-connect/1")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var v struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &v)
		return resp.StatusCode, v.Error, nil
	}
	deadline := time.Now().Add(o.wait)
	for {
		code, reason, err := post()
		if err != nil {
			k.step(false, "self-test", "could not reach the edge at %s: %v (is `switchboard up` running? --edge names another)", k.edgeBase(), err)
			return ExitError{Code: 1}
		}
		if code/100 == 2 {
			k.step(true, "self-test", "signed %s event %s (text %q) went through the edge and ingest accepted it (queued for the bound agents)", inst.Provider, ev.EventID, ev.Text)
			return nil
		}
		// A new installation reaches the edge over xDS within about a second.
		notYet := code == http.StatusNotFound && reason == "unknown_ingress" || code == http.StatusServiceUnavailable && reason == "no_config"
		if !notYet || time.Now().After(deadline) {
			k.step(false, "self-test", "the edge answered %d %s (`switchboard doctor --installation %s` checks why)", code, dash(reason), inst.ID)
			return ExitError{Code: 1}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
