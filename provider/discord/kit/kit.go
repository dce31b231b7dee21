// Package kit is Discord's conformance kit (see provider/conformance).
package kit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/discord"
)

func init() { conformance.Register(Kit{}) }

// Kit is the Discord kit.
type Kit struct{}

func (Kit) Provider() string  { return discord.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake application and channel.
const (
	BotToken    = "MTE4MzE5MDQ5MzI0MDU3ODA0OA.fake.bot-token"
	Channel     = "697138785317814292"
	SlowChannel = "697138785317810429" // the fake answers 429 with retry_after 1.5
)

var key = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

// Vectors: X-Signature-Ed25519 over timestamp + body with the application's
// public key; a PING, altered, stale and unsigned.
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/discord/" + conformance.Ingress
	const ts = 1700000000
	body := []byte(`{"id":"1183200000000000000","application_id":"1183190493240578048","type":1,"token":"aW50","version":1}`)
	sig := hex.EncodeToString(ed25519.Sign(key, append([]byte(strconv.Itoa(ts)), body...)))
	req := func(sig string, b []byte) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}, {"X-Signature-Timestamp", strconv.Itoa(ts)}}
		if sig != "" {
			h = append(h, [2]string{"X-Signature-Ed25519", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: b}
	}
	sec := map[string]string{"public_key": hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	return []conformance.Vector{
		{Name: "signed ping", Secrets: sec, Request: req(sig, body), Now: ts, Accept: true},
		{Name: "body changed", Secrets: sec, Request: req(sig, append(body[:len(body):len(body)], ' ')), Now: ts, Reason: filter.ReasonBadSignature},
		{Name: "stale", Secrets: sec, Request: req(sig, body), Now: ts + 3600, Reason: filter.ReasonStaleTimestamp},
		{Name: "no signature", Secrets: sec, Request: req("", body), Now: ts, Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows Create Message: POST /api/v10/channels/{channel.id}/messages
// with "Authorization: Bot <token>" and {content}; 200 with the message;
// errors {code, message}; 429 {message, retry_after, global}.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
	mux.HandleFunc("POST /api/v10/channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bot "+BotToken {
			fail(w, 401, `{"message":"401: Unauthorized","code":0}`)
			return
		}
		var q struct {
			Content string `json:"content"`
		}
		if json.NewDecoder(r.Body).Decode(&q) != nil || q.Content == "" {
			fail(w, 400, `{"message":"Cannot send an empty message","code":50006}`)
			return
		}
		if len([]rune(q.Content)) > discord.MaxContent {
			fail(w, 400, `{"message":"Invalid Form Body","code":50035}`)
			return
		}
		switch r.PathValue("id") {
		case SlowChannel:
			w.Header().Set("Retry-After", "2")
			fail(w, 429, `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`)
		case Channel:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"1183201108930498999","channel_id":"` + Channel + `","type":0,"content":"ok"}`))
		default:
			fail(w, 404, `{"message":"Unknown Channel","code":10003}`)
		}
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return discord.NewSender(base, nil) }
func (Kit) GoodReply() provider.Reply                    { return provider.Reply{Token: BotToken, Conversation: Channel} }
func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: BotToken, Conversation: SlowChannel}
}
func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: discord.MaxContent, Unit: "characters", Over: conformance.Refuse}
}
func (Kit) RateLimitWait() time.Duration { return 1500 * time.Millisecond }

// Texts reads the content of a Create Message request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Content == "" {
		return nil
	}
	return []string{q.Content}
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{Inputs: []string{"webhook_application_deauthorized"}}
}
