// Package sign produces correctly signed webhook requests for every scheme the
// edge verifies: it is the inverse of the verifier in package filter. It is
// used by `switchboard send-test`, the end-to-end tests, the Wasm plugin tests,
// and by the worker to sign deliveries to agents (Standard Webhooks).
//
// Every function returns the headers to add as name/value pairs, in the
// spelling the provider uses. The body passed in must be the exact bytes that
// will be sent. Standard library only.
package sign

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Header names as the providers send them.
const (
	HeaderSlackSignature     = "X-Slack-Signature"
	HeaderSlackTimestamp     = "X-Slack-Request-Timestamp"
	HeaderHubSignature256    = "X-Hub-Signature-256" // Meta and GitHub
	HeaderTelegramToken      = "X-Telegram-Bot-Api-Secret-Token"
	HeaderDiscordSignature   = "X-Signature-Ed25519"
	HeaderDiscordTimestamp   = "X-Signature-Timestamp"
	HeaderTwilioSignature    = "X-Twilio-Signature"
	HeaderLINESignature      = "X-Line-Signature"
	HeaderWebhookID          = "webhook-id"
	HeaderWebhookTimestamp   = "webhook-timestamp"
	HeaderWebhookSignature   = "webhook-signature"
	HeaderGitHubDelivery     = "X-GitHub-Delivery"
	StandardWebhooksPrefix   = "whsec_"
	twilioBodySHA256Param    = "bodySHA256"
	maxTelegramSecretTokenLn = 256
)

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// SlackSignature is Slack's v0 signature: "v0=" + hex HMAC-SHA256 of
// "v0:" + timestamp + ":" + body under the app's signing secret.
func SlackSignature(signingSecret, timestamp string, body []byte) string {
	base := make([]byte, 0, len(timestamp)+len(body)+4)
	base = append(base, "v0:"...)
	base = append(base, timestamp...)
	base = append(base, ':')
	base = append(base, body...)
	return "v0=" + hex.EncodeToString(hmacSHA256([]byte(signingSecret), base))
}

// Slack returns the headers of a Slack request sent at unix time ts.
func Slack(signingSecret string, ts int64, body []byte) [][2]string {
	t := strconv.FormatInt(ts, 10)
	return [][2]string{
		{HeaderSlackTimestamp, t},
		{HeaderSlackSignature, SlackSignature(signingSecret, t, body)},
	}
}

// HubSignature256 is "sha256=" + hex HMAC-SHA256 of the raw body, the value
// of X-Hub-Signature-256 for Meta (app secret) and GitHub (webhook secret).
func HubSignature256(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hmacSHA256([]byte(secret), body))
}

// Meta returns the headers of a WhatsApp Cloud / Messenger / Instagram
// webhook POST signed with the Meta app secret.
func Meta(appSecret string, body []byte) [][2]string {
	return [][2]string{{HeaderHubSignature256, HubSignature256(appSecret, body)}}
}

// MetaVerifyQuery is the query string of Meta's GET subscription handshake
// (not signed: the edge compares the verify token and echoes the challenge).
func MetaVerifyQuery(verifyToken, challenge string) string {
	// Keys in sorted order, as url.Values.Encode writes them.
	return "hub.challenge=" + queryEscape(challenge) + "&hub.mode=subscribe&hub.verify_token=" + queryEscape(verifyToken)
}

// queryEscape escapes s for a query component like url.QueryEscape (the
// filter module uses no net package): unreserved bytes stay, space is '+',
// every other byte is %XX.
func queryEscape(s string) string {
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return string(b)
}

// GitHub returns the headers of a GitHub webhook delivery. deliveryID may
// be empty (then no X-GitHub-Delivery header is added).
func GitHub(secret string, body []byte, deliveryID string) [][2]string {
	h := [][2]string{{HeaderHubSignature256, HubSignature256(secret, body)}}
	if deliveryID != "" {
		h = append(h, [2]string{HeaderGitHubDelivery, deliveryID})
	}
	return h
}

// ValidTelegramSecretToken reports whether token is acceptable to Telegram's
// setWebhook: 1-256 characters of A-Z, a-z, 0-9, _ and -.
func ValidTelegramSecretToken(token string) bool {
	if len(token) == 0 || len(token) > maxTelegramSecretTokenLn {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Telegram returns the header Telegram sends with every update: the
// secret_token given to setWebhook, verbatim.
func Telegram(secretToken string) ([][2]string, error) {
	if !ValidTelegramSecretToken(secretToken) {
		return nil, errors.New("telegram secret token: must be 1-256 characters of A-Z a-z 0-9 _ -")
	}
	return [][2]string{{HeaderTelegramToken, secretToken}}, nil
}

// DiscordSignature is the hex Ed25519 signature of timestamp + body.
func DiscordSignature(priv ed25519.PrivateKey, timestamp string, body []byte) string {
	msg := make([]byte, 0, len(timestamp)+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, body...)
	return hex.EncodeToString(ed25519.Sign(priv, msg))
}

// Discord returns the headers of a Discord interaction sent at unix time ts,
// signed with the application's Ed25519 private key (the edge holds the
// public key, hex, as Discord shows it).
func Discord(priv ed25519.PrivateKey, ts int64, body []byte) ([][2]string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("discord private key: " + strconv.Itoa(len(priv)) + " bytes, want " + strconv.Itoa(ed25519.PrivateKeySize))
	}
	t := strconv.FormatInt(ts, 10)
	return [][2]string{
		{HeaderDiscordSignature, DiscordSignature(priv, t, body)},
		{HeaderDiscordTimestamp, t},
	}, nil
}

// TwilioSignature is base64 HMAC-SHA1 under the auth token of the full URL as
// Twilio called it, followed, for form posts, by every parameter sorted by
// name (values of a repeated name sorted too), name then value, concatenated.
// url.Values can be passed as params (same underlying map type).
func TwilioSignature(authToken, fullURL string, params map[string][]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range names {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Twilio returns the header of a form-encoded Twilio webhook to fullURL.
func Twilio(authToken, fullURL string, params map[string][]string) [][2]string {
	return [][2]string{{HeaderTwilioSignature, TwilioSignature(authToken, fullURL, params)}}
}

// TwilioJSONURL appends bodySHA256=<hex SHA-256 of body> to rawURL, as
// Twilio does for requests with a JSON body.
func TwilioJSONURL(rawURL string, body []byte) string {
	sum := sha256.Sum256(body)
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	return rawURL + sep + twilioBodySHA256Param + "=" + hex.EncodeToString(sum[:])
}

// TwilioJSON signs a Twilio request with a JSON body: it returns the URL to
// call (rawURL with bodySHA256 added) and the header, which signs that URL
// alone.
func TwilioJSON(authToken, rawURL string, body []byte) (string, [][2]string) {
	u := TwilioJSONURL(rawURL, body)
	return u, Twilio(authToken, u, nil)
}

// LINESignature is base64 HMAC-SHA256 of the raw body under the channel secret.
func LINESignature(channelSecret string, body []byte) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256([]byte(channelSecret), body))
}

// LINE returns the header of a LINE Messaging API webhook.
func LINE(channelSecret string, body []byte) [][2]string {
	return [][2]string{{HeaderLINESignature, LINESignature(channelSecret, body)}}
}

// StandardWebhooksKey decodes a Standard Webhooks secret: "whsec_" followed by
// base64 of the key bytes. (Unlike Stripe, the prefix is not part of the key.)
func StandardWebhooksKey(secret string) ([]byte, error) {
	if !strings.HasPrefix(secret, StandardWebhooksPrefix) {
		return nil, errors.New("standard webhooks secret: missing whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(secret[len(StandardWebhooksPrefix):])
	if err != nil {
		return nil, errors.New("standard webhooks secret: base64 after whsec_: " + err.Error())
	}
	if len(key) == 0 {
		return nil, errors.New("standard webhooks secret: empty key")
	}
	return key, nil
}

// NewStandardWebhooksSecret returns a fresh "whsec_" secret of 32 random bytes.
func NewStandardWebhooksSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errors.New("standard webhooks secret: " + err.Error())
	}
	return StandardWebhooksPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// StandardWebhooksSignature is one "v1,<base64 HMAC-SHA256>" entry over
// id + "." + timestamp + "." + body.
func StandardWebhooksSignature(secret, id string, ts int64, body []byte) (string, error) {
	key, err := StandardWebhooksKey(secret)
	if err != nil {
		return "", err
	}
	t := strconv.FormatInt(ts, 10)
	msg := make([]byte, 0, len(id)+len(t)+len(body)+2)
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = append(msg, t...)
	msg = append(msg, '.')
	msg = append(msg, body...)
	return "v1," + base64.StdEncoding.EncodeToString(hmacSHA256(key, msg)), nil
}

// StandardWebhooks returns the three Standard Webhooks headers for message id
// sent at unix time ts. With several secrets (a rotation) the signature header
// carries one space-separated entry per secret, in order.
func StandardWebhooks(id string, ts int64, body []byte, secrets ...string) ([][2]string, error) {
	if id == "" {
		return nil, errors.New("standard webhooks: empty message id")
	}
	if len(secrets) == 0 {
		return nil, errors.New("standard webhooks: no secret")
	}
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		sig, err := StandardWebhooksSignature(s, id, ts, body)
		if err != nil {
			return nil, errors.New("secret " + strconv.Itoa(i) + ": " + err.Error())
		}
		sigs = append(sigs, sig)
	}
	return [][2]string{
		{HeaderWebhookID, id},
		{HeaderWebhookTimestamp, strconv.FormatInt(ts, 10)},
		{HeaderWebhookSignature, strings.Join(sigs, " ")},
	}, nil
}
