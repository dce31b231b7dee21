// Package messenger is the Messenger (Facebook Pages) provider: Messenger Platform webhooks
// (object "page", entry[].messaging[]) normalised into events, and replies
// through the Send API. Verification (X-Hub-Signature-256 with the Meta app
// secret) and the GET verify handshake happen at the edge, scheme
// meta_sha256. The parsing and sending shared with the other Meta messaging
// provider live in provider/internal/metamsg.
package messenger

import (
	"net/http"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
)

// Name is the provider name.
const Name = "messenger"

// Object is the webhook's object field.
const Object = "page"

// Inbound parses messenger webhooks.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

// Parse yields one event per message or postback; the account is entry[].id,
// the Page id (see metamsg.Parse).
//
// A form body is the deauthorize callback (signed_request, verified by the
// edge with the app secret): the installation it was posted for is revoked.
func (Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	if provider.IsForm(contentType) {
		return metamsg.ParseDeauthorize(Name, body)
	}
	return metamsg.Parse(Name, Object, body)
}

// MaxText is the Send API's documented limit of a text message for
// Messenger: 2,000 characters. Longer replies are refused.
const MaxText = 2000

// NewSender returns the Send API client for Messenger at base ("" =
// metamsg.DefaultAPIBase) and version ("" = metamsg.DefaultAPIVersion).
func NewSender(base, version string, hc *http.Client) *metamsg.Sender {
	return metamsg.NewSender(Name, func(text string) error { return provider.CheckRunes(Name, text, MaxText) }, base, version, hc)
}

// DefaultAPIBase and DefaultAPIVersion are where the Send API is called.
const (
	DefaultAPIBase    = metamsg.DefaultAPIBase
	DefaultAPIVersion = metamsg.DefaultAPIVersion
)
