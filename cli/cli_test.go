package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/apitest"
	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/provider/slack/slacktest"
	"github.com/switchboard-dev/switchboard/provider/telegram/telegramtest"
	"github.com/switchboard-dev/switchboard/store"
)

const (
	slackSigning = "8f742231b10e8888abcd99yyyzzz85a5"
	slackBot     = "xoxb-test-1234-secretbotvalue"
)

// run runs one command line against the API with env vars vars.
func run(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string { return vars[k] }}
	for _, c := range Commands() {
		if c.Name == args[0] {
			err = c.Run(context.Background(), env, args[1:])
			return o.String(), e.String(), err
		}
	}
	t.Fatalf("no command %q", args[0])
	return
}

// ok runs args and fails the test on an error.
func ok(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, vars, args...)
	if err != nil {
		t.Fatalf("%v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, errOut)
	}
	return out
}

func jsonOf[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// TestNounsEndToEnd walks every noun's verbs against the real API with the
// address and token from the environment, in JSON and as tables.
func TestNounsEndToEnd(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}

	agc := jsonOf[client.Agency](t, ok(t, vars, "agencies", "create", "--name", "Acme Agency", "--json"))
	org := jsonOf[client.Org](t, ok(t, vars, "orgs", "create", "--name", "Acme", "--agency", agc.ID, "--json"))
	if org.AgencyID != agc.ID {
		t.Fatalf("org %+v", org)
	}
	if out := ok(t, vars, "orgs", "list"); !strings.HasPrefix(out, "ID ") || !strings.Contains(out, org.ID) || !strings.Contains(out, "Acme") {
		t.Fatalf("orgs list table:\n%s", out)
	}
	if out := ok(t, vars, "orgs", "get", org.ID); !strings.Contains(out, "active") {
		t.Fatalf("orgs get:\n%s", out)
	}
	secretFile := filepath.Join(t.TempDir(), "signing")
	os.WriteFile(secretFile, []byte(slackSigning+"\n"), 0o600)
	prof := jsonOf[client.Profile](t, ok(t, vars, "profiles", "create", "--org", org.ID, "--provider", "slack", "--name", "Acme Slack",
		"--app-id", "A0ACME", "--secret-file", "signing="+secretFile, "--json"))
	if len(prof.Secrets) != 1 || prof.Secrets[0].Purpose != "signing" {
		t.Fatalf("profile %+v", prof)
	}
	// Flags after the positional argument work too.
	inst := jsonOf[client.Installation](t, ok(t, vars, "installations", "create", "--org", org.ID, "--profile", prof.ID,
		"--external-id", "T0ACME", "--secret", "bot_token="+slackBot, "--json"))
	if out := ok(t, vars, "installations", "get", inst.ID); !strings.Contains(out, inst.WebhookPath) || strings.Contains(out, slackBot) {
		t.Fatalf("installations get:\n%s", out)
	}
	agentSecret := filepath.Join(t.TempDir(), "agent.secret")
	out := ok(t, vars, "agents", "create", "--org", org.ID, "--name", "demo", "--url", "https://agent.example/", "--secret-file", agentSecret)
	if !strings.Contains(out, "signing secret in "+agentSecret) {
		t.Fatalf("agents create:\n%s", out)
	}
	if b, _ := os.ReadFile(agentSecret); !strings.HasPrefix(string(b), "whsec_") {
		t.Fatalf("agent secret file holds %d bytes, not a whsec_ secret", len(b))
	}
	agents := jsonOf[[]client.Agent](t, ok(t, vars, "agents", "list", "--org", org.ID, "--json"))
	if len(agents) != 1 {
		t.Fatalf("agents %+v", agents)
	}
	out = ok(t, vars, "agents", "create", "--org", org.ID, "--name", "other", "--url", "https://agent.example/2")
	if !strings.Contains(out, "signing secret (shown this once): whsec_") {
		t.Fatalf("agents create without a file does not show the generated secret:\n%s", out)
	}
	b := jsonOf[client.Binding](t, ok(t, vars, "bindings", "create", "--installation", inst.ID, "--agent", agents[0].ID, "--channel", "C1", "--persona", "support", "--json"))
	if b.Selector.Channel != "C1" {
		t.Fatalf("binding %+v", b)
	}
	if out := ok(t, vars, "bindings", "list", "--installation", inst.ID); !strings.Contains(out, "channel=C1") {
		t.Fatalf("bindings list:\n%s", out)
	}
	tok := jsonOf[client.Token](t, ok(t, vars, "tokens", "create", "--kind", "org", "--subject", org.ID, "--json"))
	orgVars := map[string]string{EnvAPI: srv.URL, EnvToken: tok.Token, datadir.Env: vars[datadir.Env]}
	if out := ok(t, orgVars, "tokens", "whoami"); !strings.Contains(out, org.ID) {
		t.Fatalf("whoami:\n%s", out)
	}
	// tokens list|get: metadata in a table or JSON, never a token value.
	if out := ok(t, orgVars, "tokens", "list"); !strings.Contains(out, tok.ID) || !strings.Contains(out, "REPLACED BY") || strings.Contains(out, tok.Token) {
		t.Fatalf("tokens list:\n%s", out)
	}
	if l := jsonOf[[]client.TokenInfo](t, ok(t, orgVars, "tokens", "list", "--json")); len(l) != 1 || l[0].ID != tok.ID || l[0].SubjectID != org.ID {
		t.Fatalf("tokens list --json as the org: %+v", l)
	}
	if out := ok(t, vars, "tokens", "get", tok.ID, "--json"); !strings.Contains(out, `"revoked": false`) || strings.Contains(out, tok.Token) {
		t.Fatalf("tokens get:\n%s", out)
	}
	if _, _, err := run(t, orgVars, "tokens", "get", "tok_nosuch"); err == nil {
		t.Fatal("tokens get of an unknown id succeeded")
	}
	out = ok(t, orgVars, "rotate", "profile", prof.ID, "signing", "--value", "0123456789abcdef0123456789abcdef", "--keep-previous", "1h")
	if !strings.Contains(out, "rotated signing of profile "+prof.ID) || strings.Count(out, "signing ") < 2 {
		t.Fatalf("rotate:\n%s", out)
	}
	if out := ok(t, orgVars, "rotate", "agent", agents[0].ID, "signing"); !strings.Contains(out, "new secret (shown this once): whsec_") {
		t.Fatalf("rotate agent:\n%s", out)
	}
	for _, args := range [][]string{{"bindings", "revoke", b.ID}, {"agents", "revoke", agents[0].ID}, {"installations", "revoke", inst.ID},
		{"profiles", "revoke", prof.ID}, {"tokens", "revoke", tok.ID}, {"orgs", "revoke", org.ID}, {"agencies", "revoke", agc.ID}} {
		if out := ok(t, vars, args...); !strings.Contains(out, "revoked") && !strings.Contains(out, "true") {
			t.Fatalf("%v:\n%s", args, out)
		}
	}
	if out := ok(t, vars, "profiles", "list", "--org", "platform"); !strings.HasPrefix(out, "ID ") {
		t.Fatalf("empty profile list has no header:\n%s", out)
	}
}

// TestAPIRefusalShown: a refusal reaches the user with the API's code,
// field and message, and no secret.
func TestAPIRefusalShown(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	org := jsonOf[client.Org](t, ok(t, vars, "orgs", "create", "--name", "Acme", "--json"))
	_, _, err := run(t, vars, "profiles", "create", "--org", org.ID, "--provider", "slack", "--name", "x", "--secret", "signing=tooshort-secret")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Field != "secrets.signing" || strings.Contains(err.Error(), "tooshort-secret") {
		t.Fatalf("bad secret: %v", err)
	}
	if _, _, err := run(t, vars, "orgs", "get", "org_nosuch"); !client.IsNotFound(err) {
		t.Fatalf("missing org: %v", err)
	}
}

// TestConnectionFromDataDir: without flags or environment, the address is
// the one `switchboard up` recorded and the token its admin token.
func TestConnectionFromDataDir(t *testing.T) {
	srv := apitest.New(t)
	dir := t.TempDir()
	if err := datadir.WriteRuntime(dir, datadir.Runtime{API: srv.URL, PID: 1}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, datadir.AdminTokenFile), []byte(srv.Admin+"\n"), 0o600)
	if out := ok(t, map[string]string{datadir.Env: dir}, "tokens", "whoami"); !strings.Contains(out, "platform") {
		t.Fatalf("whoami from the data dir:\n%s", out)
	}
	if out := ok(t, map[string]string{}, "tokens", "whoami", "--data-dir", dir); !strings.Contains(out, "platform") {
		t.Fatalf("whoami with --data-dir:\n%s", out)
	}
	// Flags beat the environment, which beats the data directory.
	_, _, err := run(t, map[string]string{datadir.Env: dir, EnvToken: "sbt_wrong-token-value-xxxxxxxx"}, "tokens", "whoami")
	if client.ErrorCode(err) != client.CodeUnauthorized {
		t.Fatalf("$SWITCHBOARD_TOKEN not used: %v", err)
	}
	tf := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tf, []byte(srv.Admin), 0o600)
	if out := ok(t, map[string]string{datadir.Env: dir, EnvToken: "sbt_wrong"}, "tokens", "whoami", "--token-file", tf); !strings.Contains(out, "platform") {
		t.Fatalf("--token-file not preferred:\n%s", out)
	}
	_, _, err = run(t, map[string]string{datadir.Env: t.TempDir()}, "tokens", "whoami")
	if err == nil || !strings.Contains(err.Error(), "no API token") || !strings.Contains(err.Error(), EnvToken) {
		t.Fatalf("no token anywhere: %v", err)
	}
}

// TestHelpAndMistakes: --help prints to stdout and succeeds for every
// command and verb; a mistyped verb is named with the nearest one.
func TestHelpAndMistakes(t *testing.T) {
	for _, c := range Commands() {
		for _, h := range []string{"--help", "-h", "help"} {
			out, errOut, err := run(t, nil, c.Name, h)
			if err != nil || errOut != "" || !strings.Contains(out, c.Summary) || !strings.Contains(out, "usage: switchboard "+c.Name) {
				t.Errorf("%s %s: err %v, stderr %q, stdout:\n%s", c.Name, h, err, errOut, out)
			}
		}
	}
	out, _, err := run(t, nil, "orgs", "create", "--help")
	if err != nil || !strings.Contains(out, "-name") || !strings.Contains(out, "-json") {
		t.Errorf("orgs create --help: %v\n%s", err, out)
	}
	_, errOut, err := run(t, nil, "orgs", "lst")
	if err != (ExitError{Code: 2}) || !strings.Contains(errOut, `did you mean "list"?`) {
		t.Errorf("orgs lst: %v\n%s", err, errOut)
	}
	_, errOut, err = run(t, nil, "orgs", "get")
	if err != (ExitError{Code: 2}) || !strings.Contains(errOut, "want ID") {
		t.Errorf("orgs get without ID: %v\n%s", err, errOut)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"orgs", "agencies", "agents", "installations", "deadletters", "demo-agent", "send-test", "up", "serve"}
	for typed, want := range map[string]string{
		"org": "orgs", "agnets": "agents", "instalations": "installations", "deadleters": "deadletters",
		"sendtest": "send-test", "upp": "up", "xyzzy": "", "sreve": "serve", "install": "installations",
	} {
		if got := Suggest(typed, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", typed, got, want)
		}
	}
}

// TestConnectCreatesThenReuses: connect creates the organisation, app
// profile, installation, agent and binding, prints the setup packet; a
// second run reuses every one of them.
func TestConnectCreatesThenReuses(t *testing.T) {
	srv := apitest.New(t)
	dir := t.TempDir()
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: dir}
	secretFile := filepath.Join(t.TempDir(), "slack.secret")
	os.WriteFile(secretFile, []byte(slackSigning+"\n"), 0o600)
	agentSecret := filepath.Join(dir, "demo-agent.secret")
	args := []string{"connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME", "--signing-secret-file", secretFile,
		"--agent-url", "http://127.0.0.1:9000/", "--agent-secret-file", agentSecret, "--persona", "support", "--self-test=false"}
	out := ok(t, vars, args...)
	for _, want := range []string{"✓ organisation", "(created)", "✓ app profile", "✓ installation", "✓ agent", "signing secret in " + agentSecret,
		"✓ binding", "--- setup packet", "api.slack.com/apps?new_app=1", "self-test     skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("connect output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, slackSigning) {
		t.Fatal("connect printed the signing secret")
	}
	if strings.Count(out, "(created") != 5 {
		t.Errorf("want 5 objects created:\n%s", out)
	}
	again := ok(t, vars, args...)
	if strings.Contains(again, "(created") {
		t.Errorf("second connect created objects again:\n%s", again)
	}
	c, _ := client.New(srv.URL, srv.Admin)
	ctx := context.Background()
	orgs, _ := c.ListOrgs(ctx, "")
	insts, _ := c.ListInstallations(ctx, "")
	bs, _ := c.ListBindings(ctx, client.BindingFilter{})
	if len(orgs) != 1 || len(insts) != 1 || len(bs) != 1 || bs[0].Persona != "support" || insts[0].ExternalID != "T0ACME" {
		t.Fatalf("objects after two connects: %d orgs, %d installations, %+v", len(orgs), len(insts), bs)
	}
	// Without a terminal, a missing required value is named by its flag.
	_, _, err := run(t, vars, "connect", "slack", "--self-test=false")
	if err == nil || !strings.Contains(err.Error(), "--org or --org-name") {
		t.Fatalf("connect without an org: %v", err)
	}
	_, _, err = run(t, vars, "connect", "slack", "--org-name", "Other", "--external-id", "T1", "--agent-url", "http://127.0.0.1:9000/", "--self-test=false")
	if err == nil || !strings.Contains(err.Error(), "--signing-secret-file") {
		t.Fatalf("connect without the app's secret: %v", err)
	}
}

// TestConnectPrompts: on a terminal, connect asks for what flags did not give.
func TestConnectPrompts(t *testing.T) {
	srv := apitest.New(t)
	var o, e bytes.Buffer
	answers := strings.Join([]string{"Acme", slackSigning, "A0ACME", "T0ACME", ""}, "\n") + "\n"
	env := &Env{Stdin: strings.NewReader(answers), Stdout: &o, Stderr: &e, Terminal: true,
		Getenv: func(k string) string {
			return map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}[k]
		}}
	if err := runConnect(context.Background(), env, []string{"slack", "--self-test=false", "--packet=false"}); err != nil {
		t.Fatalf("connect: %v\n%s\n%s", err, o.String(), e.String())
	}
	for _, q := range []string{"organisation name: ", "slack signing of the app (not shown): ", "slack app id (optional): ", "installation id", "agent URL (where deliveries are POSTed) [http://127.0.0.1:9000/]: "} {
		if !strings.Contains(e.String(), q) {
			t.Errorf("no prompt %q:\n%s", q, e.String())
		}
	}
	if !strings.Contains(o.String(), "T0ACME (created)") || !strings.Contains(o.String(), "http://127.0.0.1:9000/ (created") {
		t.Errorf("connect output:\n%s", o.String())
	}
}

// TestExplain: a described event and a provider payload, explained from the
// simulator: the winning binding, the losing one and why, the session key.
func TestExplain(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	ok(t, vars, "connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME", "--signing-secret", slackSigning,
		"--agent-url", "https://agent.example/a", "--channel", "C1", "--persona", "support", "--self-test=false", "--packet=false")
	ok(t, vars, "connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME",
		"--agent-url", "https://agent.example/b", "--persona", "fallback", "--self-test=false", "--packet=false")
	insts := jsonOf[[]client.Installation](t, ok(t, vars, "installations", "list", "--json"))
	out := ok(t, vars, "explain", "--installation", insts[0].ID, "--account", "T0ACME", "--channel", "C1", "--user", "U1", "--text", "hello")
	for _, want := range []string{"rollout stage on: lets it through", "channel=C1", "WINS", "persona support", "session key s1/", "outcome: delivered", "nothing was enqueued"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	payload := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(payload, []byte(`{"type":"event_callback","team_id":"T0ACME","api_app_id":"A0ACME","event_id":"Ev1","event":{"type":"message","channel":"C2","user":"U1","text":"hi","ts":"1.1"}}`), 0o644)
	out = ok(t, vars, "explain", "--installation", insts[0].ID, "--payload-file", payload)
	t.Logf("explain of a payload:\n%s", out)
	if !strings.Contains(out, "✗ ") || !strings.Contains(out, "persona fallback") || !strings.Contains(out, "delivered to") {
		t.Errorf("explain of a C2 payload:\n%s", out)
	}
	sim := jsonOf[client.Simulation](t, ok(t, vars, "explain", "--installation", insts[0].ID, "--payload-file", payload, "--json"))
	if sim.Enqueued || len(sim.Events) != 1 || len(sim.Events[0].Targets) != 1 {
		t.Errorf("explain --json: %+v", sim)
	}
}

// TestConnectRegisters: with a bot token, connect registers at the provider
// (Slack auth.test against a fake Slack API) and shows what Slack said; a
// refused token is shown with Slack's own error and fails the command.
func TestConnectRegisters(t *testing.T) {
	slack := slacktest.New()
	defer slack.Close()
	slack.TeamID = "T0ACME"
	srv := apitest.New(t, apitest.Options{PublicURL: "https://hooks.example.com", ProviderAPIs: api.ProviderAPIs{Base: map[string]string{"slack": slack.URL}}})
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	base := []string{"connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME", "--signing-secret", slackSigning,
		"--agent-url", "https://agent.example/", "--self-test=false", "--packet=false"}
	out := ok(t, vars, append(base, "--bot-token", slack.BotToken)...)
	if !strings.Contains(out, "✓ registration  at slack: auth.test ok (team Acme (T0ACME)") || strings.Contains(out, slack.BotToken) {
		t.Fatalf("registration:\n%s", out)
	}
	slack.BotToken = "xoxb-9999-other"
	out, _, err := run(t, vars, base...)
	if err != (ExitError{Code: 1}) || !strings.Contains(out, "✗ registration") || !strings.Contains(out, "invalid_auth") || !strings.Contains(out, "fix: ") {
		t.Fatalf("refused token: %v\n%s", err, out)
	}
	// Without a public URL the API cannot register: said, not fatal.
	plain := apitest.New(t)
	vars[EnvAPI], vars[EnvToken] = plain.URL, plain.Admin
	if out := ok(t, vars, base...); !strings.Contains(out, "✓ registration  not done: ") {
		t.Fatalf("no public URL:\n%s", out)
	}
}

// TestDoctor: every check printed with ✓/✗/–; a broken condition (no
// binding, provider stage off) is ✗ with its fix and exit status 1.
func TestDoctor(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	ok(t, vars, "connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME", "--signing-secret", slackSigning,
		"--agent-url", "https://agent.example/a", "--self-test=false", "--packet=false", "--register=false")
	inst := jsonOf[[]client.Installation](t, ok(t, vars, "installations", "list", "--json"))[0]
	out, _, _ := run(t, vars, "doctor", "--installation", inst.ID)
	for _, want := range []string{"installation " + inst.ID + " (slack)", "✓ bindings", "✓ rollout_stage"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	bs := jsonOf[[]client.Binding](t, ok(t, vars, "bindings", "list", "--json"))
	ok(t, vars, "bindings", "revoke", bs[0].ID)
	out, _, err := run(t, vars, "doctor", inst.ID)
	if err != (ExitError{Code: 1}) || !strings.Contains(out, "✗ bindings") || !strings.Contains(out, "    fix: ") {
		t.Fatalf("doctor without a binding: %v\n%s", err, out)
	}
	c, _ := client.New(srv.URL, srv.Admin)
	if _, err := c.SetStage(context.Background(), "slack", client.SetStageRequest{Stage: client.StageOff}); err != nil {
		t.Fatal(err)
	}
	out, _, _ = run(t, vars, "doctor", inst.ID)
	if !strings.Contains(out, "✗ rollout_stage") {
		t.Fatalf("doctor with slack off:\n%s", out)
	}
	h := jsonOf[client.Health](t, func() string { o, _, _ := run(t, vars, "doctor", inst.ID, "--json"); return o }())
	if h.OK || len(h.Checks) == 0 {
		t.Fatalf("doctor --json: %+v", h)
	}
	t.Logf("doctor:\n%s", out)
}

// TestConnectTelegramRegisters: connect telegram stores the secret token
// and the bot token, and the registration calls setWebhook with the
// installation's webhook URL and secret token on a fake Bot API.
func TestConnectTelegramRegisters(t *testing.T) {
	const botToken = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	const secretToken = "tg_Secret-Token_0123456789"
	bot := telegramtest.New(botToken)
	defer bot.Close()
	srv := apitest.New(t, apitest.Options{PublicURL: "https://hooks.example.com", ProviderAPIs: api.ProviderAPIs{Base: map[string]string{"telegram": bot.URL}}})
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	out := ok(t, vars, "connect", "telegram", "--org-name", "Acme", "--external-id", "123456", "--signing-secret", secretToken,
		"--bot-token", botToken, "--agent-url", "https://agent.example/", "--self-test=false", "--packet=false")
	if !strings.Contains(out, "✓ registration  at telegram: setWebhook ok") || strings.Contains(out, botToken) || strings.Contains(out, secretToken) {
		t.Fatalf("connect telegram:\n%s", out)
	}
	inst := jsonOf[[]client.Installation](t, ok(t, vars, "installations", "list", "--json"))[0]
	url, secret, _ := bot.Webhook()
	if url != inst.WebhookURL || secret != secretToken {
		t.Fatalf("setWebhook got url %q (want %q), secret token set: %v", url, inst.WebhookURL, secret == secretToken)
	}
}

// TestProfilesOAuth: store the app's OAuth client, print the install link;
// the provider's redirect back (the browser) creates the installation.
func TestProfilesOAuth(t *testing.T) {
	slack := slacktest.New()
	defer slack.Close()
	slack.AppID, slack.TeamID, slack.RedirectURI = "A0ACME", "T0OAUTH", "https://api.example.com/v1/oauth/slack/callback"
	srv := apitest.New(t, apitest.Options{PublicURL: "https://hooks.example.com", APIURL: "https://api.example.com",
		ProviderAPIs: api.ProviderAPIs{Base: map[string]string{"slack": slack.URL}}})
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	org := jsonOf[client.Org](t, ok(t, vars, "orgs", "create", "--name", "Acme", "--json"))
	prof := jsonOf[client.Profile](t, ok(t, vars, "profiles", "create", "--org", org.ID, "--provider", "slack", "--name", "Acme Slack",
		"--app-id", "A0ACME", "--secret", "signing="+slackSigning, "--json"))
	secretFile := filepath.Join(t.TempDir(), "client.secret")
	os.WriteFile(secretFile, []byte(slack.ClientSecret+"\n"), 0o600)
	out := ok(t, vars, "profiles", "oauth", prof.ID, "--client-id", slack.ClientID, "--client-secret-file", secretFile)
	if !strings.Contains(out, slack.RedirectURI) || strings.Contains(out, slack.ClientSecret) {
		t.Fatalf("profiles oauth:\n%s", out)
	}
	out = ok(t, vars, "profiles", "install-link", prof.ID, "--org", org.ID)
	i := strings.Index(out, "https://slack.com/oauth/v2/authorize?")
	if i < 0 {
		t.Fatalf("install-link:\n%s", out)
	}
	link, err := url.Parse(strings.TrimSpace(out[i:]))
	if err != nil || link.Query().Get("state") == "" {
		t.Fatalf("install link %q: %v", out[i:], err)
	}
	browser, _ := client.New(srv.URL, "")
	inst, err := browser.OAuthCallback(context.Background(), "slack", slack.Code, link.Query().Get("state"), "")
	if err != nil || inst.ExternalID != "T0OAUTH" {
		t.Fatalf("callback: %+v %v", inst, err)
	}
	if out := ok(t, vars, "installations", "list", "--org", org.ID); !strings.Contains(out, "T0OAUTH") {
		t.Fatalf("installation not listed:\n%s", out)
	}
}

// TestOrgLimitsCommands: orgs limits shows the defaults, set-limits changes
// only the flags given (table and --json), an organisation's own token is
// refused, and a call without any limit flag is a usage error.
func TestOrgLimitsCommands(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	org := jsonOf[client.Org](t, ok(t, vars, "orgs", "create", "--name", "Acme", "--json"))
	if out := ok(t, vars, "orgs", "limits", org.ID); !strings.HasPrefix(out, "ORG ") || strings.Count(out, "default") != 3 {
		t.Fatalf("orgs limits before any:\n%s", out)
	}
	l := jsonOf[client.OrgLimits](t, ok(t, vars, "orgs", "set-limits", org.ID, "--rate", "50", "--burst", "100", "--json"))
	if l.RatePerSec != 50 || l.Burst != 100 || l.MaxInFlight != 0 {
		t.Fatalf("set-limits --rate --burst: %+v", l)
	}
	l = jsonOf[client.OrgLimits](t, ok(t, vars, "orgs", "set-limits", org.ID, "--max-in-flight", "4", "--json"))
	if l.RatePerSec != 50 || l.Burst != 100 || l.MaxInFlight != 4 {
		t.Fatalf("set-limits --max-in-flight kept the rest? %+v", l)
	}
	if out := ok(t, vars, "orgs", "limits", org.ID); !strings.Contains(out, "50") || !strings.Contains(out, "100") || !strings.Contains(out, "4") {
		t.Fatalf("orgs limits table:\n%s", out)
	}
	if _, _, err := run(t, vars, "orgs", "set-limits", org.ID); err == nil || !strings.Contains(err.Error(), "--rate") {
		t.Fatalf("set-limits without flags: %v", err)
	}
	tok := jsonOf[client.Token](t, ok(t, vars, "tokens", "create", "--kind", "org", "--subject", org.ID, "--json"))
	orgVars := map[string]string{EnvAPI: srv.URL, EnvToken: tok.Token, datadir.Env: t.TempDir()}
	var ce *client.Error
	if _, _, err := run(t, orgVars, "orgs", "set-limits", org.ID, "--rate", "1000"); !errors.As(err, &ce) || ce.Code != "forbidden" {
		t.Fatalf("org token raising its own limit: %v", err)
	}
	if l := jsonOf[client.OrgLimits](t, ok(t, orgVars, "orgs", "limits", org.ID, "--json")); l.RatePerSec != 50 {
		t.Fatalf("org reads its limits: %+v", l)
	}
}

// TestQuarantineShown: a quarantine an edge reported (the audit event
// ingest writes) is shown by `installations quarantine` (table and --json)
// and by doctor as a failed check with its fix.
func TestQuarantineShown(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	ok(t, vars, "connect", "slack", "--org-name", "Acme", "--app-id", "A0ACME", "--external-id", "T0ACME", "--signing-secret", slackSigning,
		"--agent-url", "https://agent.example/a", "--self-test=false", "--packet=false", "--register=false")
	inst := jsonOf[[]client.Installation](t, ok(t, vars, "installations", "list", "--json"))[0]
	if q := jsonOf[client.Quarantine](t, ok(t, vars, "installations", "quarantine", inst.ID, "--json")); q.Quarantined || q.IngressID != inst.IngressID {
		t.Fatalf("before any report: %+v", q)
	}
	// An hour of cool-down left: in force whenever the test runs.
	since := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
	until := since.Add(time.Hour)
	for _, e := range []struct {
		action string
		detail map[string]any
	}{
		{"webhook.reject", map[string]any{"source": "edge", "reason": "bad_signature", "provider": "slack", "count": 101,
			"from": since.Add(-5 * time.Second).Format(time.RFC3339), "to": since.Format(time.RFC3339), "edge": "edge-1"}},
		{"ingress.quarantined", map[string]any{"source": "edge", "reason": "quarantined", "provider": "slack", "count": 1,
			"from": since.Format(time.RFC3339), "to": since.Format(time.RFC3339), "until": until.Format(time.RFC3339), "edge": "edge-1"}},
	} {
		d, _ := json.Marshal(e.detail)
		if _, err := srv.Store.AppendAudit(context.Background(), store.AuditEvent{At: since, Actor: "edge", OrgID: inst.OrgID,
			Action: e.action, Target: inst.ID, Detail: string(d)}); err != nil {
			t.Fatal(err)
		}
	}
	out := ok(t, vars, "installations", "quarantine", inst.ID)
	for _, want := range []string{"REFUSED/MIN", inst.IngressID, "true", since.Format(time.RFC3339), until.Format(time.RFC3339), "101", "edge-1",
		"quarantined since " + since.Format(time.RFC3339), "fix: "} {
		if !strings.Contains(out, want) {
			t.Errorf("installations quarantine lacks %q:\n%s", want, out)
		}
	}
	q := jsonOf[client.Quarantine](t, ok(t, vars, "installations", "quarantine", inst.ID, "--json"))
	if !q.Quarantined || q.Since == nil || !q.Since.Equal(since) || q.Until == nil || !q.Until.Equal(until) || q.RefusedPerMinute != 101 || q.Fix == "" {
		t.Fatalf("quarantine --json: %+v", q)
	}
	out, _, err := run(t, vars, "doctor", inst.ID)
	if err != (ExitError{Code: 1}) || !strings.Contains(out, "✗ quarantine") || !strings.Contains(out, "quarantined since "+since.Format(time.RFC3339)+", until "+until.Format(time.RFC3339)+", 101 refused/min") {
		t.Fatalf("doctor with a quarantine: %v\n%s", err, out)
	}
	h := jsonOf[client.Health](t, func() string { o, _, _ := run(t, vars, "doctor", inst.ID, "--json"); return o }())
	if hq, found := h.Quarantine(); !found || !hq.Quarantined || hq.RefusedPerMinute != 101 {
		t.Fatalf("doctor --json quarantine check: %v %+v", found, hq)
	}
	t.Logf("doctor:\n%s", out)
}
