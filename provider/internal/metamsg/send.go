package metamsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the Graph API origin and DefaultAPIVersion the version
// the Send API is called at; tests point a Sender at a fake.
const (
	DefaultAPIBase    = "https://graph.facebook.com"
	DefaultAPIVersion = "v21.0"
)

// Sender sends text messages through the Send API: POST
// {base}/{version}/{account id}/messages with
// {"recipient":{"id":...},"messaging_type":"RESPONSE","message":{"text":...}}
// and the Page access token as a Bearer token (never in the URL).
type Sender struct {
	name    string
	check   func(text string) error
	api     httpsend.API
	version string
}

// NewSender returns a Sender for provider name whose texts check accepts.
func NewSender(name string, check func(string) error, base, version string, hc *http.Client) *Sender {
	if version == "" {
		version = DefaultAPIVersion
	}
	return &Sender{name: name, check: check, api: httpsend.NewAPI(base, DefaultAPIBase, hc), version: version}
}

// SendError is a refused or failed send: the Graph API error object.
type SendError struct {
	httpsend.Failure
	Provider string
	Code     int
	Subcode  int
	Type     string
	Message  string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s send api: %v", e.Provider, e.Cause)
	}
	return fmt.Sprintf("%s send api: HTTP %d code %d: %s", e.Provider, e.Status, e.Code, e.Message)
}

// Graph API error codes that mean "try later": 1 unknown and 2 temporary
// service errors, 4 application, 17 user and 32 Page request limits, 613
// call rate limit, 80002 Instagram and 80006 Messenger rate limits.
var TemporaryCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 613: true, 80002: true, 80006: true}

// Send sends text from account (Page or Instagram account id) to the
// recipient's scoped id and returns the message id.
func (s *Sender) Send(ctx context.Context, token, account, recipient, text string) (string, error) {
	if err := s.check(text); err != nil {
		return "", err
	}
	if account == "" || strings.ContainsAny(account, "/?#") {
		return "", &SendError{Provider: s.name, Message: "account id is empty or malformed"}
	}
	if recipient == "" {
		return "", &SendError{Provider: s.name, Message: "recipient is empty"}
	}
	body, err := json.Marshal(map[string]any{
		"recipient":      map[string]string{"id": recipient},
		"messaging_type": "RESPONSE",
		"message":        map[string]string{"text": text},
	})
	if err != nil {
		return "", fmt.Errorf("%s send api: encode: %w", s.name, err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	hdr.Set("Content-Type", "application/json")
	resp, err := s.api.Post(ctx, "/"+s.version+"/"+url.PathEscape(account)+"/messages", hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Provider: s.name, Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("%s send api: %w", s.name, err)
	}
	var ans struct {
		MessageID string `json:"message_id"`
		Error     *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    int    `json:"code"`
			Subcode int    `json:"error_subcode"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status == http.StatusOK && ans.Error == nil && ans.MessageID != "" {
		return ans.MessageID, nil
	}
	e := &SendError{Provider: s.name, Failure: httpsend.Failure{
		Status:    resp.Status,
		Wait:      httpsend.RetryAfterSeconds(resp.Header),
		Transient: resp.Status == http.StatusTooManyRequests || resp.Status >= 500,
	}}
	if ans.Error != nil {
		e.Code, e.Subcode, e.Type, e.Message = ans.Error.Code, ans.Error.Subcode, ans.Error.Type, ans.Error.Message
		if TemporaryCodes[e.Code] {
			e.Transient = true
		}
	} else {
		e.Message = "unexpected answer"
	}
	return "", e
}

// SendText is the provider-neutral form the worker uses: account is the
// installation's Page / Instagram account id, conversation the user's
// scoped id; no threads.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, _, text string) error {
	_, err := s.Send(ctx, token, account, conversation, text)
	return err
}
