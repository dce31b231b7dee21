package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/apitest"
	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/provider/slack/slacktest"
	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
)

// Test secrets (well-formed for their provider; none is a real credential).
const (
	slackSigning  = "8f742231b10e8888abcd99yyyzzz85a5"
	slackSigning2 = "0123456789abcdef0123456789abcdef"
	slackBot      = "xoxb-test-1234-secretbotvalue"
)

func mountXDS(t *testing.T) apitest.Options {
	return apitest.Options{Mount: func(s *api.Server, st store.Store, keys *secrets.Keyring) {
		c, err := xds.NewController(xds.ControllerConfig{Store: st, Keyring: keys, EdgeKey: bytes.Repeat([]byte{9}, 32),
			Resources: xds.ResourceOptions{IngestAddress: "127.0.0.1:1", ListenPort: 10000, WasmPath: "/filter.wasm"}})
		if err != nil {
			t.Fatal(err)
		}
		s.HandlePlatform("GET /v1/xds/status", c.StatusHandler())
	}}
}

func newClient(t *testing.T, base, token string) *client.Client {
	t.Helper()
	c, err := client.New(base, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// TestEveryRoute drives every route of the API through the client against
// the real api.Server and checks the typed answers; TestRoutesCovered then
// checks that no route of the API was left out.
func TestEveryRoute(t *testing.T) {
	slack := slacktest.New()
	defer slack.Close()
	slack.BotToken, slack.TeamID = "xoxb-test-5678-other", "T0ACME" // the rotated token, current when it registers
	opts := mountXDS(t)
	opts.PublicURL = "https://hooks.example.com"
	opts.APIURL = "https://api.example.com"
	opts.ProviderAPIs = api.ProviderAPIs{Base: map[string]string{"slack": slack.URL}}
	srv := apitest.New(t, opts)
	ctx := context.Background()
	admin := newClient(t, srv.URL, srv.Admin)

	who := must[client.Token](t, "whoami")(admin.Whoami(ctx))
	if who.Kind != client.TokenPlatform || who.ID == "" {
		t.Fatalf("whoami = %+v", who)
	}
	agc := must[client.Agency](t, "create agency")(admin.CreateAgency(ctx, client.CreateAgencyRequest{Name: "Acme Agency"}))
	if !strings.HasPrefix(agc.ID, "agc_") || agc.Name != "Acme Agency" || agc.CreatedAt.IsZero() {
		t.Fatalf("agency = %+v", agc)
	}
	if l := must[[]client.Agency](t, "list agencies")(admin.ListAgencies(ctx)); len(l) != 1 || l[0].ID != agc.ID {
		t.Fatalf("agencies = %+v", l)
	}
	if g := must[client.Agency](t, "get agency")(admin.GetAgency(ctx, agc.ID)); g.ID != agc.ID {
		t.Fatalf("get agency = %+v", g)
	}
	org := must[client.Org](t, "create org")(admin.CreateOrg(ctx, client.CreateOrgRequest{Name: "Acme", AgencyID: agc.ID}))
	if org.AgencyID != agc.ID {
		t.Fatalf("org = %+v", org)
	}
	if l := must[[]client.Org](t, "list orgs")(admin.ListOrgs(ctx, agc.ID)); len(l) != 1 || l[0].ID != org.ID {
		t.Fatalf("orgs of agency = %+v", l)
	}
	if g := must[client.Org](t, "get org")(admin.GetOrg(ctx, org.ID)); g.Name != "Acme" {
		t.Fatalf("get org = %+v", g)
	}
	if l := must[client.OrgLimits](t, "set org limits")(admin.SetOrgLimits(ctx, org.ID, client.SetOrgLimitsRequest{RatePerSec: 10, Burst: 20, MaxInFlight: 2})); l.OrgID != org.ID || l.RatePerSec != 10 || l.Burst != 20 || l.MaxInFlight != 2 || l.UpdatedAt == nil {
		t.Fatalf("set org limits = %+v", l)
	}
	if l := must[client.OrgLimits](t, "get org limits")(admin.GetOrgLimits(ctx, org.ID)); l.MaxInFlight != 2 || l.Burst != 20 {
		t.Fatalf("get org limits = %+v", l)
	}
	tok := must[client.Token](t, "create token")(admin.CreateToken(ctx, client.CreateTokenRequest{Kind: client.TokenOrg, SubjectID: org.ID}))
	if !strings.HasPrefix(tok.Token, "sbt_") || tok.SubjectID != org.ID {
		t.Fatalf("token = %+v", tok)
	}
	spare := must[client.Token](t, "create spare token")(admin.CreateToken(ctx, client.CreateTokenRequest{Kind: client.TokenOrg, SubjectID: org.ID}))
	if rot := must[client.Token](t, "rotate token")(admin.RotateToken(ctx, spare.ID, client.RotateTokenRequest{})); rot.Replaces != spare.ID || !strings.HasPrefix(rot.Token, "sbt_") || rot.SubjectID != org.ID {
		t.Fatalf("rotated token = %+v", rot)
	}
	owner := newClient(t, srv.URL+"/v1/", tok.Token) // a trailing /v1/ is accepted
	if w := must[client.Token](t, "org whoami")(owner.Whoami(ctx)); w.Kind != client.TokenOrg || w.SubjectID != org.ID {
		t.Fatalf("org whoami = %+v", w)
	}

	plat := must[client.Profile](t, "platform profile")(admin.CreateProfile(ctx, client.CreateProfileRequest{Provider: "slack", Name: "Platform Slack",
		ExternalAppID: "A0PLAT", Secrets: map[string]string{"signing": slackSigning2}}))
	if plat.Owner != "platform" || plat.WebhookPath == "" || len(plat.Secrets) != 1 {
		t.Fatalf("platform profile = %+v", plat)
	}
	prof := must[client.Profile](t, "org profile")(owner.CreateProfile(ctx, client.CreateProfileRequest{OrgID: org.ID, Provider: "slack",
		Name: "Acme Slack", ExternalAppID: "A0ACME", Secrets: map[string]string{"signing": slackSigning}}))
	if prof.Owner != "org" || len(prof.Secrets) != 1 || !strings.HasPrefix(prof.Secrets[0].Fingerprint, "hmac:") {
		t.Fatalf("org profile = %+v", prof)
	}
	if l := must[[]client.Profile](t, "list platform profiles")(owner.ListProfiles(ctx, client.ProfilesOfPlatform)); len(l) != 1 || l[0].ID != plat.ID {
		t.Fatalf("platform profiles = %+v", l)
	}
	if l := must[[]client.Profile](t, "list org profiles")(owner.ListProfiles(ctx, org.ID)); len(l) != 1 || l[0].ID != prof.ID {
		t.Fatalf("org profiles = %+v", l)
	}
	if g := must[client.Profile](t, "get profile")(owner.GetProfile(ctx, prof.ID)); g.ExternalAppID != "A0ACME" {
		t.Fatalf("get profile = %+v", g)
	}
	until := time.Now().Add(time.Hour)
	rot := must[client.Rotation](t, "rotate profile")(owner.RotateProfileSecret(ctx, prof.ID, "signing", client.RotateRequest{Value: slackSigning2, PreviousValidUntil: until}))
	if rot.OwnerID != prof.ID || rot.Purpose != "signing" || len(rot.Secrets) != 2 || rot.Value != "" {
		t.Fatalf("profile rotation = %+v", rot)
	}

	inst := must[client.Installation](t, "create installation")(owner.CreateInstallation(ctx, client.CreateInstallationRequest{OrgID: org.ID, ProfileID: prof.ID,
		ExternalID: "T0ACME", Secrets: map[string]string{"bot_token": slackBot}}))
	if inst.Provider != "slack" || len(inst.IngressID) != 32 || inst.WebhookPath != "/v1/hooks/slack/"+inst.IngressID {
		t.Fatalf("installation = %+v", inst)
	}
	if l := must[[]client.Installation](t, "list installations")(owner.ListInstallations(ctx, org.ID)); len(l) != 1 || l[0].ID != inst.ID {
		t.Fatalf("installations = %+v", l)
	}
	if g := must[client.Installation](t, "get installation")(owner.GetInstallation(ctx, inst.ID)); g.ExternalID != "T0ACME" {
		t.Fatalf("get installation = %+v", g)
	}
	rot = must[client.Rotation](t, "rotate installation")(owner.RotateInstallationSecret(ctx, inst.ID, "bot_token", client.RotateRequest{Value: "xoxb-test-5678-other", PreviousValidUntil: until}))
	if rot.OwnerKind == "" || rot.Purpose != "bot_token" {
		t.Fatalf("installation rotation = %+v", rot)
	}
	if inst.WebhookURL != "https://hooks.example.com"+inst.WebhookPath {
		t.Fatalf("webhook_url %q", inst.WebhookURL)
	}
	reg := must[client.Registration](t, "register")(owner.Register(ctx, inst.ID, client.RegisterRequest{}))
	if !reg.OK || reg.Provider != "slack" || len(reg.Steps) == 0 || reg.Steps[0].Name == "" {
		t.Fatalf("registration = %+v", reg)
	}
	hl := must[client.Health](t, "health")(owner.Health(ctx, inst.ID))
	if hl.InstallationID != inst.ID || len(hl.Checks) < 5 {
		t.Fatalf("health = %+v", hl)
	}
	for _, c := range hl.Checks {
		if c.Name == "" || (c.Status != client.CheckPass && c.Status != client.CheckFail && c.Status != client.CheckSkip) || c.OK == (c.Status == client.CheckFail) {
			t.Fatalf("health check %+v", c)
		}
	}
	qu := must[client.Quarantine](t, "quarantine")(owner.Quarantine(ctx, inst.ID))
	if hq, ok := hl.Quarantine(); qu.InstallationID != inst.ID || qu.IngressID != inst.IngressID || qu.Quarantined || qu.Detail == "" || !ok || hq.Detail != qu.Detail {
		t.Fatalf("quarantine = %+v, health's %v %+v", qu, ok, hq)
	}
	// OAuth: the org's own app, reinstalled into its workspace (a new bot token for the same installation).
	slack.AppID = "A0ACME"
	oc := must[client.OAuthClient](t, "set oauth client")(owner.SetOAuthClient(ctx, prof.ID, client.OAuthClientRequest{ClientID: slack.ClientID, ClientSecret: slack.ClientSecret}))
	if oc.ClientID != slack.ClientID || oc.RedirectURL != "https://api.example.com/v1/oauth/slack/callback" || !strings.HasPrefix(oc.ClientSecretFingerprint, "hmac:") {
		t.Fatalf("oauth client = %+v", oc)
	}
	ost := must[client.OAuthStart](t, "oauth start")(owner.StartOAuth(ctx, "slack", prof.ID, org.ID))
	au, err := url.Parse(ost.AuthorizeURL)
	if err != nil || au.Query().Get("state") == "" || au.Query().Get("client_id") != slack.ClientID {
		t.Fatalf("oauth start = %+v", ost)
	}
	oi := must[client.Installation](t, "oauth callback")(owner.OAuthCallback(ctx, "slack", slack.Code, au.Query().Get("state"), ""))
	if oi.ID != inst.ID || oi.ExternalID != "T0ACME" {
		t.Fatalf("oauth install = %+v", oi)
	}
	pc := must[client.Installation](t, "platform credentials")(admin.SetPlatformCredentials(ctx, inst.ID, client.PlatformCredentialsRequest{Enabled: true, Reason: "test"}))
	if !pc.PlatformCredentials {
		t.Fatalf("platform credentials not set: %+v", pc)
	}

	agent := must[client.Agent](t, "create agent")(owner.CreateAgent(ctx, client.CreateAgentRequest{OrgID: org.ID, Name: "demo", URL: "https://agent.example/hook"}))
	if !strings.HasPrefix(agent.SigningSecret, "whsec_") {
		t.Fatalf("agent = %+v", agent)
	}
	if g := must[client.Agent](t, "get agent")(owner.GetAgent(ctx, agent.ID)); g.SigningSecret != "" || g.URL != "https://agent.example/hook" {
		t.Fatalf("get agent = %+v", g)
	}
	if l := must[[]client.Agent](t, "list agents")(owner.ListAgents(ctx, org.ID)); len(l) != 1 {
		t.Fatalf("agents = %+v", l)
	}
	rot = must[client.Rotation](t, "rotate agent")(owner.RotateAgentSecret(ctx, agent.ID, "signing", client.RotateRequest{PreviousValidUntil: until}))
	if !strings.HasPrefix(rot.Value, "whsec_") {
		t.Fatalf("agent rotation did not return the generated value: %+v", rot)
	}

	b := must[client.Binding](t, "create binding")(owner.CreateBinding(ctx, client.CreateBindingRequest{InstallationID: inst.ID, AgentID: agent.ID,
		Selector: client.Selector{Channel: "C1"}, Persona: "support", Priority: 5}))
	if b.Selector.Channel != "C1" || b.Priority != 5 || b.OrgID != org.ID {
		t.Fatalf("binding = %+v", b)
	}
	if l := must[[]client.Binding](t, "list bindings")(owner.ListBindings(ctx, client.BindingFilter{InstallationID: inst.ID})); len(l) != 1 {
		t.Fatalf("bindings = %+v", l)
	}
	if g := must[client.Binding](t, "get binding")(owner.GetBinding(ctx, b.ID)); g.Persona != "support" {
		t.Fatalf("get binding = %+v", g)
	}

	if l := must[[]client.Stage](t, "list stages")(owner.ListStages(ctx)); len(l) == 0 {
		t.Fatal("no provider stages")
	}
	st := must[client.Stage](t, "set stage")(admin.SetStage(ctx, "telegram", client.SetStageRequest{Stage: client.StageCanary, CanaryOrgs: []string{org.ID}}))
	if st.Stage != client.StageCanary || len(st.CanaryOrgs) != 1 {
		t.Fatalf("stage = %+v", st)
	}
	if g := must[client.Stage](t, "get stage")(owner.GetStage(ctx, "telegram")); g.Stage != client.StageCanary || g.Unset {
		t.Fatalf("get stage = %+v", g)
	}
	// Stages are explicit: slack must be on for the simulation to deliver.
	if err := srv.Store.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: store.StageOn, UpdatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	testRollout(t, admin, org.ID)
	sim := must[client.Simulation](t, "simulate")(owner.Simulate(ctx, client.SimulateRequest{InstallationID: inst.ID,
		Event: &client.SimulateEvent{Account: "T0ACME", Channel: "C1", User: "U1", Text: "hello"}}))
	if sim.Enqueued || len(sim.Events) != 1 || len(sim.Events[0].Targets) != 1 || sim.Events[0].Targets[0].AgentID != agent.ID ||
		!sim.Events[0].Bindings[0].Won || sim.Events[0].Outcome != "delivered" {
		t.Fatalf("simulation = %+v", sim)
	}
	payload := `{"type":"event_callback","team_id":"T0ACME","api_app_id":"A0ACME","event_id":"Ev1","event":{"type":"message","channel":"C2","user":"U1","text":"hi","ts":"1.1"}}`
	sim = must[client.Simulation](t, "simulate payload")(owner.Simulate(ctx, client.SimulateRequest{InstallationID: inst.ID, Payload: json.RawMessage(payload)}))
	if len(sim.Events) != 1 || len(sim.Events[0].Targets) != 0 || sim.Events[0].Bindings[0].Matched {
		t.Fatalf("simulation of another channel = %+v", sim)
	}
	pk := must[client.SetupPacket](t, "installation setup")(owner.InstallationSetup(ctx, inst.ID))
	if pk.Provider != "slack" || pk.ID != inst.ID || len(pk.Steps) == 0 || len(pk.Checklists) == 0 {
		t.Fatalf("installation packet = %+v", pk)
	}
	md := must[string](t, "installation setup markdown")(owner.InstallationSetupMarkdown(ctx, inst.ID))
	if !strings.HasPrefix(md, "#") || strings.Contains(md, slackSigning) || strings.Contains(md, slackBot) {
		t.Fatalf("installation packet markdown:\n%s", md)
	}
	if pk := must[client.SetupPacket](t, "profile setup")(owner.ProfileSetup(ctx, prof.ID)); pk.Kind != "profile" {
		t.Fatalf("profile packet = %+v", pk)
	}
	if md := must[string](t, "profile setup markdown")(owner.ProfileSetupMarkdown(ctx, prof.ID)); !strings.HasPrefix(md, "#") {
		t.Fatalf("profile packet markdown:\n%s", md)
	}
	ho := must[client.Handoff](t, "handoff")(owner.SetHandoff(ctx, inst.ID, client.Handoff{OwnerAccount: "it@acme.example", CanaryChannel: "C1", NextRotation: "2030-01-01"}))
	if ho.OwnerAccount != "it@acme.example" || ho.UpdatedAt == nil || ho.UpdatedBy == "" {
		t.Fatalf("handoff = %+v", ho)
	}
	if pk := must[client.SetupPacket](t, "setup with handoff")(owner.InstallationSetup(ctx, inst.ID)); pk.Handoff == nil || pk.Handoff.CanaryChannel != "C1" {
		t.Fatalf("packet without the handoff: %+v", pk.Handoff)
	}
	xs := must[client.XDSStatus](t, "xds status")(admin.XDSStatus(ctx))
	if xs.Groups == nil || xs.Nodes == nil {
		t.Fatalf("xds status = %+v", xs)
	}

	// Revocations, children first.
	if r := must[client.Binding](t, "revoke binding")(owner.RevokeBinding(ctx, b.ID)); r.RevokedAt == nil {
		t.Fatalf("binding not revoked: %+v", r)
	}
	if r := must[client.Agent](t, "revoke agent")(owner.RevokeAgent(ctx, agent.ID)); r.RevokedAt == nil {
		t.Fatal("agent not revoked")
	}
	if r := must[client.Installation](t, "revoke installation")(owner.RevokeInstallation(ctx, inst.ID)); r.RevokedAt == nil {
		t.Fatal("installation not revoked")
	}
	if r := must[client.Profile](t, "revoke profile")(owner.RevokeProfile(ctx, prof.ID)); r.RevokedAt == nil {
		t.Fatal("profile not revoked")
	}
	page := must[client.AuditPage](t, "audit")(owner.Audit(ctx, client.AuditQuery{OrgID: org.ID, Limit: 3}))
	if len(page.Items) != 3 || page.NextAfter == 0 || page.Items[0].Action == "" {
		t.Fatalf("audit page = %+v", page)
	}
	next := must[client.AuditPage](t, "audit page 2")(owner.Audit(ctx, client.AuditQuery{OrgID: org.ID, After: page.NextAfter, Limit: 1000}))
	if len(next.Items) == 0 || next.Items[0].ID <= page.Items[2].ID {
		t.Fatalf("audit page 2 = %+v", next)
	}
	if l := must[[]client.TokenInfo](t, "list tokens")(admin.ListTokens(ctx)); !slices.ContainsFunc(l, func(i client.TokenInfo) bool { return i.ID == tok.ID && !i.Revoked }) {
		t.Errorf("token %s not listed: %+v", tok.ID, l)
	}
	if g := must[client.TokenInfo](t, "get token")(admin.GetToken(ctx, tok.ID)); g.ID != tok.ID || g.Kind != tok.Kind || g.CreatedAt.IsZero() {
		t.Errorf("get token: %+v", g)
	}
	if r := must[client.RevokedToken](t, "revoke token")(admin.RevokeToken(ctx, tok.ID)); !r.Revoked {
		t.Fatal("token not revoked")
	}
	if _, err := owner.Whoami(ctx); client.ErrorCode(err) != client.CodeUnauthorized {
		t.Fatalf("revoked token: %v, want unauthorized", err)
	}
	if r := must[client.Org](t, "revoke org")(admin.RevokeOrg(ctx, org.ID)); r.RevokedAt == nil {
		t.Fatal("org not revoked")
	}
	if r := must[client.Agency](t, "revoke agency")(admin.RevokeAgency(ctx, agc.ID)); r.RevokedAt == nil {
		t.Fatal("agency not revoked")
	}

	covered = srv.Requests()
}

// covered is every request TestEveryRoute made.
var covered []string

// coveredElsewhere are routes mounted outside package api, with the test
// that drives them through the client.
var coveredElsewhere = map[string]string{
	"PUT /v1/xds/groups/{group}": "cmd/switchboard TestClientXDSGroups",
}

// TestRoutesCovered reads every route pattern of the API's source and
// fails when TestEveryRoute did not call it: a route added to the API must
// get its client method (and its line in TestEveryRoute).
func TestRoutesCovered(t *testing.T) {
	if covered == nil {
		t.Skip("TestEveryRoute did not run (-run)")
	}
	patterns := routePatterns(t)
	if len(patterns) < 30 {
		t.Fatalf("found only %d route patterns in the API's source: the scan is broken", len(patterns))
	}
	var missing []string
	for _, p := range patterns {
		if coveredElsewhere[p] != "" {
			continue
		}
		hit := false
		for _, r := range covered {
			if matchRoute(p, r) {
				hit = true
				break
			}
		}
		if !hit {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("routes without a client call in TestEveryRoute:\n  %s", strings.Join(missing, "\n  "))
	}
}

var routeRE = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /v1/[^"]*)"`)

// routePatterns are the ServeMux patterns in the non-test Go files of api/
// and of cmd/switchboard (routes mounted with HandlePlatform).
func routePatterns(t *testing.T) []string {
	seen := map[string]bool{}
	for _, dir := range []string{"../api", "../cmd/switchboard"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range routeRE.FindAllStringSubmatch(string(b), -1) {
				if dir == "../cmd/switchboard" && !strings.Contains(string(b), "HandlePlatform(\""+m[1]) {
					continue
				}
				seen[m[1]] = true
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// matchRoute reports whether request "METHOD /path" matches pattern
// "METHOD /v1/x/{id}/y".
func matchRoute(pattern, request string) bool {
	pm, pp, _ := strings.Cut(pattern, " ")
	rm, rp, _ := strings.Cut(request, " ")
	if pm != rm {
		return false
	}
	ps, rs := strings.Split(pp, "/"), strings.Split(rp, "/")
	for i, s := range ps {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}") {
			return len(rs) >= i
		}
		if i >= len(rs) {
			return false
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if rs[i] == "" {
				return false
			}
			continue
		}
		if s != rs[i] {
			return false
		}
	}
	return len(ps) == len(rs)
}

func TestMatchRoute(t *testing.T) {
	for _, c := range []struct {
		p, r string
		ok   bool
	}{
		{"GET /v1/orgs/{id}", "GET /v1/orgs/org_1", true},
		{"GET /v1/orgs/{id}", "POST /v1/orgs/org_1", false},
		{"GET /v1/orgs/{id}", "GET /v1/orgs", false},
		{"GET /v1/orgs/{id}", "GET /v1/orgs/org_1/revoke", false},
		{"GET /v1/orgs", "GET /v1/orgs", true},
		{"POST /v1/x/{id}/secrets/{purpose}/rotate", "POST /v1/x/a/secrets/signing/rotate", true},
	} {
		if got := matchRoute(c.p, c.r); got != c.ok {
			t.Errorf("matchRoute(%q, %q) = %v", c.p, c.r, got)
		}
	}
}

// TestErrorsAreTyped: refusals carry the API's status, code, field and
// message; nothing in them is a secret.
func TestErrorsAreTyped(t *testing.T) {
	srv := apitest.New(t)
	ctx := context.Background()
	admin := newClient(t, srv.URL, srv.Admin)
	org := must[client.Org](t, "org")(admin.CreateOrg(ctx, client.CreateOrgRequest{Name: "Acme"}))

	badSecret := "short-but-secret"
	_, err := admin.CreateProfile(ctx, client.CreateProfileRequest{OrgID: org.ID, Provider: "slack", Name: "x", Secrets: map[string]string{"signing": badSecret}})
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("bad secret: %v (%T), want *client.Error", err, err)
	}
	if e.Status != 400 || e.Code != client.CodeInvalidField || e.Field != "secrets.signing" || e.Message == "" || e.Method != "POST" || e.Path != "/v1/profiles" {
		t.Fatalf("bad secret: %+v", e)
	}
	if strings.Contains(err.Error(), badSecret) {
		t.Fatalf("error holds the secret: %v", err)
	}
	if want := "POST /v1/profiles: 400 invalid_field: secrets.signing: "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error text %q, want prefix %q", err.Error(), want)
	}

	_, err = admin.GetOrg(ctx, "org_nosuch")
	if !client.IsNotFound(err) {
		t.Fatalf("missing org: %v", err)
	}
	_, err = admin.GetOrg(ctx, "../../whoami") // escaped: stays one path segment
	if !client.IsNotFound(err) {
		t.Fatalf("path-like id: %v, want not_found", err)
	}
	_, err = admin.CreateOrg(ctx, client.CreateOrgRequest{})
	if !errors.As(err, &e) || e.Field != "name" {
		t.Fatalf("no name: %v", err)
	}
	_, err = admin.RotateProfileSecret(ctx, "prof_x", "signing", client.RotateRequest{Value: slackSigning})
	if client.ErrorCode(err) == "" {
		t.Fatalf("rotation without previous_valid_until: %v", err)
	}

	anon := newClient(t, srv.URL, "sbt_not-a-token-at-all-really")
	_, err = anon.Whoami(ctx)
	if !errors.As(err, &e) || e.Status != 401 || e.Code != client.CodeUnauthorized {
		t.Fatalf("unknown token: %v", err)
	}
	if strings.Contains(err.Error(), "sbt_not-a-token") {
		t.Fatalf("error holds the token: %v", err)
	}

	orgTok := must[client.Token](t, "token")(admin.CreateToken(ctx, client.CreateTokenRequest{Kind: client.TokenOrg, SubjectID: org.ID}))
	_, err = newClient(t, srv.URL, orgTok.Token).CreateAgency(ctx, client.CreateAgencyRequest{Name: "x"})
	if client.ErrorCode(err) != client.CodeForbidden {
		t.Fatalf("org creating an agency: %v", err)
	}
	if err := admin.Do(ctx, "GET", "/v1/nosuch", nil, nil); client.ErrorCode(err) != client.CodeMethodOrRoute {
		t.Fatalf("unknown route: %v", err)
	}
}

// TestCodesMatchAPI: the client's codes are the API's.
func TestCodesMatchAPI(t *testing.T) {
	for c, a := range map[string]string{
		client.CodeUnauthorized: api.CodeUnauthorized, client.CodeForbidden: api.CodeForbidden, client.CodeNotFound: api.CodeNotFound,
		client.CodeInvalidJSON: api.CodeInvalidJSON, client.CodeUnknownField: api.CodeUnknownField, client.CodeInvalidField: api.CodeInvalidField,
		client.CodeBodyTooLarge: api.CodeBodyTooLarge, client.CodeConflict: api.CodeConflict, client.CodeInternal: api.CodeInternal,
		client.CodeMethodOrRoute: api.CodeMethodOrRoute,
	} {
		if c != a {
			t.Errorf("client code %q, API code %q", c, a)
		}
	}
}

// TestNonAPIAnswer: an answer that is not the API's error format (another
// server at the address) is an *Error with a short excerpt, no code.
func TestNonAPIAnswer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("not the switchboard API ", 50), http.StatusBadGateway)
	}))
	defer other.Close()
	_, err := newClient(t, other.URL, "sbt_x").Whoami(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || !strings.HasPrefix(e.Message, "not the switchboard API") || len(e.Message) > 210 {
		t.Fatalf("non-API answer: %#v", err)
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer ok.Close()
	if _, err := newClient(t, ok.URL, "sbt_x").Whoami(context.Background()); err == nil || !strings.Contains(err.Error(), "decode answer") {
		t.Fatalf("non-JSON 200: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		in, base, err string
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"https://sb.example/v1/", "https://sb.example", ""},
		{"https://sb.example/prefix/v1", "https://sb.example/prefix", ""},
		{"ftp://sb.example", "", "scheme"},
		{"http://", "", "no host"},
		{"http://user:pw@sb.example", "", "credentials"},
	} {
		cl, err := client.New(c.in, "t")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("New(%q) = %v, want error with %q", c.in, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("New(%q) error holds the password: %v", c.in, err)
			}
			continue
		}
		if err != nil || cl.BaseURL() != c.base {
			t.Errorf("New(%q) = %v, %v; want %s", c.in, cl, err, c.base)
		}
	}
}

// testRollout drives every /v1/rollout route: canary, a refused promotion,
// evidence, probes, the accepted promotion and a rollback.
func testRollout(t *testing.T, admin *client.Client, org string) {
	ctx := context.Background()
	if l := must[[]client.Rollout](t, "list rollout")(admin.ListRollout(ctx)); len(l) == 0 || !l[0].Unset && l[0].Stage == "" {
		t.Fatalf("rollout = %+v", l)
	}
	if r := must[client.Rollout](t, "canary")(admin.Canary(ctx, "line", client.CanaryRequest{CanaryOrgs: []string{org}, Reason: "first"})); r.Stage != client.StageCanary {
		t.Fatalf("canary = %+v", r)
	}
	if _, err := admin.Promote(ctx, "line", client.PromoteRequest{}); client.ErrorCode(err) != client.CodeConflict || !strings.Contains(err.Error(), "matrix") {
		t.Fatalf("promote without evidence: %v", err)
	}
	time.Sleep(2 * time.Millisecond) // evidence must be newer than the canary change
	cases := []map[string]any{}
	for _, c := range rollout.MatrixCases {
		cases = append(cases, map[string]any{"name": c.Name, "expected": c.Expected, "observed": c.Expected})
	}
	m := must[client.Evidence](t, "matrix evidence")(admin.RecordEvidence(ctx, "line", client.EvidenceRequest{Kind: "matrix",
		Report: map[string]any{"provider": "line", "cases": cases, "edge_config_version": "v", "binary_version": "b"}}))
	verdicts := []rollout.Verdict{}
	for _, n := range rollout.LoadThresholds {
		verdicts = append(verdicts, rollout.Verdict{Name: n, Op: rollout.OpAtMost, Limit: 1})
	}
	l := must[client.Evidence](t, "load evidence")(admin.RecordEvidence(ctx, "line", client.EvidenceRequest{Kind: "load",
		Report: map[string]any{"provider": "line", "requests": 10, "verdicts": verdicts}}))
	if !m.Passed || !l.Passed || m.Document == "" {
		t.Fatalf("evidence = %+v %+v", m, l)
	}
	if e := must[[]client.Evidence](t, "list evidence")(admin.ListEvidence(ctx, "line")); len(e) != 2 {
		t.Fatalf("evidence list = %+v", e)
	}
	if e := must[client.Evidence](t, "get evidence")(admin.GetEvidence(ctx, "line", m.ID)); e.Document != m.Document {
		t.Fatalf("evidence = %+v", e)
	}
	if k := must[client.EvidenceKey](t, "evidence key")(admin.GetEvidenceKey(ctx)); k.KeyID != m.KeyID {
		t.Fatalf("key = %+v, evidence signed by %s", k, m.KeyID)
	}
	p := must[client.Probe](t, "probe")(admin.CreateProbe(ctx, "line", "matrix"))
	must[client.Org](t, "revoke probe org")(admin.RevokeOrg(ctx, p.OrgID))
	if err := admin.RemoveProbe(ctx, "line", p.OrgID); err != nil {
		t.Fatalf("remove probe: %v", err)
	}
	if r := must[client.Rollout](t, "promote")(admin.Promote(ctx, "line", client.PromoteRequest{Reason: "green"})); r.Stage != client.StageOn {
		t.Fatalf("promote = %+v", r)
	}
	if r := must[client.Rollout](t, "get rollout")(admin.GetRollout(ctx, "line")); r.PreviousStage != client.StageCanary {
		t.Fatalf("rollout = %+v", r)
	}
	if r := must[client.Rollout](t, "rollback")(admin.Rollback(ctx, "line", client.RollbackRequest{Reason: "test", To: "off"})); r.Stage != client.StageOff {
		t.Fatalf("rollback = %+v", r)
	}
}
