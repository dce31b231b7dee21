// Package instagram is the Instagram messaging (Instagram professional accounts) provider: Messenger Platform webhooks
// (object "instagram", entry[].messaging[]) normalised into events, and replies
// through the Send API. Verification (X-Hub-Signature-256 with the Meta app
// secret) and the GET verify handshake happen at the edge, scheme
// meta_sha256. The parsing and sending shared with the other Meta messaging
// provider live in provider/internal/metamsg.
package instagram

import (
	"net/http"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
)

// Name is the provider name.
const Name = "instagram"

// Object is the webhook's object field.
const Object = "instagram"

// Inbound parses instagram webhooks.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

// Parse yields one event per message or postback; the account is entry[].id,
// the Instagram professional account id (see metamsg.Parse).
//
// A form body is the deauthorize callback (signed_request, verified by the
// edge with the app secret): the installation it was posted for is revoked.
func (Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	if provider.IsForm(contentType) {
		return metamsg.ParseDeauthorize(Name, body)
	}
	return metamsg.Parse(Name, Object, body)
}

// MaxTextBytes is the Send API's documented limit of an Instagram text
// message: UTF-8 and less than 1,000 bytes. Longer replies are refused.
const MaxTextBytes = 999

// NewSender returns the Send API client for Instagram at base ("" =
// metamsg.DefaultAPIBase) and version ("" = metamsg.DefaultAPIVersion).
func NewSender(base, version string, hc *http.Client) *metamsg.Sender {
	return metamsg.NewSender(Name, func(text string) error { return provider.CheckBytes(Name, text, MaxTextBytes) }, base, version, hc)
}

// DefaultAPIBase and DefaultAPIVersion are where the Send API is called.
const (
	DefaultAPIBase    = metamsg.DefaultAPIBase
	DefaultAPIVersion = metamsg.DefaultAPIVersion
)
