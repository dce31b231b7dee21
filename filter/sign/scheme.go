package sign

import (
	"crypto/ed25519"
	"errors"
	"strconv"

	"github.com/switchboard-dev/switchboard/filter"
)

// Request describes what to sign for Headers. Which fields matter depends on
// the scheme; the rest are ignored.
type Request struct {
	// Scheme is a filter scheme name: slack_v0, meta_sha256, telegram_token,
	// discord_ed25519, twilio_sha1, line, standard_webhooks, github_sha256.
	Scheme string
	// Secret is the signing secret (Slack), app secret (Meta), secret token
	// (Telegram), auth token (Twilio), channel secret (LINE), whsec_ secret
	// (Standard Webhooks) or webhook secret (GitHub).
	Secret string
	// PrivateKey signs Discord requests.
	PrivateKey ed25519.PrivateKey
	Body       []byte
	// Now is the unix time put in the timestamp header (Slack, Discord,
	// Standard Webhooks).
	Now int64
	// URL is the full URL as the provider calls it (Twilio only).
	URL string
	// Form holds Twilio's form parameters; nil means parse Body as a form.
	// For Twilio JSON bodies use TwilioJSON, which also changes the URL.
	Form map[string][]string
	// ID is the message id (Standard Webhooks) or delivery id (GitHub).
	ID string
}

// Headers signs r by its scheme and returns the headers to add.
func Headers(r Request) ([][2]string, error) {
	switch r.Scheme {
	case "slack_v0":
		return Slack(r.Secret, r.Now, r.Body), nil
	case "meta_sha256":
		return Meta(r.Secret, r.Body), nil
	case "telegram_token":
		return Telegram(r.Secret)
	case "discord_ed25519":
		return Discord(r.PrivateKey, r.Now, r.Body)
	case "twilio_sha1":
		if r.URL == "" {
			return nil, errors.New("twilio: the full URL Twilio calls is required")
		}
		form := r.Form
		if form == nil {
			pairs, err := filter.ParseForm(string(r.Body))
			if err != nil {
				return nil, errors.New("twilio: body is not a form: " + err.Error())
			}
			form = map[string][]string{}
			for _, kv := range pairs {
				form[kv[0]] = append(form[kv[0]], kv[1])
			}
		}
		return Twilio(r.Secret, r.URL, form), nil
	case "line":
		return LINE(r.Secret, r.Body), nil
	case "standard_webhooks":
		return StandardWebhooks(r.ID, r.Now, r.Body, r.Secret)
	case "github_sha256":
		return GitHub(r.Secret, r.Body, r.ID), nil
	default:
		return nil, errors.New("unknown scheme " + strconv.Quote(r.Scheme))
	}
}
