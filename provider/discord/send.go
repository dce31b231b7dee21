package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAPIBase is Discord's API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://discord.com"

// Sender creates channel messages
// (POST {base}/api/v10/channels/{channel.id}/messages, "Authorization: Bot <token>").
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

// Outgoing is one message for ChannelID (a thread is a channel too).
type Outgoing struct {
	ChannelID string
	Content   string
}

// SendError is a refused or failed send: Discord's JSON error code and message.
type SendError struct {
	Status     int
	Code       int
	Message    string
	Global     bool
	retryAfter time.Duration
	temporary  bool
	err        error
}

func (e *SendError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("discord create message: %v", e.err)
	}
	return fmt.Sprintf("discord create message: HTTP %d code %d: %s", e.Status, e.Code, e.Message)
}
func (e *SendError) Unwrap() error { return e.err }

// RetryAfter is retry_after of a 429 answer (seconds, fractional), 0 when none.
func (e *SendError) RetryAfter() time.Duration { return e.retryAfter }

// Temporary reports whether trying again later may succeed.
func (e *SendError) Temporary() bool { return e.temporary }

// Send creates the message and returns its id.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (string, error) {
	if o.ChannelID == "" || strings.ContainsAny(o.ChannelID, "/?#") {
		return "", &SendError{Message: "channel id is empty or malformed"}
	}
	body, err := json.Marshal(map[string]any{"content": o.Content})
	if err != nil {
		return "", fmt.Errorf("discord create message: encode: %w", err)
	}
	u := s.base + "/api/v10/channels/" + url.PathEscape(o.ChannelID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("discord create message: %w", err)
	}
	req.Header.Set("Authorization", "Bot "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/switchboard-dev/switchboard, 1)")
	resp, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", &SendError{temporary: true, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var ans struct {
		ID         string  `json:"id"`
		Code       int     `json:"code"`
		Message    string  `json:"message"`
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	_ = json.Unmarshal(raw, &ans)
	if resp.StatusCode/100 == 2 && ans.ID != "" {
		return ans.ID, nil
	}
	e := &SendError{Status: resp.StatusCode, Code: ans.Code, Message: ans.Message, Global: ans.Global,
		temporary: resp.StatusCode == 429 || resp.StatusCode >= 500}
	if resp.StatusCode == http.StatusTooManyRequests {
		ra := ans.RetryAfter
		if ra == 0 {
			ra, _ = strconv.ParseFloat(resp.Header.Get("Retry-After"), 64)
		}
		e.retryAfter = time.Duration(math.Ceil(ra*1000)) * time.Millisecond
	}
	if e.Message == "" {
		e.Message = "unexpected answer"
	}
	return "", e
}

// SendText is the provider-neutral form the worker uses: account is unused,
// the message goes to thread when set (a Discord thread is a channel), else
// to conversation.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, thread, text string) error {
	ch := conversation
	if thread != "" {
		ch = thread
	}
	_, err := s.Send(ctx, token, Outgoing{ChannelID: ch, Content: text})
	return err
}
