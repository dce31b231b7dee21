package line

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the Messaging API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://api.line.me"

// Documented limits: a text message holds at most 5,000 characters (LINE
// counts UTF-16 code units), and one reply or push request at most 5
// message objects. A longer reply is split into up to 5 text messages of one
// request (sent at once, so a retry never repeats half of it); beyond
// 25,000 characters it is refused.
const (
	MaxText     = 5000
	MaxMessages = 5
)

// ReplyTokenTTL is how long after the webhook a reply token is used: LINE
// documents that a reply token must be used within one minute of receiving
// the webhook. After it, or when LINE says the token is invalid (it is
// single-use: the first reply to an event spends it), the Sender pushes.
const ReplyTokenTTL = time.Minute

// Sender sends replies with the reply API (POST {base}/v2/bot/message/reply)
// while the event's reply token is valid, else with the push API (POST
// {base}/v2/bot/message/push, with an X-Line-Retry-Key so a retried push is
// not delivered twice), Bearer channel access token.
type Sender struct {
	api httpsend.API
	now func() time.Time
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc), now: time.Now}
}

// SendError is a refused or failed send: LINE's error message.
type SendError struct {
	httpsend.Failure
	Message string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("line messages: %v", e.Cause)
	}
	return fmt.Sprintf("line messages: HTTP %d: %s", e.Status, e.Message)
}

// Messages splits text into the text message objects of one request.
func Messages(text string) ([]map[string]string, error) {
	if n := provider.UTF16Len(text); n > MaxText*MaxMessages {
		return nil, &provider.TextTooLongError{Provider: Name, Limit: MaxText * MaxMessages, Unit: "UTF-16 code units", Length: n}
	}
	var out []map[string]string
	for _, p := range provider.SplitUTF16(text, MaxText) {
		out = append(out, map[string]string{"type": "text", "text": p})
	}
	return out, nil
}

// replyToken finds the reply token of the event eventID in a webhook body.
func replyToken(raw []byte, eventID string) string {
	var b struct {
		Events []struct {
			WebhookEventID string `json:"webhookEventId"`
			ReplyToken     string `json:"replyToken"`
		} `json:"events"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return ""
	}
	for _, e := range b.Events {
		if e.WebhookEventID == eventID {
			return e.ReplyToken
		}
	}
	return ""
}

// retryKey is the X-Line-Retry-Key of a push: a UUID derived from the event
// and the text, the same on every retry of that reply.
func retryKey(eventID, conversation, text string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + conversation + "\x00" + text))
	h[6] = h[6]&0x0f | 0x40 // version 4 layout
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// SendReply answers r: reply with the event's reply token while it is valid,
// push to the conversation (user, group or room id) otherwise or when LINE
// refuses the token.
func (s *Sender) SendReply(ctx context.Context, r provider.Reply) error {
	msgs, err := Messages(r.Text)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	if r.Token == "" {
		return &SendError{Message: "channel access token is empty"}
	}
	if tok := replyToken(r.Raw, r.EventID); tok != "" && !r.ReceivedAt.IsZero() && s.now().Sub(r.ReceivedAt) < ReplyTokenTTL {
		err := s.post(ctx, r.Token, "/v2/bot/message/reply", "", map[string]any{"replyToken": tok, "messages": msgs})
		var se *SendError
		if err == nil || !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(strings.ToLower(se.Message), "reply token") {
			return err
		}
		// Spent or expired token: push instead.
	}
	if r.Conversation == "" {
		return &SendError{Message: "conversation (push target) is empty"}
	}
	key := "" // without the event, two equal texts would share a key and LINE would drop the second
	if r.EventID != "" {
		key = retryKey(r.EventID, r.Conversation, r.Text)
	}
	return s.post(ctx, r.Token, "/v2/bot/message/push", key, map[string]any{"to": r.Conversation, "messages": msgs})
}

func (s *Sender) post(ctx context.Context, token, path, retryKey string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("line messages: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	hdr.Set("Content-Type", "application/json")
	if retryKey != "" {
		hdr.Set("X-Line-Retry-Key", retryKey)
	}
	resp, err := s.api.Post(ctx, path, hdr, raw)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return fmt.Errorf("line messages: %w", err)
	}
	if resp.Status == http.StatusOK {
		return nil
	}
	// 409 on a push with a retry key: LINE already accepted this request.
	if resp.Status == http.StatusConflict && retryKey != "" && resp.Header.Get("X-Line-Accepted-Request-Id") != "" {
		return nil
	}
	var ans struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if ans.Message == "" {
		ans.Message = "unexpected answer"
	}
	return &SendError{Message: ans.Message, Failure: httpsend.Failure{
		Status:    resp.Status,
		Wait:      httpsend.RetryAfterSeconds(resp.Header),
		Transient: resp.Status == http.StatusTooManyRequests || resp.Status >= 500,
	}}
}

// SendText is the provider-neutral form without the event: always a push to
// conversation.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	return s.SendReply(ctx, provider.Reply{Token: token, Account: account, Conversation: conversation, Thread: thread, Text: text})
}
