package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is Discord's API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://discord.com"

// MaxContent is the documented limit of a message's content: 2,000
// characters. Longer replies are refused.
const MaxContent = 2000

// Sender creates channel messages
// (POST {base}/api/v10/channels/{channel.id}/messages, "Authorization: Bot <token>").
type Sender struct {
	api httpsend.API
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc)}
}

// Outgoing is one message for ChannelID (a thread is a channel too).
type Outgoing struct {
	ChannelID string
	Content   string
}

// SendError is a refused or failed send: Discord's JSON error code and
// message. RetryAfter is retry_after of a 429 answer (seconds, fractional),
// 0 when none.
type SendError struct {
	httpsend.Failure
	Code    int
	Message string
	Global  bool
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("discord create message: %v", e.Cause)
	}
	return fmt.Sprintf("discord create message: HTTP %d code %d: %s", e.Status, e.Code, e.Message)
}

// Send creates the message and returns its id.
func (s *Sender) Send(ctx context.Context, token string, o Outgoing) (string, error) {
	if err := provider.CheckRunes(Name, o.Content, MaxContent); err != nil {
		return "", err
	}
	if o.ChannelID == "" || strings.ContainsAny(o.ChannelID, "/?#") {
		return "", &SendError{Message: "channel id is empty or malformed"}
	}
	body, err := json.Marshal(map[string]any{"content": o.Content})
	if err != nil {
		return "", fmt.Errorf("discord create message: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bot "+token)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("User-Agent", "DiscordBot (https://github.com/switchboard-dev/switchboard, 1)")
	resp, err := s.api.Post(ctx, "/api/v10/channels/"+url.PathEscape(o.ChannelID)+"/messages", hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("discord create message: %w", err)
	}
	var ans struct {
		ID         string  `json:"id"`
		Code       int     `json:"code"`
		Message    string  `json:"message"`
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status/100 == 2 && ans.ID != "" {
		return ans.ID, nil
	}
	e := &SendError{Code: ans.Code, Message: ans.Message, Global: ans.Global,
		Failure: httpsend.Failure{Status: resp.Status, Transient: resp.Status == 429 || resp.Status >= 500}}
	if resp.Status == http.StatusTooManyRequests {
		ra := ans.RetryAfter
		if ra == 0 {
			ra, _ = strconv.ParseFloat(resp.Header.Get("Retry-After"), 64)
		}
		e.Wait = time.Duration(math.Ceil(ra*1000)) * time.Millisecond
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
