package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/demoagent"
	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/testevent"
)

// install is one installation created through the API, with what a
// provider would sign its requests with.
type install struct {
	org, id, ingress, provider, account, appID, botToken string
	cred                                                 testevent.Credentials
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newInstall creates a profile and an installation of provider for org and
// binds it to agent with persona "support".
func (s *stack) newInstall(org, agent, provider, appID, account string, profSecrets, instSecrets map[string]string, cred testevent.Credentials, botToken string) install {
	return s.createInstall(org, org, agent, provider, appID, account, profSecrets, instSecrets, cred, botToken)
}

// newPlatformInstall creates a platform profile of provider (no org: the
// platform's own app, verified on the profile's shared ingress) and an
// installation of it for org, bound to agent.
func (s *stack) newPlatformInstall(org, agent, provider, appID, account string, profSecrets map[string]string, cred testevent.Credentials, botToken string) install {
	return s.createInstall("", org, agent, provider, appID, account, profSecrets, nil, cred, botToken)
}

// createInstall: a profile owned by profOrg ("": the platform), an
// installation of it for org, bound to agent. Its webhooks go to the
// installation's ingress, or the profile's for a platform profile.
func (s *stack) createInstall(profOrg, org, agent, provider, appID, account string, profSecrets, instSecrets map[string]string, cred testevent.Credentials, botToken string) install {
	s.t.Helper()
	c, ctx := s.admin(), context.Background()
	prof, err := c.CreateProfile(ctx, client.CreateProfileRequest{OrgID: profOrg, Provider: provider, Name: provider + " app", ExternalAppID: appID, Secrets: profSecrets})
	if err != nil {
		s.t.Fatal(err)
	}
	if botToken != "" {
		if instSecrets == nil {
			instSecrets = map[string]string{}
		}
		instSecrets["bot_token"] = botToken
	}
	inst, err := c.CreateInstallation(ctx, client.CreateInstallationRequest{OrgID: org, ProfileID: prof.ID, ExternalID: account, Secrets: instSecrets})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := c.CreateBinding(ctx, client.CreateBindingRequest{InstallationID: inst.ID, AgentID: agent, Persona: "support"}); err != nil {
		s.t.Fatal(err)
	}
	s.recordSecrets(profSecrets, instSecrets, cred)
	ingress := inst.IngressID
	if profOrg == "" {
		ingress = prof.IngressID
	}
	return install{org: org, id: inst.ID, ingress: ingress, provider: provider,
		account: account, appID: appID, botToken: botToken, cred: cred}
}

func (s *stack) recordSecrets(a, b map[string]string, cred testevent.Credentials) {
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			if k != "public_key" {
				s.secret(v)
			}
		}
	}
	s.secret(cred.Secret)
	if cred.PrivateKey != nil {
		s.secret(hex.EncodeToString(cred.PrivateKey.Seed()), hex.EncodeToString(cred.PrivateKey))
	}
}

func (in install) path() string { return "/v1/hooks/" + in.provider + "/" + in.ingress }

// event is a test event for in (its account and app id in the body).
func (in install) event(text string) testevent.Event {
	return testevent.Event{Provider: in.provider, Account: in.account, AppID: in.appID, Text: text}.Defaults()
}

// signed builds the signed request of ev to base+in.path().
func (s *stack) signed(base string, in install, ev testevent.Event, cred testevent.Credentials) testevent.Signed {
	s.t.Helper()
	body, ct, err := testevent.Body(ev)
	if err != nil {
		s.t.Fatal(err)
	}
	sg, err := testevent.Sign(in.provider, base+in.path(), body, ct, cred, ev.Now)
	if err != nil {
		s.t.Fatal(err)
	}
	return sg
}

// post sends a request and returns the status and the typed reason of a
// refusal ({"error":reason}).
func post(t *testing.T, u string, headers [][2]string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v struct {
		Error string `json:"error"`
	}
	json.Unmarshal(raw, &v)
	return resp.StatusCode, v.Error
}

func (s *stack) send(sg testevent.Signed) (int, string) {
	return post(s.t, sg.URL, sg.Headers, sg.Body)
}

// waitDelivered polls the agent until a delivery with text arrives.
func (s *stack) waitDelivered(text string, within time.Duration) demoagent.Delivery {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, d := range s.received() {
			if d.Envelope.Text == text || strings.Contains(d.Envelope.Text, text) {
				return d
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("agent did not receive %q within %s", text, within)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	start := time.Now()
	s := startStack(t)
	t.Logf("stack up in %s", time.Since(start).Round(time.Millisecond))

	orgA := s.call("POST", "/v1/orgs", map[string]any{"name": "Acme"}, 201)["id"].(string)
	orgB := s.call("POST", "/v1/orgs", map[string]any{"name": "Globex"}, 201)["id"].(string)
	agentA := s.call("POST", "/v1/agents", map[string]any{"org_id": orgA, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	agentB := s.call("POST", "/v1/agents", map[string]any{"org_id": orgB, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)

	slackSecretA, slackSecretB := randHex(16), randHex(16)
	metaSecret := randHex(16)
	tgToken := "tg_" + randHex(12)
	_, discordKey, _ := ed25519.GenerateKey(rand.Reader)

	slackA := s.newInstall(orgA, agentA, "slack", "A0ACME", "T0ACME", map[string]string{"signing": slackSecretA}, nil,
		testevent.Credentials{Secret: slackSecretA}, "xoxb-acme-"+randHex(8))
	slackB := s.newInstall(orgB, agentB, "slack", "A0GLOBEX", "T0GLOBEX", map[string]string{"signing": slackSecretB}, nil,
		testevent.Credentials{Secret: slackSecretB}, "xoxb-globex-"+randHex(8))
	telegram := s.newInstall(orgA, agentA, "telegram", "", "123456", nil, map[string]string{"secret_token": tgToken},
		testevent.Credentials{Secret: tgToken}, "123456:"+"AAbb"+randHex(8))
	whatsapp := s.newInstall(orgA, agentA, "whatsapp", "", "106540352242922", map[string]string{"signing": metaSecret, "verify_token": "vt-" + randHex(4)}, nil,
		testevent.Credentials{Secret: metaSecret}, "EAAG"+randHex(8))
	discord := s.newInstall(orgA, agentA, "discord", "", "613425648685547541", map[string]string{"public_key": testevent.PublicKeyHex(discordKey)}, nil,
		testevent.Credentials{PrivateKey: discordKey}, "discord-bot-"+randHex(8))
	_ = slackB
	platSecret := randHex(16)
	platform := s.newPlatformInstall(orgB, agentB, "slack", "A0PLAT", "T0PLAT", map[string]string{"signing": platSecret},
		testevent.Credentials{Secret: platSecret}, "xoxb-plat-"+randHex(8))

	// The edge gets the installations over xDS: wait until it accepts the last one.
	lastEv := discord.event("config-probe")
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, reason := s.send(s.signed(s.edge, discord, lastEv, discord.cred))
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge never accepted the new installations: %d %s", code, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.waitDelivered("config-probe", 10*time.Second)

	accepted := map[string]int{} // text -> deliveries expected
	accepted["config-probe"] = 1
	// The platform app's shared ingress accepts the platform secret (so that
	// the refusals of crossed secrets below mean something).
	s.waitAccepted(platform, "platform path", platform.cred, accepted)

	// 1. The walk: one signed event per provider, edge -> ingest -> Redis ->
	// worker -> agent, and the agent's reply back through the provider API.
	t.Run("walk", func(t *testing.T) {
		for _, in := range []install{slackA, telegram, whatsapp, discord} {
			text := "walk " + in.provider + " " + randHex(4)
			ev := in.event(text)
			t0 := time.Now()
			if code, reason := s.send(s.signed(s.edge, in, ev, in.cred)); code != 200 {
				t.Fatalf("%s: edge answered %d %s", in.provider, code, reason)
			}
			accepted[text] = 1
			d := s.waitDelivered(text, 10*time.Second)
			e := d.Envelope
			wantConv := ev.Channel
			if in.provider == "whatsapp" {
				wantConv = ev.User
			}
			if e.Provider != in.provider || e.OrgID != orgA || e.InstallationID != in.id || e.AgentID != agentA ||
				e.Persona != "support" || e.Conversation != wantConv || e.EventID != ev.EventID {
				t.Errorf("%s: agent received %+v", in.provider, e)
			}
			// The session key is the one of exactly these fields.
			want := envelope.SessionKey(envelope.Envelope{OrgID: orgA, Provider: in.provider, InstallationID: in.id,
				Conversation: wantConv, Thread: e.Thread, AgentID: agentA, Persona: "support"})
			if e.SessionKey != want || !strings.Contains(e.SessionKey, in.id) {
				t.Errorf("%s: session key %q, want %q", in.provider, e.SessionKey, want)
			}
			t.Logf("%s: delivered in %s, session key %s", in.provider, time.Since(t0).Round(time.Millisecond), e.SessionKey)

			// The demo agent's reply went out through the provider API with
			// this installation's own bot token.
			deadline := time.Now().Add(10 * time.Second)
			for {
				var found bool
				for _, m := range s.fake.messages() {
					// (Discord's text is the command line: "/ask question:<text>".)
					if m.Provider == in.provider && strings.Contains(m.Body, "demo-agent received: ") && strings.Contains(m.Body, text) {
						if !strings.Contains(m.Auth+m.Path, in.botToken) {
							t.Errorf("%s reply sent without the installation's bot token (auth %q, path %q)", in.provider, m.Auth, m.Path)
						}
						found = true
					}
				}
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no reply reached the fake provider API: %+v", in.provider, s.fake.messages())
				}
				time.Sleep(30 * time.Millisecond)
			}
		}
	})

	// Every process's /metrics shows the walk: accepted requests by provider
	// at the edge and ingest, delivery latency by provider at the worker,
	// every shard queue's depth, the control plane's builds.
	t.Run("metrics after the walk", func(t *testing.T) {
		edgeM, ingestM, workerM, serveM := s.scrape(s.edgeAdmin+"/metrics"), s.scrape(s.ingestMetrics), s.scrape(s.workerMetrics), s.scrape(s.serveMetrics)
		for _, p := range []string{"slack", "telegram", "whatsapp", "discord"} {
			if n, _ := edgeM.sum("switchboard_edge_requests_total", "decision", "accept", "provider", p); n < 1 {
				t.Errorf("edge: no accepted %s request counted", p)
			}
			if n, _ := ingestM.sum("switchboard_hook_requests_total", "outcome", "accepted", "provider", p); n < 1 {
				t.Errorf("ingest: no accepted %s request counted", p)
			}
			if n, _ := workerM.sum("switchboard_delivery_latency_seconds_count", "provider", p, "status", "2xx"); n < 1 {
				t.Errorf("worker: no %s delivery latency observed", p)
			}
		}
		for i := 0; i < shards; i++ {
			if _, ok := workerM.sum("switchboard_queue_tasks", "shard", strconv.Itoa(i), "state", "pending"); !ok {
				t.Errorf("worker: no queue depth for shard %d", i)
			}
		}
		if n, _ := workerM.sum("switchboard_queue_processed_total"); n < 4 {
			t.Errorf("worker: %v tasks processed, want at least the 4 walked", n)
		}
		if n, _ := serveM.sum("switchboard_xds_builds_total"); n < 1 {
			t.Errorf("serve: no xDS build counted")
		}
	})

	// 2. A provider retry of one event (same event id, freshly signed) is
	// acknowledged both times and delivered once.
	replay := slackA.event("replayed event")
	for i := 0; i < 3; i++ {
		ev := replay
		ev.Now = time.Now()
		if code, reason := s.send(s.signed(s.edge, slackA, ev, slackA.cred)); code != 200 {
			t.Fatalf("replay %d: %d %s", i, code, reason)
		}
	}
	accepted["replayed event"] = 1

	// 3. Spoofed trusted headers on a correctly signed request: stripped by the
	// edge, which attests the real identity (org A), so the agent sees org A.
	spoofed := s.signed(s.edge, slackA, slackA.event("spoofed headers"), slackA.cred)
	forgedAtt := filter.Attest(bytes.Repeat([]byte{7}, 32), filter.Identity{Org: orgB, Installation: slackB.id,
		Provider: "slack", IngressID: slackA.ingress}, spoofed.Body, time.Now().Unix())
	spoofed.Headers = append(spoofed.Headers, forgedAtt...)
	if code, reason := s.send(spoofed); code != 200 {
		t.Fatalf("signed request with spoofed x-switchboard headers: %d %s (want accepted, headers stripped)", code, reason)
	}
	accepted["spoofed headers"] = 1

	// 4. The security failure-path matrix. Every text carries MUSTNOT: none
	// may ever reach Redis or the agent.
	// Each refusal is counted exactly once by the process that refused it
	// (at: "edge" or "ingest", under provider), and a refusal by ingest is
	// audited (webhook.reject) under the tenant it concerns (audit: the org,
	// "-" for requests that carry no attested tenant). Refusals at the edge
	// never reach ingest.
	type tc struct {
		name       string
		req        func() (string, [][2]string, []byte)
		wantStatus int
		wantReason string
		at         string
		provider   string
		audit      string
	}
	edgeReq := func(in install, text string, cred testevent.Credentials, mod func(*testevent.Event)) func() (string, [][2]string, []byte) {
		return func() (string, [][2]string, []byte) {
			ev := in.event(text)
			if mod != nil {
				mod(&ev)
			}
			sg := s.signed(s.edge, in, ev, cred)
			return sg.URL, sg.Headers, sg.Body
		}
	}
	without := func(f func() (string, [][2]string, []byte), names ...string) func() (string, [][2]string, []byte) {
		return func() (string, [][2]string, []byte) {
			u, h, b := f()
			var out [][2]string
			for _, kv := range h {
				drop := false
				for _, n := range names {
					drop = drop || strings.EqualFold(kv[0], n)
				}
				if !drop {
					out = append(out, kv)
				}
			}
			return u, out, b
		}
	}
	toIngest := func(f func() (string, [][2]string, []byte), attest []byte) func() (string, [][2]string, []byte) {
		return func() (string, [][2]string, []byte) {
			u, h, b := f()
			u = s.ingest + strings.TrimPrefix(u, s.edge)
			if attest != nil {
				h = append(h, filter.Attest(attest, filter.Identity{Org: orgA, Installation: slackA.id, Provider: "slack",
					IngressID: slackA.ingress}, b, time.Now().Unix())...)
			}
			return u, h, b
		}
	}
	raw := func(in install, body []byte, ct string) func() (string, [][2]string, []byte) {
		return func() (string, [][2]string, []byte) {
			sg, err := testevent.Sign(in.provider, s.edge+in.path(), body, ct, in.cred, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return sg.URL, sg.Headers, sg.Body
		}
	}
	stale := func(d time.Duration) func(*testevent.Event) {
		return func(e *testevent.Event) { e.Now = time.Now().Add(d) }
	}
	otherTenant := func(e *testevent.Event) { e.Account, e.AppID = "T0GLOBEX", "A0ACME" }
	oversized := []byte(`{"type":"event_callback","team_id":"T0ACME","event_id":"EvBIG","event":{"type":"message","text":"MUSTNOT oversized ` +
		strings.Repeat("x", filter.DefaultMaxBodyBytes) + `"}}`)
	cases := []tc{
		{"slack forged signature", edgeReq(slackA, "MUSTNOT forged", testevent.Forge("slack", slackA.cred), nil), 401, "bad_signature", "edge", "slack", ""},
		{"whatsapp forged signature", edgeReq(whatsapp, "MUSTNOT forged meta", testevent.Forge("whatsapp", whatsapp.cred), nil), 401, "bad_signature", "edge", "whatsapp", ""},
		{"telegram wrong secret token", edgeReq(telegram, "MUSTNOT forged tg", testevent.Forge("telegram", telegram.cred), nil), 401, "bad_signature", "edge", "telegram", ""},
		{"discord forged signature", edgeReq(discord, "MUSTNOT forged discord", testevent.Forge("discord", discord.cred), nil), 401, "bad_signature", "edge", "discord", ""},
		{"missing signature", without(edgeReq(slackA, "MUSTNOT unsigned", slackA.cred, nil), "X-Slack-Signature"), 401, "missing_signature", "edge", "slack", ""},
		{"missing telegram token", without(edgeReq(telegram, "MUSTNOT unsigned tg", telegram.cred, nil), "X-Telegram-Bot-Api-Secret-Token"), 401, "missing_signature", "edge", "telegram", ""},
		{"missing whatsapp signature", without(edgeReq(whatsapp, "MUSTNOT unsigned meta", whatsapp.cred, nil), "X-Hub-Signature-256"), 401, "missing_signature", "edge", "whatsapp", ""},
		{"missing discord signature", without(edgeReq(discord, "MUSTNOT unsigned discord", discord.cred, nil), "X-Signature-Ed25519"), 401, "missing_signature", "edge", "discord", ""},
		{"stale timestamp", edgeReq(slackA, "MUSTNOT stale", slackA.cred, stale(-10*time.Minute)), 401, "stale_timestamp", "edge", "slack", ""},
		{"future timestamp", edgeReq(slackA, "MUSTNOT future", slackA.cred, stale(10*time.Minute)), 401, "stale_timestamp", "edge", "slack", ""},
		{"stale discord", edgeReq(discord, "MUSTNOT stale discord", discord.cred, stale(-10*time.Minute)), 401, "stale_timestamp", "edge", "discord", ""},
		{"future discord", edgeReq(discord, "MUSTNOT future discord", discord.cred, stale(10*time.Minute)), 401, "stale_timestamp", "edge", "discord", ""},
		// Org B's correctly signed event sent to org A's ingress path.
		{"cross-tenant path", func() (string, [][2]string, []byte) {
			ev := slackB.event("MUSTNOT cross-tenant path")
			sg := s.signed(s.edge, slackB, ev, slackB.cred)
			return s.edge + slackA.path(), sg.Headers, sg.Body
		}, 401, "bad_signature", "edge", "slack", ""},
		// The platform app's secret on org A's BYOA path, and org A's BYOA
		// secret on the platform app's shared path.
		{"platform secret on a BYOA path", edgeReq(slackA, "MUSTNOT platform secret on byoa", platform.cred, nil), 401, "bad_signature", "edge", "slack", ""},
		{"BYOA secret on the platform path", edgeReq(platform, "MUSTNOT byoa secret on platform", slackA.cred, nil), 401, "bad_signature", "edge", "slack", ""},
		// Org A's secret, but the body names org B's workspace.
		{"cross-tenant body", edgeReq(slackA, "MUSTNOT cross-tenant body", slackA.cred, otherTenant), 403, "tenant_mismatch", "ingest", "slack", orgA},
		{"ingress of another provider", func() (string, [][2]string, []byte) {
			sg := s.signed(s.edge, slackA, slackA.event("MUSTNOT provider mismatch"), slackA.cred)
			return s.edge + "/v1/hooks/telegram/" + slackA.ingress, sg.Headers, sg.Body
		}, 404, "provider_mismatch", "edge", "unknown", ""}, // (the edge never labels with a provider named by the path)
		{"unknown ingress id", func() (string, [][2]string, []byte) {
			sg := s.signed(s.edge, slackA, slackA.event("MUSTNOT unknown"), slackA.cred)
			return s.edge + "/v1/hooks/slack/" + randHex(16), sg.Headers, sg.Body
		}, 404, "unknown_ingress", "edge", "unknown", ""},
		{"spoofed headers, bad signature", func() (string, [][2]string, []byte) {
			u, h, b := edgeReq(slackA, "MUSTNOT spoof forged", testevent.Forge("slack", slackA.cred), nil)()
			return u, append(h, filter.Attest(bytes.Repeat([]byte{1}, 32), filter.Identity{Org: orgA, Installation: slackA.id,
				Provider: "slack", IngressID: slackA.ingress}, b, time.Now().Unix())...), b
		}, 401, "bad_signature", "edge", "slack", ""},
		{"straight to ingest, no attestation", toIngest(edgeReq(slackA, "MUSTNOT bypass", slackA.cred, nil), nil), 401, "attestation_missing", "ingest", "slack", "-"},
		{"straight to ingest, forged attestation", toIngest(edgeReq(slackA, "MUSTNOT bypass forged", slackA.cred, nil), bytes.Repeat([]byte{9}, 32)), 401, "attestation_invalid", "ingest", "slack", "-"},
		{"oversized body", raw(slackA, oversized, "application/json"), 413, "body_too_large", "edge", "slack", ""},
		{"malformed payload", raw(slackA, []byte(`{"type":"event_callback","event":{"text":"MUSTNOT malformed"`), "application/json"), 400, "malformed_payload", "ingest", "slack", orgA},
	}
	t.Run("matrix", func(t *testing.T) {
		const edgeReqs, hookReqs = "switchboard_edge_requests_total", "switchboard_hook_requests_total"
		for _, c := range cases {
			edgeBefore, ingestBefore := s.scrape(s.edgeAdmin+"/metrics"), s.scrape(s.ingestMetrics)
			auditBefore := len(s.auditRejects(""))
			u, h, b := c.req()
			code, reason := post(t, u, h, b)
			if code != c.wantStatus || reason != c.wantReason {
				t.Errorf("%s: got %d %q, want %d %q", c.name, code, reason, c.wantStatus, c.wantReason)
			}
			edgeAfter, ingestAfter := s.scrape(s.edgeAdmin+"/metrics"), s.scrape(s.ingestMetrics)
			delta := func(before, after metricSnap, name string, labels ...string) float64 {
				a, _ := after.sum(name, labels...)
				b, _ := before.sum(name, labels...)
				return a - b
			}
			ingestAll := delta(ingestBefore, ingestAfter, hookReqs)
			switch c.at {
			case "edge":
				if d := delta(edgeBefore, edgeAfter, edgeReqs, "decision", "reject", "provider", c.provider, "reason", c.wantReason); d != 1 {
					t.Errorf("%s: edge counter {reject,%s,%s} moved by %v, want 1", c.name, c.provider, c.wantReason, d)
				}
				if ingestAll != 0 {
					t.Errorf("%s: refused at the edge, yet ingest counted %v requests", c.name, ingestAll)
				}
			case "ingest":
				if d := delta(ingestBefore, ingestAfter, hookReqs, "outcome", "rejected", "provider", c.provider, "reason", c.wantReason); d != 1 {
					t.Errorf("%s: ingest counter {rejected,%s,%s} moved by %v, want 1", c.name, c.provider, c.wantReason, d)
				}
			}
			if c.audit == "" {
				continue
			}
			// The audit write happens before the answer: it is there now.
			rej := s.auditRejects("")
			var found bool
			for _, d := range rej[min(auditBefore, len(rej)):] {
				org, _ := d["org_id"].(string)
				wantOrg := c.audit
				if wantOrg == "-" {
					wantOrg = ""
				}
				if d["reason"] == c.wantReason && org == wantOrg {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no webhook.reject audit event with reason %s for org %q (new events: %v)", c.name, c.wantReason, c.audit, rej[min(auditBefore, len(rej)):])
			}
			if c.audit != "-" {
				// The tenant sees it in its own audit log.
				var mine bool
				for _, d := range s.auditRejects(c.audit) {
					mine = mine || d["reason"] == c.wantReason
				}
				if !mine {
					t.Errorf("%s: the refusal is not in org %s's audit log", c.name, c.audit)
				}
			}
		}
	})

	// 5. Rotation: the previous secret verifies until previous_valid_until,
	// then never again.
	var rotID, revID string // for the edge refusal audit below
	t.Run("rotated-out secret", func(t *testing.T) {
		oldSecret, newSecret := randHex(16), randHex(16)
		rot := s.newInstall(orgA, agentA, "slack", "", "T0ROT", nil, map[string]string{"signing": oldSecret},
			testevent.Credentials{Secret: oldSecret}, "xoxb-rot-"+randHex(4))
		rotID = rot.id
		s.waitAccepted(rot, "rot before", rot.cred, accepted)
		until := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
		s.call("POST", "/v1/installations/"+rot.id+"/secrets/signing/rotate",
			map[string]any{"value": newSecret, "previous_valid_until": until.Format(time.RFC3339)}, 200)
		s.waitAccepted(rot, "rot new secret", testevent.Credentials{Secret: newSecret}, accepted)
		if time.Now().Before(until.Add(-500 * time.Millisecond)) {
			if code, reason := s.send(s.signed(s.edge, rot, rot.event("rot old in window"), rot.cred)); code != 200 {
				t.Errorf("previous secret inside its window: %d %s", code, reason)
			} else {
				accepted["rot old in window"] = 1
			}
		}
		time.Sleep(time.Until(until) + 100*time.Millisecond) // wait for the window's end, not an assertion
		before := s.edgeCounter("slack", "reject", "bad_signature")
		code, reason := s.send(s.signed(s.edge, rot, rot.event("MUSTNOT rotated out"), rot.cred))
		if code != 401 || reason != "bad_signature" {
			t.Errorf("previous secret after its window: %d %s, want 401 bad_signature", code, reason)
		}
		if d := s.edgeCounter("slack", "reject", "bad_signature") - before; d != 1 {
			t.Errorf("rotated-out secret: edge counter {reject,slack,bad_signature} moved by %v, want 1", d)
		}
		t.Logf("rotated-out secret refused %s after its window: %d %s", time.Since(until).Round(time.Millisecond), code, reason)
	})

	// 6. Revocation: refused at once (ingest reads the store), and by the edge
	// itself within a second.
	t.Run("revoked installation", func(t *testing.T) {
		secret := randHex(16)
		rv := s.newInstall(orgA, agentA, "slack", "", "T0REV", map[string]string{"signing": secret}, nil,
			testevent.Credentials{Secret: secret}, "")
		revID = rv.id
		s.waitAccepted(rv, "rev before", rv.cred, accepted)
		// Delivered before the revocation: a task still queued when its
		// installation is revoked ends as a dead letter instead
		// (TestUninstallRevokes).
		s.waitDelivered("rev before", 10*time.Second)
		before := s.edgeCounter("slack", "reject", "revoked")
		s.call("POST", "/v1/installations/"+rv.id+"/revoke", map[string]any{}, 200)
		t0 := time.Now()
		for i := 0; ; i++ {
			code, reason := s.send(s.signed(s.edge, rv, rv.event(fmt.Sprintf("MUSTNOT revoked %d", i)), rv.cred))
			if code != 403 || reason != "revoked" {
				t.Fatalf("request %d after revocation: %d %q, want 403 revoked", i, code, reason)
			}
			if s.edgeCounter("slack", "reject", "revoked") > before {
				break
			}
			if time.Since(t0) > time.Second {
				t.Fatalf("the edge still forwards the revoked installation %s after the revocation", time.Since(t0))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("edge refuses the revoked installation %s after the API call", time.Since(t0).Round(time.Millisecond))
	})

	// 6b. The refusals above made at the edge that concern a tenant reach
	// the tenant's audit log through the edge's refusal reports (source
	// "edge", counted per installation, provider and reason); the platform
	// app's shared ingress is audited at platform level (org "", its
	// profile); org B, whose paths were never attacked, sees none.
	t.Run("edge refusals audited", func(t *testing.T) {
		platProfile, _ := s.call("GET", "/v1/installations/"+platform.id, nil, 200)["profile_id"].(string)
		k := edgeAuditKey
		want := map[string]float64{
			// forged, cross-tenant path, platform secret on the BYOA path, spoofed headers
			k(orgA, slackA.id, "slack", "bad_signature"):          4,
			k(orgA, slackA.id, "slack", "missing_signature"):      1,
			k(orgA, slackA.id, "slack", "stale_timestamp"):        2,
			k(orgA, slackA.id, "slack", "body_too_large"):         1,
			k(orgA, whatsapp.id, "whatsapp", "bad_signature"):     1,
			k(orgA, whatsapp.id, "whatsapp", "missing_signature"): 1,
			k(orgA, telegram.id, "telegram", "bad_signature"):     1,
			k(orgA, telegram.id, "telegram", "missing_signature"): 1,
			k(orgA, discord.id, "discord", "bad_signature"):       1,
			k(orgA, discord.id, "discord", "missing_signature"):   1,
			k(orgA, discord.id, "discord", "stale_timestamp"):     2,
			k("", platProfile, "slack", "bad_signature"):          1, // BYOA secret on the platform path
		}
		atLeast := map[string]float64{
			// (waiting for the rotation to reach the edge may add refusals)
			k(orgA, rotID, "slack", "bad_signature"): 1,
			k(orgA, revID, "slack", "revoked"):       1,
		}
		s.checkEdgeRefusalsAudited(t, orgA, orgB, want, atLeast)
	})

	// 7. An agent that cannot be reached: the event is retried once, then
	// becomes a dead letter; the worker's metrics show both.
	t.Run("retries and dead letters", func(t *testing.T) {
		s.waitDrained(20 * time.Second) // earlier events settled: what moves now is this one
		before := s.scrape(s.workerMetrics)
		deadURL := "http://127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) + "/" // nothing listens there
		agentD := s.call("POST", "/v1/agents", map[string]any{"org_id": orgA, "name": "unreachable", "url": deadURL, "signing_secret": s.agentKey}, 201)["id"].(string)
		secret := randHex(16)
		dl := s.newInstall(orgA, agentD, "slack", "", "T0DEAD", map[string]string{"signing": secret}, nil,
			testevent.Credentials{Secret: secret}, "")
		s.waitAccepted(dl, "dead letter", dl.cred, map[string]int{})
		failedBefore, _ := before.sum("switchboard_queue_failed_total")
		archivedBefore, _ := before.sum("switchboard_queue_tasks", "state", "archived")
		errBefore, _ := before.sum("switchboard_delivery_latency_seconds_count", "provider", "slack", "status", "error")
		deadline := time.Now().Add(30 * time.Second) // one 2 s backoff, generous for a loaded machine
		for {
			m := s.scrape(s.workerMetrics)
			failed, _ := m.sum("switchboard_queue_failed_total")
			archived, _ := m.sum("switchboard_queue_tasks", "state", "archived")
			errs, _ := m.sum("switchboard_delivery_latency_seconds_count", "provider", "slack", "status", "error")
			if failed-failedBefore >= 2 && archived-archivedBefore >= 1 && errs-errBefore >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30s: failed attempts +%v (want 2), dead letters +%v (want 1), failed deliveries +%v (want 2)",
					failed-failedBefore, archived-archivedBefore, errs-errBefore)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// 8. What reached Redis and the agent.
	s.waitDrained(20 * time.Second)
	for k, msg := range s.taskPayloads() {
		if bytes.Contains(msg, []byte("MUSTNOT")) {
			t.Errorf("a refused request reached Redis: task %s", k)
		}
	}
	counts := map[string]int{}
	for _, d := range s.received() {
		if strings.Contains(d.Envelope.Text, "MUSTNOT") || bytes.Contains(d.Envelope.Raw, []byte("MUSTNOT")) {
			t.Errorf("a refused request reached the agent: %q", d.Envelope.Text)
		}
		if d.Duplicate {
			t.Errorf("duplicate delivery of %q (webhook id %s)", d.Envelope.Text, d.WebhookID)
		}
		counts[d.Envelope.Text]++
		if d.Envelope.Text == "spoofed headers" && (d.Envelope.OrgID != orgA || d.Envelope.InstallationID != slackA.id) {
			t.Errorf("spoofed headers changed the identity: %+v", d.Envelope)
		}
	}
	for text, n := range accepted {
		if counts[text]+counts["/ask question:"+text] != n {
			t.Errorf("%q delivered %d times, want %d", text, counts[text], n)
		}
	}
	if resp, err := http.Get(s.agentURL + "received"); err == nil {
		var v struct{ Refused int }
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.Refused != 0 {
			t.Errorf("the agent refused %d deliveries (bad worker signatures)", v.Refused)
		}
	}
	t.Logf("total %s; %d deliveries, %d Redis tasks", time.Since(start).Round(time.Millisecond), len(s.received()), len(s.taskPayloads()))

	// 9. No secret the stack was given or the test created (signing
	// secrets, tokens, bot tokens, agent secret, admin token, master, edge
	// and attestation keys) in any process's output.
	s.secret(slackSecretA, slackSecretB, metaSecret, tgToken, platSecret)
	s.checkLogsHoldNoSecret()
}

// waitAccepted sends fresh events signed with cred until the edge accepts one
// (new configuration pushed), and records it as expected at the agent.
func (s *stack) waitAccepted(in install, text string, cred testevent.Credentials, accepted map[string]int) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		t := fmt.Sprintf("%s %d", text, i)
		code, reason := s.send(s.signed(s.edge, in, in.event(t), cred))
		if code == 200 {
			accepted[t] = 1
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: edge never accepted: %d %s", text, code, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
