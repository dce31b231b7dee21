package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAPIBase is the Telegram Bot API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://api.telegram.org"

// Sender calls sendMessage (POST {base}/bot<token>/sendMessage, JSON body).
// The bot token is part of the URL, so no error of this package carries the
// URL (net/http's *url.Error would print it).
type Sender struct {
	base string
	http *http.Client
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	if base == "" {
		base = DefaultAPIBase
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Sender{base: strings.TrimRight(base, "/"), http: hc}
}

// Outgoing is one message to send. ChatID is the chat id (or @channel name);
// MessageThreadID is the forum topic, 0 for none.
type Outgoing struct {
	ChatID          string `json:"chat_id"`
	Text            string `json:"text"`
	MessageThreadID int64  `json:"message_thread_id,omitempty"`
}

// SendError is a refused or failed send: Telegram's error_code and description.
type SendError struct {
	Status      int
	Code        int
	Description string
	retryAfter  time.Duration
	temporary   bool
	err         error
}

func (e *SendError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("telegram sendMessage: %v", e.err)
	}
	return fmt.Sprintf("telegram sendMessage: %d %s", e.Code, e.Description)
}
func (e *SendError) Unwrap() error { return e.err }

// RetryAfter is parameters.retry_after of a 429 answer, 0 when none.
func (e *SendError) RetryAfter() time.Duration { return e.retryAfter }

// Temporary reports whether trying again later may succeed.
func (e *SendError) Temporary() bool { return e.temporary }

// Send sends o with the bot token and returns the message id.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (int64, error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/bot"+token+"/sendMessage", bytes.NewReader(body))
	if err != nil {
		return 0, &SendError{Description: "build request", err: errors.New("invalid API base URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it holds the bot token
		}
		return 0, &SendError{temporary: true, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
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
	if err := json.Unmarshal(raw, &ans); err != nil {
		return 0, &SendError{Status: resp.StatusCode, Code: resp.StatusCode, Description: "unreadable answer", temporary: resp.StatusCode >= 500 || resp.StatusCode == 429}
	}
	if !ans.OK || resp.StatusCode != http.StatusOK {
		code := ans.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return 0, &SendError{
			Status: resp.StatusCode, Code: code, Description: ans.Description,
			retryAfter: time.Duration(ans.Parameters.RetryAfter) * time.Second,
			temporary:  code == 429 || code >= 500,
		}
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
