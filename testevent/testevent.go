// Package testevent builds realistic provider webhook requests, correctly
// signed (or deliberately forged) for the scheme the edge verifies them with.
// It is what `switchboard send-test` sends and what the end-to-end tests walk
// through the stack: the payloads follow each provider's documented shapes
// (Slack event_callback, Telegram Update, WhatsApp Cloud notification,
// Discord interaction, …) so that ingest normalises them like real traffic.
package testevent

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/xds"
)

// Event describes the test event to build. Empty fields get realistic
// defaults (see Defaults).
type Event struct {
	Provider string
	// Account is the installation's provider-side id that the body names:
	// Slack team id, WhatsApp phone_number_id, Discord guild id. It must be
	// the installation's external id, or ingest refuses the event
	// (tenant_mismatch).
	Account string
	// AppID is the provider app id in the body (Slack api_app_id, Discord
	// application_id, WhatsApp business account id).
	AppID   string
	Channel string // Slack channel, Telegram chat id, Discord channel id
	User    string // sender: Slack user, Telegram user id, WhatsApp phone number, Discord user id
	Text    string
	// EventID is the provider's event id (Slack event_id, Telegram update_id,
	// WhatsApp message id, Discord interaction id); a retry of the same event
	// carries the same id.
	EventID string
	Now     time.Time
}

// Defaults fills the empty fields of e.
func (e Event) Defaults() Event {
	if e.Now.IsZero() {
		e.Now = time.Now()
	}
	if e.Text == "" {
		e.Text = "hello from switchboard send-test"
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	switch e.Provider {
	case "slack":
		def(&e.Account, "T0SENDTEST")
		def(&e.AppID, "A0SENDTEST")
		def(&e.Channel, "C0SENDTEST")
		def(&e.User, "U0SENDTEST")
		def(&e.EventID, "Ev"+randAlnum(10))
	case "telegram":
		def(&e.Channel, "-1001234567890")
		def(&e.User, "123456789")
		def(&e.EventID, strconv.FormatInt(randInt(1e9), 10))
	case "whatsapp":
		def(&e.Account, "106540352242922")
		def(&e.AppID, "102290129340398")
		def(&e.User, "16505551234")
		def(&e.EventID, "wamid."+randAlnum(40))
	case "discord":
		def(&e.Account, "613425648685547541")
		def(&e.AppID, "1183190493240578048")
		def(&e.Channel, "697138785317814292")
		def(&e.User, "53908232506183680")
		def(&e.EventID, strconv.FormatInt(1e18+randInt(1e17), 10))
	case "twilio":
		def(&e.Account, "+15557654321") // the installation's number (To)
		def(&e.AppID, "AC"+hexRand(16))
		def(&e.User, "+15551234567")
		def(&e.EventID, "SM"+hexRand(16))
	case "line":
		def(&e.Account, "U"+hexRand(16)) // the bot's user id (destination)
		def(&e.User, "U"+hexRand(16))
		def(&e.EventID, "01"+randAlnum(24))
	case "github":
		def(&e.Account, "2311213") // the GitHub App installation id
		def(&e.Channel, "octo-org/hello-world")
		def(&e.User, "octocat")
		def(&e.EventID, hexRand(4)+"-"+hexRand(2)+"-"+hexRand(2)+"-"+hexRand(2)+"-"+hexRand(6))
	case "messenger", "instagram":
		def(&e.Account, "106540352242922") // the Page / Instagram account id
		def(&e.User, "6543210987654321")
		def(&e.EventID, "m_"+randAlnum(40))
	case "standardwebhooks":
		def(&e.Channel, "general")
		def(&e.User, "user_sendtest")
		def(&e.EventID, "msg_"+randAlnum(24))
	default:
		def(&e.Account, "acct_sendtest")
		def(&e.Channel, "general")
		def(&e.User, "user_sendtest")
		def(&e.EventID, "evt_"+randAlnum(16))
	}
	return e
}

// Body returns the provider payload of e (after Defaults) and its
// Content-Type.
func Body(e Event) ([]byte, string, error) {
	e = e.Defaults()
	ts := e.Now.Unix()
	var v any
	switch e.Provider {
	case "slack":
		// Events API event_callback with a message event, as Slack posts it.
		msgTS := fmt.Sprintf("%d.%06d", ts, e.Now.Nanosecond()/1000)
		v = map[string]any{
			"token":      "XXYYZZ",
			"team_id":    e.Account,
			"api_app_id": e.AppID,
			"event": map[string]any{
				"type": "message", "channel": e.Channel, "user": e.User, "text": e.Text,
				"ts": msgTS, "event_ts": msgTS, "channel_type": "channel",
			},
			"type":       "event_callback",
			"event_id":   e.EventID,
			"event_time": ts,
			"authorizations": []any{map[string]any{
				"enterprise_id": nil, "team_id": e.Account, "user_id": "U0SWITCHBOT", "is_bot": true, "is_enterprise_install": false,
			}},
			"event_context": "EC" + randAlnum(10),
		}
	case "telegram":
		updateID, err := strconv.ParseInt(e.EventID, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("telegram event id (update_id) must be an integer, got %q", e.EventID)
		}
		chatID, err := strconv.ParseInt(e.Channel, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("telegram channel (chat id) must be an integer, got %q", e.Channel)
		}
		userID, err := strconv.ParseInt(e.User, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("telegram user id must be an integer, got %q", e.User)
		}
		chatType := "supergroup"
		if chatID > 0 {
			chatType = "private"
		}
		v = map[string]any{
			"update_id": updateID,
			"message": map[string]any{
				"message_id": randInt(1e6),
				"from":       map[string]any{"id": userID, "is_bot": false, "first_name": "Test", "username": "sendtest", "language_code": "en"},
				"chat":       map[string]any{"id": chatID, "title": "Switchboard test", "type": chatType},
				"date":       ts,
				"text":       e.Text,
			},
		}
	case "whatsapp":
		// WhatsApp Cloud API "messages" notification.
		v = map[string]any{
			"object": "whatsapp_business_account",
			"entry": []any{map[string]any{
				"id": e.AppID,
				"changes": []any{map[string]any{
					"field": "messages",
					"value": map[string]any{
						"messaging_product": "whatsapp",
						"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": e.Account},
						"contacts":          []any{map[string]any{"profile": map[string]any{"name": "Test User"}, "wa_id": e.User}},
						"messages": []any{map[string]any{
							"from": e.User, "id": e.EventID, "timestamp": strconv.FormatInt(ts, 10),
							"type": "text", "text": map[string]any{"body": e.Text},
						}},
					},
				}},
			}},
		}
	case "discord":
		// An application command interaction (/ask question:<text>).
		v = map[string]any{
			"id":             e.EventID,
			"application_id": e.AppID,
			"type":           2,
			"token":          "aW50ZXJhY3Rpb24" + randAlnum(12),
			"version":        1,
			"guild_id":       e.Account,
			"channel_id":     e.Channel,
			"member": map[string]any{
				"user":        map[string]any{"id": e.User, "username": "sendtest", "global_name": "Send Test"},
				"roles":       []any{},
				"permissions": "2147483647",
			},
			"data": map[string]any{
				"id": "771825006014889984", "name": "ask", "type": 1,
				"options": []any{map[string]any{"name": "question", "type": 3, "value": e.Text}},
			},
		}
	case "twilio":
		f := url.Values{}
		f.Set("MessageSid", e.EventID)
		f.Set("SmsSid", e.EventID)
		f.Set("AccountSid", e.AppID)
		f.Set("From", "+"+digitsOr(e.User, "15005550006"))
		f.Set("To", e.Account)
		f.Set("Body", e.Text)
		f.Set("NumMedia", "0")
		f.Set("SmsStatus", "received")
		f.Set("ApiVersion", "2010-04-01")
		return []byte(f.Encode()), "application/x-www-form-urlencoded", nil
	case "line":
		v = map[string]any{
			"destination": e.Account,
			"events": []any{map[string]any{
				"type": "message", "mode": "active", "timestamp": e.Now.UnixMilli(),
				"webhookEventId": e.EventID, "replyToken": hexRand(16),
				"deliveryContext": map[string]any{"isRedelivery": false},
				"source":          map[string]any{"type": "user", "userId": e.User},
				"message":         map[string]any{"id": strconv.FormatInt(randInt(1e15), 10), "type": "text", "text": e.Text},
			}},
		}
	case "github":
		// An issue_comment "created" delivery of a GitHub App (X-GitHub-Event:
		// issue_comment; see Headers).
		v = map[string]any{
			"action": "created",
			"issue":  map[string]any{"number": 42, "title": "switchboard send-test", "state": "open"},
			"comment": map[string]any{
				"id": randInt(1e9), "body": e.Text, "user": map[string]any{"login": e.User, "type": "User"},
			},
			"repository":   map[string]any{"full_name": e.Channel},
			"sender":       map[string]any{"login": e.User, "type": "User"},
			"installation": map[string]any{"id": installationID(e.Account)},
		}
	case "messenger", "instagram":
		object := "page"
		if e.Provider == "instagram" {
			object = "instagram"
		}
		v = map[string]any{
			"object": object,
			"entry": []any{map[string]any{
				"id": e.Account, "time": e.Now.UnixMilli(),
				"messaging": []any{map[string]any{
					"sender": map[string]any{"id": e.User}, "recipient": map[string]any{"id": e.Account},
					"timestamp": e.Now.UnixMilli(),
					"message":   map[string]any{"mid": e.EventID, "text": e.Text},
				}},
			}},
		}
	case "standardwebhooks":
		v = map[string]any{"type": "message.created", "timestamp": e.Now.UTC().Format(time.RFC3339),
			"data": map[string]any{"id": e.EventID, "channel": e.Channel, "from": e.User, "text": e.Text}}
	default:
		return nil, "", fmt.Errorf("unknown provider %q", e.Provider)
	}
	b, err := json.Marshal(v)
	return b, "application/json", err
}

// Headers are the provider's own headers of e beside its signature
// (GitHub's X-GitHub-Event).
func Headers(e Event) [][2]string {
	if e.Provider == "github" {
		return [][2]string{{"X-GitHub-Event", "issue_comment"}}
	}
	return nil
}

// SignEvent builds e's body and signs it for fullURL like Sign, with e's
// event id as the message id of the schemes that carry one (Standard
// Webhooks' webhook-id, GitHub's X-GitHub-Delivery) and e's Headers.
func SignEvent(e Event, fullURL string, cred Credentials) (Signed, error) {
	e = e.Defaults()
	body, ct, err := Body(e)
	if err != nil {
		return Signed{}, err
	}
	sg, err := signWithID(e.Provider, fullURL, body, ct, cred, e.Now, e.EventID)
	if err != nil {
		return Signed{}, err
	}
	sg.Headers = append(sg.Headers, Headers(e)...)
	return sg, nil
}

// Credentials sign a request. Secret is the provider's signing material
// (Slack signing secret, Meta app secret, Telegram secret token, Twilio auth
// token, LINE channel secret, whsec_ secret, GitHub webhook secret);
// PrivateKey signs Discord interactions.
type Credentials struct {
	Secret     string
	PrivateKey ed25519.PrivateKey
}

// Signed is a request ready to send.
type Signed struct {
	URL     string // may differ from the input URL (Twilio JSON bodies add bodySHA256)
	Headers [][2]string
	Body    []byte
}

// Sign signs body for provider's scheme as a request to fullURL sent at now.
// Headers include Content-Type.
func Sign(provider, fullURL string, body []byte, contentType string, cred Credentials, now time.Time) (Signed, error) {
	return signWithID(provider, fullURL, body, contentType, cred, now, "")
}

// signWithID is Sign with the message id of Standard Webhooks and GitHub ("" = random).
func signWithID(provider, fullURL string, body []byte, contentType string, cred Credentials, now time.Time, id string) (Signed, error) {
	scheme, ok := xds.SchemeFor(provider)
	if !ok {
		return Signed{}, fmt.Errorf("unknown provider %q", provider)
	}
	r := sign.Request{Scheme: string(scheme), Secret: cred.Secret, PrivateKey: cred.PrivateKey, Body: body, Now: now.Unix(), URL: fullURL}
	switch scheme {
	case "discord_ed25519":
		if len(cred.PrivateKey) != ed25519.PrivateKeySize {
			return Signed{}, errors.New("discord: an Ed25519 private key is required (--private-key)")
		}
	default:
		if cred.Secret == "" {
			return Signed{}, fmt.Errorf("%s: a secret is required (--secret or --secret-file)", provider)
		}
	}
	if scheme == "standard_webhooks" || scheme == "github_sha256" {
		r.ID = id
		if r.ID == "" {
			r.ID = "msg_" + randAlnum(24)
		}
	}
	out := Signed{URL: fullURL, Body: body}
	var h [][2]string
	var err error
	if scheme == "twilio_sha1" && !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		out.URL, h = sign.TwilioJSON(cred.Secret, fullURL, body)
	} else {
		h, err = sign.Headers(r)
	}
	if err != nil {
		return Signed{}, err
	}
	out.Headers = append([][2]string{{"Content-Type", contentType}}, h...)
	return out, nil
}

// Forge returns credentials of the same kind as cred but different: what an
// attacker who does not know the installation's secret would sign with.
func Forge(provider string, cred Credentials) Credentials {
	if scheme, _ := xds.SchemeFor(provider); scheme == "discord_ed25519" {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		return Credentials{PrivateKey: priv}
	}
	switch {
	case strings.HasPrefix(cred.Secret, sign.StandardWebhooksPrefix):
		s, _ := sign.NewStandardWebhooksSecret()
		return Credentials{Secret: s}
	case provider == "telegram":
		return Credentials{Secret: "forged_" + randAlnum(24)}
	}
	// Same length and alphabet as the real secret where it matters to the
	// API's checks (hex secrets stay hex).
	n := len(cred.Secret)
	if n == 0 {
		n = 32
	}
	return Credentials{Secret: hexRand((n + 1) / 2)[:n]}
}

// ParsePrivateKey reads a Discord test key: hex of a 32-byte Ed25519 seed or
// of a 64-byte private key, or a file holding either.
func ParsePrivateKey(s string) (ed25519.PrivateKey, error) {
	v := strings.TrimSpace(s)
	if b, err := os.ReadFile(v); err == nil {
		v = strings.TrimSpace(string(b))
	}
	raw, err := hex.DecodeString(v)
	if err != nil {
		return nil, errors.New("private key: want hex of a 32-byte Ed25519 seed or a 64-byte private key (or a file holding it)")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("private key: %d bytes, want %d (seed) or %d", len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// PublicKeyHex is the hex public key of priv, as Discord shows it and as the
// installation's public_key secret takes it.
func PublicKeyHex(priv ed25519.PrivateKey) string {
	return hex.EncodeToString(priv.Public().(ed25519.PublicKey))
}

// installationID is a GitHub installation id as GitHub sends it (a number),
// or as given when it is not one.
func installationID(s string) any {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return json.Number(s)
	}
	return s
}

func digitsOr(s, def string) string {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return def
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
	}
	return s
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randAlnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[randInt(int64(len(alnum)))]
	}
	return string(b)
}

func randInt(max int64) int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(max))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Int64()
}

func hexRand(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
