// Package probe runs live checks against a running deployment on behalf of
// the rollout gate: it creates probe organisations (through the API's
// /v1/rollout/{provider}/probes, so no tenant sees them and they are admitted
// at canary), their installations of the provider, and a probe agent (a
// Standard Webhooks receiver in this process) that records every delivery;
// it signs provider requests with package testevent and cleans everything
// up afterwards. `switchboard matrix run` and `switchboard loadtest run` use it.
package probe

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/demoagent"
	"github.com/switchboard-dev/switchboard/testevent"
)

// Providers the probe can install (each needs a recipe below).
var Providers = []string{"slack", "telegram", "whatsapp", "discord", "standardwebhooks"}

// Supported reports whether the probe can install provider.
func Supported(provider string) bool {
	for _, p := range Providers {
		if p == provider {
			return true
		}
	}
	return false
}

// Install is one probe installation with what its provider signs with.
type Install struct {
	Org, ID, ProfileID, Ingress, Account, AppID, Provider string
	Cred                                                  testevent.Credentials
	// Purpose is the secret purpose the edge verifies with, and Owner
	// ("profile" or "installation") where it lives.
	Purpose, Owner string
}

// Path is the installation's webhook path.
func (in Install) Path() string { return "/v1/hooks/" + in.Provider + "/" + in.Ingress }

// Event is a test event of in carrying text.
func (in Install) Event(text string, now time.Time) testevent.Event {
	return testevent.Event{Provider: in.Provider, Account: in.Account, AppID: in.AppID, Text: text, Now: now}.Defaults()
}

// Config sets a Harness up.
type Config struct {
	API      *client.Client
	Provider string
	Edge     string // base URL of the edge providers POST to
	// AgentListen is where the probe agent listens ("127.0.0.1:0": any
	// loopback port); AgentURL is the URL the workers reach it at ("":
	// http://<listen address>/).
	AgentListen, AgentURL string
	Tenants               int // probe organisations (at least 2 for cross-tenant cases)
	// AgentDelay, when set, is how long the probe agent waits before it
	// takes a delivery of the organisation (a slow agent, for the fairness
	// scenarios).
	AgentDelay func(org string) time.Duration
	Name       string
	HTTP       *http.Client
	Logger     *slog.Logger
}

// Harness is a set-up probe.
type Harness struct {
	cfg      Config
	Agent    *demoagent.Handler
	agentSrv *http.Server
	agentURL string
	Orgs     []string
	Agents   []string
	Installs []Install // one per tenant, in Orgs order
	http     *http.Client
	cleanups []func(ctx context.Context) error
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = '1' + b[i]%9
	}
	return string(b)
}

// recipe makes an installation's secrets for provider.
type recipe struct {
	purpose, owner string // verification secret purpose, and where it lives
	account        func() string
	appID          func() string
	secret         func() (value string, cred testevent.Credentials)
	extraProfile   map[string]string
}

var recipes = map[string]recipe{
	"slack": {purpose: "signing", owner: "profile", account: func() string { return "T" + strings.ToUpper(randHex(5)) },
		appID:  func() string { return "A" + strings.ToUpper(randHex(5)) },
		secret: func() (string, testevent.Credentials) { s := randHex(16); return s, testevent.Credentials{Secret: s} }},
	"telegram": {purpose: "secret_token", owner: "installation", account: func() string { return randDigits(9) },
		secret: func() (string, testevent.Credentials) {
			s := "sbprobe_" + randHex(16)
			return s, testevent.Credentials{Secret: s}
		}},
	"whatsapp": {purpose: "signing", owner: "profile", account: func() string { return randDigits(15) },
		secret:       func() (string, testevent.Credentials) { s := randHex(16); return s, testevent.Credentials{Secret: s} },
		extraProfile: map[string]string{"verify_token": "sbprobe-verify"}},
	"discord": {purpose: "public_key", owner: "profile", account: func() string { return randDigits(18) },
		appID: func() string { return randDigits(19) },
		secret: func() (string, testevent.Credentials) {
			_, k, _ := ed25519.GenerateKey(rand.Reader)
			return testevent.PublicKeyHex(k), testevent.Credentials{PrivateKey: k}
		}},
	"standardwebhooks": {purpose: "signing", owner: "profile", account: func() string { return "acct_" + randHex(6) },
		secret: func() (string, testevent.Credentials) {
			s := "whsec_" + base64.StdEncoding.EncodeToString([]byte(randHex(16)))
			return s, testevent.Credentials{Secret: s}
		}},
}

// slowAgent delays each delivery to next by delay(its envelope's org).
func slowAgent(next http.Handler, delay func(org string) time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		var env struct {
			OrgID string `json:"org_id"`
		}
		if json.Unmarshal(body, &env) == nil {
			if d := delay(env.OrgID); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
					return
				}
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// Setup creates the probe organisations, agents, installations and
// bindings, and starts the probe agent. Call Cleanup when done, even after
// an error.
func Setup(ctx context.Context, cfg Config) (*Harness, error) {
	rc, ok := recipes[cfg.Provider]
	if !ok {
		return nil, fmt.Errorf("the probe cannot install %s yet (it can: %s)", cfg.Provider, strings.Join(Providers, ", "))
	}
	if cfg.Tenants < 1 {
		cfg.Tenants = 2
	}
	if cfg.Name == "" {
		cfg.Name = "probe"
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Harness{cfg: cfg, http: cfg.HTTP}
	agentSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(randHex(16)))
	agent, err := demoagent.New(demoagent.Config{Secrets: []string{agentSecret}, Keep: 1 << 20, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	h.Agent = agent
	listen := cfg.AgentListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("probe agent: listen %s: %w", listen, err)
	}
	var handler http.Handler = agent
	if cfg.AgentDelay != nil {
		handler = slowAgent(agent, cfg.AgentDelay)
	}
	h.agentSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go h.agentSrv.Serve(ln)
	h.agentURL = cfg.AgentURL
	if h.agentURL == "" {
		h.agentURL = "http://" + ln.Addr().String() + "/"
	}
	for i := 0; i < cfg.Tenants; i++ {
		in, err := h.addTenant(ctx, rc, fmt.Sprintf("%s-%d", cfg.Name, i+1), agentSecret)
		if err != nil {
			return h, err
		}
		h.Installs = append(h.Installs, in)
	}
	return h, nil
}

func (h *Harness) addTenant(ctx context.Context, rc recipe, name, agentSecret string) (Install, error) {
	c, prov := h.cfg.API, h.cfg.Provider
	p, err := c.CreateProbe(ctx, prov, name)
	if err != nil {
		return Install{}, fmt.Errorf("create probe organisation: %w", err)
	}
	h.Orgs = append(h.Orgs, p.OrgID)
	org := p.OrgID
	h.cleanups = append(h.cleanups, func(ctx context.Context) error {
		if _, err := c.RevokeOrg(ctx, org); err != nil {
			return fmt.Errorf("revoke probe organisation %s: %w", org, err)
		}
		return c.RemoveProbe(ctx, prov, org)
	})
	ag, err := c.CreateAgent(ctx, client.CreateAgentRequest{OrgID: org, Name: "probe agent", URL: h.agentURL, SigningSecret: agentSecret})
	if err != nil {
		return Install{}, fmt.Errorf("create probe agent: %w", err)
	}
	h.Agents = append(h.Agents, ag.ID)
	return h.install(ctx, rc, org, ag.ID)
}

// install creates one more installation (own profile) of the provider for
// org, bound to agent.
func (h *Harness) install(ctx context.Context, rc recipe, org, agent string) (Install, error) {
	c, prov := h.cfg.API, h.cfg.Provider
	secret, cred := rc.secret()
	in := Install{Org: org, Provider: prov, Account: rc.account(), Cred: cred, Purpose: rc.purpose, Owner: rc.owner}
	if rc.appID != nil {
		in.AppID = rc.appID()
	}
	profSecrets, instSecrets := map[string]string{}, map[string]string{}
	for k, v := range rc.extraProfile {
		profSecrets[k] = v
	}
	if rc.owner == "profile" {
		profSecrets[rc.purpose] = secret
	} else {
		instSecrets[rc.purpose] = secret
	}
	pr, err := c.CreateProfile(ctx, client.CreateProfileRequest{OrgID: org, Provider: prov, Name: "probe app", ExternalAppID: in.AppID, Secrets: profSecrets})
	if err != nil {
		return in, fmt.Errorf("create probe profile: %w", err)
	}
	in.ProfileID = pr.ID
	inst, err := c.CreateInstallation(ctx, client.CreateInstallationRequest{OrgID: org, ProfileID: pr.ID, ExternalID: in.Account, Secrets: instSecrets})
	if err != nil {
		return in, fmt.Errorf("create probe installation: %w", err)
	}
	in.ID, in.Ingress = inst.ID, inst.IngressID
	if _, err := c.CreateBinding(ctx, client.CreateBindingRequest{InstallationID: inst.ID, AgentID: agent, Persona: "probe"}); err != nil {
		return in, fmt.Errorf("bind probe installation: %w", err)
	}
	return in, nil
}

// Extra creates one more installation in the first probe organisation
// (for the revoked case).
func (h *Harness) Extra(ctx context.Context) (Install, error) {
	if len(h.Orgs) == 0 {
		return Install{}, errors.New("no probe organisation")
	}
	return h.install(ctx, recipes[h.cfg.Provider], h.Orgs[0], h.Agents[0])
}

// Rotate replaces in's verification secret with a new one, ending the old
// one now; it returns in with the new credentials and the old ones.
func (h *Harness) Rotate(ctx context.Context, in Install) (Install, testevent.Credentials, time.Time, error) {
	rc := recipes[h.cfg.Provider]
	secret, cred := rc.secret()
	// The API takes whole seconds, not in the past: the old secret ends
	// within two seconds.
	until := time.Now().UTC().Add(time.Second)
	req := client.RotateRequest{Value: secret, PreviousValidUntil: until}
	var err error
	if in.Owner == "profile" {
		_, err = h.cfg.API.RotateProfileSecret(ctx, in.ProfileID, in.Purpose, req)
	} else {
		_, err = h.cfg.API.RotateInstallationSecret(ctx, in.ID, in.Purpose, req)
	}
	if err != nil {
		return in, in.Cred, until, fmt.Errorf("rotate probe secret: %w", err)
	}
	old := in.Cred
	in.Cred = cred
	return in, old, until.Truncate(time.Second), nil
}

// Signed is a request ready to send.
type Signed = testevent.Signed

// Sign signs ev for in at base (the edge's base URL) with cred at ev.Now.
func Sign(base string, in Install, ev testevent.Event, cred testevent.Credentials) (Signed, error) {
	body, ct, err := testevent.Body(ev)
	if err != nil {
		return Signed{}, err
	}
	return testevent.Sign(in.Provider, strings.TrimRight(base, "/")+in.Path(), body, ct, cred, ev.Now)
}

// Answer is what the edge (or ingest) said.
type Answer struct {
	Status int
	Reason string
}

// Send POSTs s (to its own URL) and reads the typed reason of a refusal.
func (h *Harness) Send(ctx context.Context, s Signed) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader(string(s.Body)))
	if err != nil {
		return Answer{}, err
	}
	for _, hd := range s.Headers {
		req.Header.Add(hd[0], hd[1])
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return Answer{Status: resp.StatusCode, Reason: reasonOf(b)}, nil
}

func reasonOf(b []byte) string {
	s := string(b)
	i := strings.Index(s, `"error":"`)
	if i < 0 {
		return ""
	}
	s = s[i+9:]
	if j := strings.IndexByte(s, '"'); j >= 0 && j <= 64 {
		return s[:j]
	}
	return ""
}

// WaitReady resends a valid control to every probe installation until the
// edge accepts it (its configuration reached the edge), up to within.
func (h *Harness) WaitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for i, in := range h.Installs {
		for {
			s, err := Sign(h.cfg.Edge, in, in.Event(fmt.Sprintf("sbprobe-ready-%d-%s", i, randHex(4)), time.Now()), in.Cred)
			if err != nil {
				return err
			}
			a, err := h.Send(ctx, s)
			if err == nil && a.Status/100 == 2 {
				break
			}
			if time.Now().After(deadline) {
				if err != nil {
					return fmt.Errorf("the edge did not accept the probe installation within %s: %w", within, err)
				}
				return fmt.Errorf("the edge did not accept the probe installation within %s (last answer %d %s)", within, a.Status, a.Reason)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// Deliveries are the probe agent's deliveries by marker (duplicates of a
// webhook id included).
func (h *Harness) Deliveries() map[string][]demoagent.Delivery {
	out := map[string][]demoagent.Delivery{}
	for _, d := range h.Agent.Received() {
		m := Marker(d.Envelope.Text)
		out[m] = append(out[m], d)
	}
	return out
}

// Marker is the probe marker (sbmatrix-…, sblt-… or sbprobe-… up to the
// end of its word) in a delivered text; providers may wrap the text
// (Discord: "/ask question:…").
// Without one it is the text itself.
func Marker(text string) string {
	for _, f := range strings.Fields(text) {
		for _, p := range []string{"sbmatrix-", "sblt-", "sbprobe-"} {
			if i := strings.Index(f, p); i >= 0 { // Discord: "question:sblt-…"
				return strings.TrimRight(f[i:], ".,;:!?\"'")
			}
		}
	}
	return text
}

// Cleanup revokes the probe organisations (with everything in them) and
// forgets them, and stops the probe agent.
func (h *Harness) Cleanup(ctx context.Context) error {
	var errs []error
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		if err := h.cleanups[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	h.cleanups = nil
	if h.agentSrv != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h.agentSrv.Shutdown(sctx)
		cancel()
	}
	return errors.Join(errs...)
}

// AgentURL is where the workers deliver to the probe agent.
func (h *Harness) AgentURL() string { return h.agentURL }
