package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/github"
	ghkit "github.com/switchboard-dev/switchboard/provider/github/kit"
	lnkit "github.com/switchboard-dev/switchboard/provider/line/kit"
	metakit "github.com/switchboard-dev/switchboard/provider/messenger/kit"
	swkit "github.com/switchboard-dev/switchboard/provider/standardwebhooks/kit"
	twkit "github.com/switchboard-dev/switchboard/provider/twilio/kit"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestWalkEveryProvider walks one signed event of every provider the API
// accepts through the running stack — edge -> ingest -> Redis -> worker ->
// agent — and the agent's reply back out through the provider's API (a
// fake following the provider's documented requests and answers, which
// accepts only the installation's own credentials): Slack, Telegram,
// WhatsApp, Discord, Twilio, LINE, GitHub, Standard Webhooks (a reply to
// the installation's reply_url), Messenger and Instagram.
func TestWalkEveryProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	s := startStack(t)
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Walkers"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)

	slackSecret, metaSecret, tgToken, ghSecret := randHex(16), randHex(16), "tg_"+randHex(12), randHex(16)
	_, dcKey, _ := ed25519.GenerateKey(rand.Reader)
	swSecret, err := sign.NewStandardWebhooksSecret()
	if err != nil {
		t.Fatal(err)
	}
	meta := func(provider string) install {
		return s.newInstall(org, agent, provider, "", metakit.Account,
			map[string]string{"signing": metakit.AppSecret, "verify_token": metakit.VerifyToken}, nil,
			testevent.Credentials{Secret: metakit.AppSecret}, metakit.AccessToken)
	}
	ins := []install{
		s.newInstall(org, agent, "slack", "A0WALK", "T0WALK", map[string]string{"signing": slackSecret}, nil,
			testevent.Credentials{Secret: slackSecret}, "xoxb-walk-"+randHex(8)),
		s.newInstall(org, agent, "telegram", "", "424242", nil, map[string]string{"secret_token": tgToken},
			testevent.Credentials{Secret: tgToken}, "424242:AAbb"+randHex(8)),
		s.newInstall(org, agent, "whatsapp", "", "106540352242922", map[string]string{"signing": metaSecret, "verify_token": "vt-" + randHex(4)}, nil,
			testevent.Credentials{Secret: metaSecret}, "EAAG"+randHex(8)),
		s.newInstall(org, agent, "discord", "", "613425648685547541", map[string]string{"public_key": testevent.PublicKeyHex(dcKey)}, nil,
			testevent.Credentials{PrivateKey: dcKey}, "discord-bot-"+randHex(8)),
		s.newInstall(org, agent, "twilio", twkit.AccountSid, twkit.OwnNumber, map[string]string{"signing": twkit.AuthToken}, nil,
			testevent.Credentials{Secret: twkit.AuthToken}, twkit.BotToken),
		s.newInstall(org, agent, "line", "", lnkit.BotUserID, map[string]string{"signing": lnkit.ChannelSecret}, nil,
			testevent.Credentials{Secret: lnkit.ChannelSecret}, lnkit.AccessToken),
		// The GitHub App's private key: the worker mints installation tokens with it.
		s.newInstall(org, agent, "github", ghkit.AppID, ghkit.Installation, map[string]string{"signing": ghSecret}, nil,
			testevent.Credentials{Secret: ghSecret}, ghkit.PrivateKeyPEM()),
		s.newSettingsInstall(org, agent, "standardwebhooks", map[string]string{"signing": swSecret},
			map[string]string{"conversation_pointer": "/data/channel", "sender_pointer": "/data/from", "text_pointer": "/data/text",
				"reply_url": s.kitAPI["standardwebhooks"].URL + "/replies"},
			testevent.Credentials{Secret: swSecret}, swkit.ReplySecret),
		meta("messenger"),
		meta("instagram"),
	}
	users := map[string]string{"line": lnkit.User, "messenger": metakit.User, "instagram": metakit.User}

	for _, in := range ins {
		t.Run(in.provider, func(t *testing.T) {
			ev := in.event("")
			if u := users[in.provider]; u != "" {
				ev.User = u
			}
			text := "walk " + in.provider + " " + randHex(4)
			// The edge gets the installation over xDS: the first requests may
			// be refused as unknown until it has it.
			deadline := time.Now().Add(15 * time.Second)
			for {
				ev.Text, ev.EventID, ev.Now = text, "", time.Now()
				ev = ev.Defaults()
				sg, err := testevent.SignEvent(ev, s.edge+in.path(), in.cred)
				if err != nil {
					t.Fatal(err)
				}
				code, reason := s.send(sg)
				if code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("edge never accepted: %d %s", code, reason)
				}
				time.Sleep(50 * time.Millisecond)
			}
			d := s.waitDelivered(text, 10*time.Second)
			e := d.Envelope
			want := map[string]string{
				"whatsapp": ev.User, "twilio": ev.User, "line": ev.User, "messenger": ev.User, "instagram": ev.User,
				"github": github.Conversation(ev.Channel, 42),
			}[in.provider]
			if want == "" {
				want = ev.Channel
			}
			if e.Provider != in.provider || e.OrgID != org || e.InstallationID != in.id || e.AgentID != agent ||
				e.Conversation != want || e.EventID != ev.EventID {
				t.Errorf("agent received %+v (want conversation %q, event id %q)", e, want, ev.EventID)
			}
			if key := envelope.SessionKey(envelope.Envelope{OrgID: org, Provider: in.provider, InstallationID: in.id,
				Conversation: want, Thread: e.Thread, AgentID: agent, Persona: "support"}); e.SessionKey != key {
				t.Errorf("session key %q, want %q", e.SessionKey, key)
			}
			s.waitReply(t, in, text)
		})
	}
}

// waitReply waits until the demo agent's reply to text reached in's
// provider API and was accepted there: the kits' fakes accept only the
// installation's own credentials; the older fake records the credential
// it was given.
func (s *stack) waitReply(t *testing.T, in install, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rec := s.kitAPI[in.provider]; rec != nil {
			k, _ := conformance.Get(in.provider)
			for _, r := range rec.Requests() {
				for _, got := range k.(conformance.Outbound).Texts(&r) {
					if strings.Contains(got, "demo-agent received: ") && strings.Contains(got, text) && r.Status/100 == 2 {
						t.Logf("reply accepted by the fake %s API: %s %s", in.provider, r.Method, r.Path)
						return
					}
				}
			}
		} else {
			for _, m := range s.fake.messages() {
				if m.Provider == in.provider && strings.Contains(m.Body, "demo-agent received: ") && strings.Contains(m.Body, text) {
					if !strings.Contains(m.Auth+m.Path, in.botToken) {
						t.Fatalf("reply sent without the installation's bot token")
					}
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted reply reached the fake %s API", in.provider)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// newSettingsInstall is newInstall with installation settings.
func (s *stack) newSettingsInstall(org, agent, provider string, profSecrets, settings map[string]string, cred testevent.Credentials, botToken string) install {
	s.t.Helper()
	prof := s.call("POST", "/v1/profiles", map[string]any{"org_id": org, "provider": provider, "name": provider + " app", "secrets": profSecrets}, 201)
	instSecrets := map[string]string{"bot_token": botToken}
	inst := s.call("POST", "/v1/installations", map[string]any{"org_id": org, "profile_id": prof["id"], "external_id": provider + "-walk",
		"secrets": instSecrets, "settings": settings}, 201)
	s.call("POST", "/v1/bindings", map[string]any{"installation_id": inst["id"], "agent_id": agent, "persona": "support"}, 201)
	s.recordSecrets(profSecrets, instSecrets, cred)
	return install{org: org, id: inst["id"].(string), ingress: inst["ingress_id"].(string), provider: provider,
		account: provider + "-walk", botToken: botToken, cred: cred}
}
