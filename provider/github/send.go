package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the REST API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://api.github.com"

// APIVersion is the REST API version the Sender asks for.
const APIVersion = "2022-11-28"

// MaxBody is the documented limit of a comment body: 65,536 characters.
// Longer replies are refused (GitHub answers 422 "body is too long").
const MaxBody = 65536

// Sender posts replies as comments: on the issue or pull request
// (POST {base}/repos/{owner}/{repo}/issues/{number}/comments) or, for a
// review-comment thread, as a reply in it (POST
// {base}/repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies).
// The token (an installation access token or a fine-grained token, or one
// minted with the App's private key: see app.go) goes in the Authorization
// header.
type Sender struct {
	api   httpsend.API
	now   func() time.Time
	cache tokenCache // installation access tokens minted with an App private key (app.go)
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc), now: time.Now, cache: tokenCache{m: map[string]cachedToken{}}}
}

// SendError is a refused or failed send: GitHub's message.
type SendError struct {
	httpsend.Failure
	Message string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("github comments: %v", e.Cause)
	}
	return fmt.Sprintf("github comments: HTTP %d: %s", e.Status, e.Message)
}

// Comment posts text into conversation ("owner/repo#number"), in the review
// thread whose first comment id is thread when thread is not "".
func (s *Sender) Comment(ctx context.Context, token, conversation, thread, text string) (int64, error) {
	if err := provider.CheckRunes(Name, text, MaxBody); err != nil {
		return 0, err
	}
	owner, repo, number, ok := SplitConversation(conversation)
	if !ok {
		return 0, &SendError{Message: "conversation is not owner/repo#number"}
	}
	if token == "" {
		return 0, &SendError{Message: "token is empty"}
	}
	if IsPrivateKey(token) {
		return 0, &SendError{Message: "a GitHub App private key is exchanged for a token by SendReply (it needs the app id and the installation)"}
	}
	path := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
	if thread != "" {
		id, err := strconv.ParseInt(thread, 10, 64)
		if err != nil || id <= 0 {
			return 0, &SendError{Message: "thread is not a review comment id"}
		}
		path += "/pulls/" + strconv.FormatInt(number, 10) + "/comments/" + thread + "/replies"
	} else {
		path += "/issues/" + strconv.FormatInt(number, 10) + "/comments"
	}
	body, err := json.Marshal(map[string]string{"body": text})
	if err != nil {
		return 0, fmt.Errorf("github comments: encode: %w", err)
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	hdr.Set("Accept", "application/vnd.github+json")
	hdr.Set("X-GitHub-Api-Version", APIVersion)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("User-Agent", "switchboard")
	resp, err := s.api.Post(ctx, path, hdr, body)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return 0, &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return 0, fmt.Errorf("github comments: %w", err)
	}
	var ans struct {
		ID      int64  `json:"id"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status == http.StatusCreated && ans.ID != 0 {
		return ans.ID, nil
	}
	e := &SendError{Message: ans.Message, Failure: httpsend.Failure{Status: resp.Status, Transient: resp.Status >= 500}}
	if e.Message == "" {
		e.Message = "unexpected answer"
	}
	// Rate limits (403 or 429): a secondary limit gives Retry-After; a
	// primary one x-ratelimit-remaining 0 and the reset time (epoch seconds).
	if resp.Status == http.StatusForbidden || resp.Status == http.StatusTooManyRequests {
		if wait := httpsend.RetryAfterSeconds(resp.Header); wait > 0 {
			e.Transient, e.Wait = true, wait
		} else if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			e.Transient = true
			if reset, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
				if d := time.Unix(reset, 0).Sub(s.now()); d > 0 {
					e.Wait = d.Round(time.Second)
				}
			}
		} else if resp.Status == http.StatusTooManyRequests || strings.Contains(strings.ToLower(e.Message), "rate limit") {
			e.Transient = true
		}
	}
	return 0, e
}

// SendText is the provider-neutral form the worker uses: conversation is
// "owner/repo#number", thread a review thread ("" for the issue itself).
func (s *Sender) SendText(ctx context.Context, token, _, conversation, thread, text string) error {
	_, err := s.Comment(ctx, token, conversation, thread, text)
	return err
}
