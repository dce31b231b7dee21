package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the Telegram Bot API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://api.telegram.org"

// MaxText is sendMessage's documented limit: 1-4096 characters of text
// (Telegram counts UTF-16 code units). Longer replies are refused.
const MaxText = 4096

// Sender calls sendMessage (POST {base}/bot<token>/sendMessage, JSON body).
// The bot token is part of the URL, so no error of this package carries the
// URL (httpsend drops it from net/http's errors).
type Sender struct {
	api httpsend.API
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc)}
}

// Outgoing is one message to send. ChatID is the chat id (or @channel name);
// MessageThreadID is the forum topic, 0 for none.
type Outgoing struct {
	ChatID          string `json:"chat_id"`
	Text            string `json:"text"`
	MessageThreadID int64  `json:"message_thread_id,omitempty"`
}

// SendError is a refused or failed send: Telegram's error_code and
// description. RetryAfter is parameters.retry_after of a 429 answer, 0 when none.
type SendError struct {
	httpsend.Failure
	Code        int
	Description string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("telegram sendMessage: %v", e.Cause)
	}
	return fmt.Sprintf("telegram sendMessage: %d %s", e.Code, e.Description)
}

// Send sends o with the bot token and returns the message id.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (int64, error) {
	if n := provider.UTF16Len(o.Text); n > MaxText {
		return 0, &provider.TextTooLongError{Provider: Name, Limit: MaxText, Unit: "UTF-16 code units", Length: n}
	}
	if token == "" || strings.ContainsAny(token, "/?#% ") {
		return 0, &SendError{Description: "bot token is empty or malformed"}
	}
	if o.ChatID == "" {
		return 0, &SendError{Description: "chat_id is empty"}
	}
	body, err := json.Marshal(o)
	if err != nil {
		return 0, fmt.Errorf("telegram sendMessage: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	resp, err := s.api.Post(ctx, "/bot"+token+"/sendMessage", hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return 0, &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return 0, &SendError{Description: "build request", Failure: httpsend.Failure{Cause: errors.New("invalid API base URL")}}
	}
	var ans struct {
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
		Result struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return 0, &SendError{Code: resp.Status, Description: "unreadable answer", Failure: httpsend.Failure{Status: resp.Status, Transient: resp.Status >= 500 || resp.Status == 429}}
	}
	if !ans.OK || resp.Status != http.StatusOK {
		code := ans.ErrorCode
		if code == 0 {
			code = resp.Status
		}
		return 0, &SendError{Code: code, Description: ans.Description, Failure: httpsend.Failure{
			Status:    resp.Status,
			Wait:      time.Duration(ans.Parameters.RetryAfter) * time.Second,
			Transient: code == 429 || code >= 500,
		}}
	}
	return ans.Result.MessageID, nil
}

// SendText is the provider-neutral form the worker uses: account is unused,
// conversation is the chat id, thread the forum topic id ("" for none).
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	o := Outgoing{ChatID: conversation, Text: text}
	if thread != "" {
		id, err := strconv.ParseInt(thread, 10, 64)
		if err != nil {
			return &SendError{Description: "thread is not a message_thread_id"}
		}
		o.MessageThreadID = id
	}
	_, err := s.Send(ctx, token, o)
	return err
}
