package slack

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

// DefaultAPIBase is Slack's Web API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://slack.com"

// Sender posts messages with chat.postMessage
// (POST {base}/api/chat.postMessage, Bearer bot token, JSON body).
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

// Outgoing is one message to post.
type Outgoing struct {
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts,omitempty"`
}

// SendError is a refused or failed send. Code is Slack's "error" string
// ("channel_not_found", "ratelimited", ...) or "http_<status>" / "transport".
type SendError struct {
	Status     int
	Code       string
	retryAfter time.Duration
	temporary  bool
	err        error
}

func (e *SendError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("slack chat.postMessage: %s: %v", e.Code, e.err)
	}
	return fmt.Sprintf("slack chat.postMessage: %s (HTTP %d)", e.Code, e.Status)
}
func (e *SendError) Unwrap() error { return e.err }

// RetryAfter is the delay Slack asked for (429 Retry-After), 0 when none.
func (e *SendError) RetryAfter() time.Duration { return e.retryAfter }

// Temporary reports whether trying again later may succeed.
func (e *SendError) Temporary() bool { return e.temporary }

var slackTemporaryCodes = map[string]bool{
	"ratelimited": true, "service_unavailable": true, "fatal_error": true,
	"internal_error": true, "request_timeout": true,
}

// Send posts o with token and returns the message ts.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (string, error) {
	if o.Channel == "" {
		return "", &SendError{Code: "channel_empty"}
	}
	body, err := json.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("slack chat.postMessage: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/chat.postMessage", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("slack chat.postMessage: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is not secret here, but keep errors uniform across providers
		}
		return "", &SendError{Code: "transport", temporary: true, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return "", &SendError{Status: resp.StatusCode, Code: "ratelimited", retryAfter: time.Duration(secs) * time.Second, temporary: true}
	}
	if resp.StatusCode != http.StatusOK {
		return "", &SendError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), temporary: resp.StatusCode >= 500}
	}
	var ans struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		TS    string `json:"ts"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return "", &SendError{Status: resp.StatusCode, Code: "bad_response", temporary: true, err: err}
	}
	if !ans.OK {
		return "", &SendError{Status: resp.StatusCode, Code: ans.Error, temporary: slackTemporaryCodes[ans.Error]}
	}
	return ans.TS, nil
}

// SendText is the provider-neutral form the worker uses: account is unused
// (the bot token selects the workspace), thread is the parent message ts.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	_, err := s.Send(ctx, token, Outgoing{Channel: conversation, Text: text, ThreadTS: thread})
	return err
}
