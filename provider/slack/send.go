package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is Slack's Web API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://slack.com"

// MaxText is chat.postMessage's documented limit: Slack truncates text over
// 40,000 characters, so a longer reply is refused rather than cut.
const MaxText = 40000

// Sender posts messages with chat.postMessage
// (POST {base}/api/chat.postMessage, Bearer bot token, JSON body).
type Sender struct {
	api httpsend.API
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc)}
}

// Outgoing is one message to post.
type Outgoing struct {
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts,omitempty"`
}

// SendError is a refused or failed send. Code is Slack's "error" string
// ("channel_not_found", "ratelimited", ...) or "http_<status>" / "transport".
// RetryAfter is the delay Slack asked for (429 Retry-After), 0 when none.
type SendError struct {
	httpsend.Failure
	Code string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("slack chat.postMessage: %s: %v", e.Code, e.Cause)
	}
	return fmt.Sprintf("slack chat.postMessage: %s (HTTP %d)", e.Code, e.Status)
}

var slackTemporaryCodes = map[string]bool{
	"ratelimited": true, "service_unavailable": true, "fatal_error": true,
	"internal_error": true, "request_timeout": true,
}

// Send posts o with token and returns the message ts.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (string, error) {
	if err := provider.CheckRunes(Name, o.Text, MaxText); err != nil {
		return "", err
	}
	if o.Channel == "" {
		return "", &SendError{Code: "channel_empty"}
	}
	body, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("slack chat.postMessage: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.api.Post(ctx, "/api/chat.postMessage", hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Code: "transport", Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("slack chat.postMessage: %w", err)
	}
	if resp.Status == http.StatusTooManyRequests {
		return "", &SendError{Code: "ratelimited", Failure: httpsend.Failure{Status: resp.Status, Wait: httpsend.RetryAfterSeconds(resp.Header), Transient: true}}
	}
	if resp.Status != http.StatusOK {
		return "", &SendError{Code: "http_" + strconv.Itoa(resp.Status), Failure: httpsend.Failure{Status: resp.Status, Transient: resp.Status >= 500}}
	}
	var ans struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		TS    string `json:"ts"`
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return "", &SendError{Code: "bad_response", Failure: httpsend.Failure{Status: resp.Status, Transient: true, Cause: err}}
	}
	if !ans.OK {
		return "", &SendError{Code: ans.Error, Failure: httpsend.Failure{Status: resp.Status, Transient: slackTemporaryCodes[ans.Error]}}
	}
	return ans.TS, nil
}

// SendText is the provider-neutral form the worker uses: account is unused
// (the bot token selects the workspace), thread is the parent message ts.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	_, err := s.Send(ctx, token, Outgoing{Channel: conversation, Text: text, ThreadTS: thread})
	return err
}
