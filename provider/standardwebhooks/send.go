package standardwebhooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// ReplyType is the event type of a reply posted to an installation's reply_url.
const ReplyType = "switchboard.reply"

// MaxText is the longest reply text posted, in bytes. Standard Webhooks sets
// no limit of its own; this bounds what a receiver must take (64 KiB), and
// longer replies are refused.
const MaxText = 64 << 10

// Sender posts replies to the installation's reply_url as Standard Webhooks
// messages signed with its bot_token secret (whsec_...):
//
//	{"type":"switchboard.reply","timestamp":"...","data":{"conversation":...,
//	 "thread":...,"in_reply_to":<webhook-id answered>,"text":...}}
//
// The webhook-id is derived from the answered event and the text, so a
// retried reply carries the same id and the receiver can drop the repeat.
// Any 2xx is success; 429 and 5xx (with their Retry-After) are retried.
type Sender struct {
	hc  *http.Client
	now func() time.Time
}

// NewSender returns a Sender posting with hc (nil = a client with
// httpsend.DefaultTimeout).
func NewSender(hc *http.Client) *Sender {
	if hc == nil {
		hc = &http.Client{Timeout: httpsend.DefaultTimeout}
	}
	return &Sender{hc: hc, now: time.Now}
}

// SendError is a refused or failed post to the reply URL.
type SendError struct {
	httpsend.Failure
	Message string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("standardwebhooks reply: %v", e.Cause)
	}
	return fmt.Sprintf("standardwebhooks reply: HTTP %d: %s", e.Status, e.Message)
}

// MessageID is the webhook-id of the reply text to event eventID.
func MessageID(eventID, conversation, text string) string {
	h := sha256.Sum256([]byte(eventID + "\x00" + conversation + "\x00" + text))
	return "msg_" + hex.EncodeToString(h[:16])
}

// SendReply posts r to r.Settings' reply_url.
func (s *Sender) SendReply(ctx context.Context, r provider.Reply) error {
	if err := provider.CheckBytes(Name, r.Text, MaxText); err != nil {
		return err
	}
	target := r.Settings[SettingReplyURL]
	if target == "" {
		return &SendError{Message: "the installation has no reply_url: it takes no replies"}
	}
	body, err := json.Marshal(map[string]any{
		"type":      ReplyType,
		"timestamp": s.now().UTC().Format(time.RFC3339),
		"data":      map[string]string{"conversation": r.Conversation, "thread": r.Thread, "in_reply_to": r.EventID, "text": r.Text},
	})
	if err != nil {
		return fmt.Errorf("standardwebhooks reply: encode: %w", err)
	}
	headers, err := sign.StandardWebhooks(MessageID(r.EventID, r.Conversation, r.Text), s.now().Unix(), body, r.Token)
	if err != nil {
		// The error names the secret's position, never its value.
		return &SendError{Message: "bot_token is not a usable whsec_ secret"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &SendError{Message: "reply_url is not a usable URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		// Not the URL (net/http quotes it): it may carry a token in its query.
		return &SendError{Failure: httpsend.Failure{Transient: true, Cause: errors.New("no answer from reply_url")}}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, httpsend.MaxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &SendError{Message: "reply_url refused the reply", Failure: httpsend.Failure{
		Status:    resp.StatusCode,
		Wait:      httpsend.RetryAfterSeconds(resp.Header),
		Transient: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}}
}

// SendText cannot reach a reply_url (it is an installation setting): it
// always fails. The worker uses SendReply.
func (s *Sender) SendText(context.Context, string, string, string, string, string) error {
	return &SendError{Message: "replies need the installation's reply_url (SendReply)"}
}
