package testevent

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provider"
	_ "github.com/switchboard-dev/switchboard/provider/all"
	"github.com/switchboard-dev/switchboard/xds"
)

const ingress = "0123456789abcdef0123456789abcdef"

// edgeFor loads a one-installation edge configuration verifying provider
// with the given plaintext secret (purpose chosen like the API does).
func edgeFor(t *testing.T, prov, secret string) *filter.Edge {
	t.Helper()
	edgeKey := make([]byte, filter.EdgeKeySize)
	rand.Read(edgeKey)
	scheme, ok := xds.SchemeFor(prov)
	if !ok {
		t.Fatalf("no scheme for %s", prov)
	}
	s := filter.Secret{ID: "sec_1", Purpose: "signing"}
	switch scheme {
	case filter.SchemeTelegramToken:
		s.Purpose = "secret_token"
		s.Fingerprint = filter.Fingerprint(edgeKey, secret)
	case filter.SchemeDiscordEd25519:
		s.Purpose = "public_key"
		fallthrough
	default:
		sealed, err := filter.Seal(edgeKey, []byte(secret), filter.SealAAD(ingress, s.ID))
		if err != nil {
			t.Fatal(err)
		}
		s.Sealed = sealed
	}
	cfg := filter.Config{Version: "v1", Installations: []filter.Installation{{
		IngressID: ingress, Provider: prov, Scheme: scheme, OrgID: "org_1", InstallationID: "inst_1",
		ProfileID: "prof_1", Secrets: []filter.Secret{s},
	}}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := filter.Load(data, edgeKey)
	if err != nil {
		t.Fatalf("load edge config: %v", err)
	}
	e.SetAttestationKey(make([]byte, 32))
	return e
}

func decide(e *filter.Edge, s Signed, now time.Time) filter.Decision {
	u, _ := url.Parse(s.URL)
	return e.Decide(&filter.Request{Method: "POST", Scheme: u.Scheme, Host: u.Host, Path: u.RequestURI(),
		Headers: s.Headers, Body: s.Body}, now.Unix())
}

// Every provider's signed test event passes the edge's verifier, and the
// forged one is refused with bad_signature: send-test and the verifier agree.
func TestSignedEventsVerifyAtTheEdge(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	whsec, _ := sign.NewStandardWebhooksSecret()
	secrets := map[string]Credentials{
		"slack":            {Secret: "8f742231b10e8888abcd99yyyzzz85a5"},
		"whatsapp":         {Secret: "0123456789abcdef0123456789abcdef"},
		"messenger":        {Secret: "0123456789abcdef0123456789abcdef"},
		"instagram":        {Secret: "0123456789abcdef0123456789abcdef"},
		"telegram":         {Secret: "my_Secret-token_123"},
		"discord":          {PrivateKey: priv},
		"twilio":           {Secret: "12345678901234567890123456789012"},
		"line":             {Secret: "abcdefabcdefabcdefabcdefabcdef12"},
		"standardwebhooks": {Secret: whsec},
		"github":           {Secret: "It's a Secret to Everybody"},
	}
	now := time.Now()
	for prov, cred := range secrets {
		t.Run(prov, func(t *testing.T) {
			edgeSecret := cred.Secret
			if prov == "discord" {
				edgeSecret = PublicKeyHex(priv)
			}
			e := edgeFor(t, prov, edgeSecret)
			body, ct, err := Body(Event{Provider: prov, Text: "hi there", Now: now})
			if err != nil {
				t.Fatal(err)
			}
			u := "http://127.0.0.1:8443/v1/hooks/" + prov + "/" + ingress
			s, err := Sign(prov, u, body, ct, cred, now)
			if err != nil {
				t.Fatal(err)
			}
			if d := decide(e, s, now); !d.Accept {
				t.Fatalf("signed %s event refused: %s", prov, d.Reason)
			}
			f, err := Sign(prov, u, body, ct, Forge(prov, cred), now)
			if err != nil {
				t.Fatal(err)
			}
			if d := decide(e, f, now); d.Accept || d.Reason != filter.ReasonBadSignature {
				t.Fatalf("forged %s event: accept=%v reason=%q, want bad_signature", prov, d.Accept, d.Reason)
			}
			if prov == "slack" || prov == "discord" {
				old := now.Add(-10 * time.Minute)
				s, _ := Sign(prov, u, body, ct, cred, old)
				if d := decide(e, s, now); d.Reason != filter.ReasonStaleTimestamp {
					t.Fatalf("stale %s event: reason %q, want stale_timestamp", prov, d.Reason)
				}
			}
		})
	}
}

// The payloads are what the providers send: ingest's own parsers find the
// text, the account (installation external id), the conversation, the sender
// and the event id in them.
func TestBodiesParseAsProviderEvents(t *testing.T) {
	for _, prov := range []string{"slack", "telegram", "whatsapp", "discord"} {
		t.Run(prov, func(t *testing.T) {
			ev := Event{Provider: prov, Text: "where is my order?"}.Defaults()
			body, ct, err := Body(ev)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := provider.Get(prov)
			if !ok {
				t.Fatalf("no inbound adapter for %s", prov)
			}
			res, err := p.Parse(body, ct)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(res.Events) != 1 {
				t.Fatalf("got %d events (ignored: %q), want 1", len(res.Events), res.Ignored)
			}
			got := res.Events[0]
			if !strings.Contains(got.Text, ev.Text) {
				t.Errorf("text %q does not carry %q", got.Text, ev.Text)
			}
			if got.EventID != ev.EventID {
				t.Errorf("event id %q, want %q", got.EventID, ev.EventID)
			}
			if prov != "telegram" && got.Account != ev.Account {
				t.Errorf("account %q, want %q", got.Account, ev.Account)
			}
			wantConv := ev.Channel
			if prov == "whatsapp" {
				wantConv = ev.User // a WhatsApp conversation is the peer's number
			}
			if got.Conversation != wantConv {
				t.Errorf("conversation %q, want %q", got.Conversation, wantConv)
			}
			if got.Sender != ev.User {
				t.Errorf("sender %q, want %q", got.Sender, ev.User)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	seed := strings.Repeat("ab", 32)
	k, err := ParsePrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(strings.Repeat("ab", 32) + PublicKeyHex(k))
	if err != nil || !k.Equal(k2) {
		t.Fatalf("64-byte form: %v equal=%v", err, k.Equal(k2))
	}
	for _, bad := range []string{"", "zz", strings.Repeat("ab", 10)} {
		if _, err := ParsePrivateKey(bad); err == nil {
			t.Errorf("ParsePrivateKey(%q): no error", bad)
		}
	}
}
