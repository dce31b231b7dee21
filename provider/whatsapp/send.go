package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the Graph API origin and DefaultAPIVersion the Graph API
// version the Sender calls; tests point a Sender at a fake.
const (
	DefaultAPIBase    = "https://graph.facebook.com"
	DefaultAPIVersion = "v21.0"
)

// MaxText is the Cloud API's documented limit of a text message body: 4,096
// characters. Longer replies are refused.
const MaxText = 4096

// Sender sends text messages through the WhatsApp Cloud API
// (POST {base}/{version}/{phone_number_id}/messages, Bearer access token).
type Sender struct {
	api     httpsend.API
	version string
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase) and
// version ("" = DefaultAPIVersion).
func NewSender(base, version string, hc *http.Client) *Sender {
	if version == "" {
		version = DefaultAPIVersion
	}
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc), version: version}
}

// Outgoing is one text message from the business number PhoneNumberID to the
// user To (wa_id / phone number). ReplyTo quotes a received message id.
type Outgoing struct {
	PhoneNumberID string
	To            string
	Text          string
	ReplyTo       string
}

// SendError is a refused or failed send: the Graph API error object.
// RetryAfter is the Retry-After of the answer when present, else 0.
type SendError struct {
	httpsend.Failure
	Code    int
	Subcode int
	Type    string
	Message string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("whatsapp messages: %v", e.Cause)
	}
	return fmt.Sprintf("whatsapp messages: HTTP %d code %d: %s", e.Status, e.Code, e.Message)
}

// Graph API error codes that mean "slow down / try later": 4 app rate limit,
// 80007 WABA rate limit, 130429 throughput limit, 131056 pair rate limit,
// 1 and 2 unknown / temporary service errors, 131000 something went wrong.
var whatsappTemporaryCodes = map[int]bool{1: true, 2: true, 4: true, 80007: true, 130429: true, 131056: true, 131000: true}

// Send sends o with the access token and returns the message id ("wamid...").
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (string, error) {
	if err := provider.CheckRunes(Name, o.Text, MaxText); err != nil {
		return "", err
	}
	if o.PhoneNumberID == "" || strings.ContainsAny(o.PhoneNumberID, "/?#") {
		return "", &SendError{Message: "phone_number_id is empty or malformed"}
	}
	if o.To == "" {
		return "", &SendError{Message: "recipient is empty"}
	}
	msg := map[string]any{
		"messaging_product": "whatsapp",
		"recipient_type":    "individual",
		"to":                o.To,
		"type":              "text",
		"text":              map[string]any{"preview_url": false, "body": o.Text},
	}
	if o.ReplyTo != "" {
		msg["context"] = map[string]string{"message_id": o.ReplyTo}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("whatsapp messages: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	hdr.Set("Content-Type", "application/json")
	resp, err := s.api.Post(ctx, "/"+s.version+"/"+url.PathEscape(o.PhoneNumberID)+"/messages", hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("whatsapp messages: %w", err)
	}
	var ans struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    int    `json:"code"`
			Subcode int    `json:"error_subcode"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status == http.StatusOK && ans.Error == nil && len(ans.Messages) > 0 {
		return ans.Messages[0].ID, nil
	}
	e := &SendError{Failure: httpsend.Failure{
		Status:    resp.Status,
		Wait:      httpsend.RetryAfterSeconds(resp.Header),
		Transient: resp.Status == 429 || resp.Status >= 500,
	}}
	if ans.Error != nil {
		e.Code, e.Subcode, e.Type, e.Message = ans.Error.Code, ans.Error.Subcode, ans.Error.Type, ans.Error.Message
		if whatsappTemporaryCodes[e.Code] {
			e.Transient = true
		}
	} else {
		e.Message = "unexpected answer"
	}
	return "", e
}

// SendText is the provider-neutral form the worker uses: account is the
// installation's phone_number_id, conversation the user's number.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	_, err := s.Send(ctx, token, Outgoing{PhoneNumberID: account, To: conversation, Text: text})
	return err
}
