// Package github is the GitHub provider, a coding agent's channel: issue and
// pull-request comments normalised into events whose conversation is the
// repository and issue (or pull request) number, and replies posted as issue
// comments (or review-thread replies). Verification (X-Hub-Signature-256,
// HMAC-SHA256 of the raw body with the webhook secret) happens at the edge,
// scheme github_sha256.
package github

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "github"

// Headers GitHub sends with every delivery.
const (
	HeaderEvent    = "X-GitHub-Event"
	HeaderDelivery = "X-GitHub-Delivery"
)

// Inbound parses GitHub webhook deliveries. It needs the delivery's headers
// (provider.RequestParser): the event type and the delivery id are not in
// the body.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

type user struct {
	Login string `json:"login"`
	Type  string `json:"type"` // User, Bot, Organization
}

type payload struct {
	Action string `json:"action"`
	Issue  *struct {
		Number int64 `json:"number"`
	} `json:"issue"`
	PullRequest *struct {
		Number int64 `json:"number"`
	} `json:"pull_request"`
	Comment *struct {
		ID          int64  `json:"id"`
		Body        string `json:"body"`
		User        user   `json:"user"`
		InReplyToID int64  `json:"in_reply_to_id"`
	} `json:"comment"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Installation *struct {
		ID    int64 `json:"id"`
		AppID int64 `json:"app_id"`
	} `json:"installation"`
	Sender *user `json:"sender"`
	Hook   *struct {
		AppID int64 `json:"app_id"`
	} `json:"hook"`
	Zen string `json:"zen"`
}

// Parse is ParseRequest without headers: GitHub bodies cannot be read
// without X-GitHub-Event, so it always fails.
func (g Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	return g.ParseRequest(provider.Request{Body: body, ContentType: contentType})
}

// Conversation is the conversation of an issue or pull request:
// "owner/repo#number". The sender posts to it.
func Conversation(repo string, number int64) string {
	return repo + "#" + strconv.FormatInt(number, 10)
}

// installationEvent reads the GitHub App `installation` event: "deleted"
// (the app was uninstalled from the account) and "suspend" (the account
// suspended it) revoke the installation whose external id is installation.id.
// "unsuspend" is not undone here: a revoked installation is created again
// through the API. Other actions (created, new_permissions_accepted) carry
// nothing to act on.
func installationEvent(p payload, delivery string) (provider.Result, error) {
	switch p.Action {
	case "deleted", "suspend":
	case "":
		return provider.Result{}, malformed("action", "missing")
	default:
		return provider.Result{Ignored: "installation action " + provider.Quote(p.Action)}, nil
	}
	if p.Installation == nil || p.Installation.ID <= 0 {
		return provider.Result{}, malformed("installation.id", "missing")
	}
	rev := provider.Revocation{
		Scope:   provider.ScopeInstallation,
		Account: strconv.FormatInt(p.Installation.ID, 10),
		Reason:  "installation." + p.Action,
		EventID: delivery,
	}
	if p.Installation.AppID > 0 {
		rev.AppID = strconv.FormatInt(p.Installation.AppID, 10)
	}
	return provider.Result{Revocations: []provider.Revocation{rev}}, nil
}

// SplitConversation is the inverse of Conversation.
func SplitConversation(conv string) (owner, repo string, number int64, ok bool) {
	i := strings.LastIndexByte(conv, '#')
	if i < 0 {
		return "", "", 0, false
	}
	owner, repo, ok = strings.Cut(conv[:i], "/")
	n, err := strconv.ParseInt(conv[i+1:], 10, 64)
	if !ok || err != nil || n <= 0 || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", 0, false
	}
	return owner, repo, n, true
}

// ParseRequest yields one event per created issue comment (issue_comment; a
// pull request's conversation comments are issue comments too) and per
// created pull-request review comment (pull_request_review_comment).
// Event id: X-GitHub-Delivery (GitHub redelivers with the same id).
// Account: installation.id of a GitHub App delivery ("" for a repository
// webhook). Conversation: "owner/repo#number"; thread: "" for issue
// comments, the review thread's first comment id for review comments.
// Sender: the commenter's login. `ping` (sent when a hook is created) is
// answered 200. Edits, deletions, comments by bots (including this app's own
// replies) and other event types yield nothing.
func (Inbound) ParseRequest(r provider.Request) (provider.Result, error) {
	h := r.Header
	if h == nil {
		h = http.Header{}
	}
	kind := h.Get(HeaderEvent)
	if kind == "" {
		return provider.Result{}, malformed(HeaderEvent, "header missing")
	}
	var p payload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return provider.Result{}, malformed("", "not a JSON webhook payload: "+err.Error())
	}
	if kind == "ping" {
		return provider.Result{Handshake: &provider.Response{Status: http.StatusOK, ContentType: "application/json", Body: []byte(`{"ok":true}` + "\n")}}, nil
	}
	if kind == "installation" {
		return installationEvent(p, h.Get(HeaderDelivery))
	}
	if kind != "issue_comment" && kind != "pull_request_review_comment" {
		return provider.Result{Ignored: "event " + provider.Quote(kind)}, nil
	}
	if p.Action != "created" {
		return provider.Result{Ignored: kind + " action " + provider.Quote(p.Action)}, nil
	}
	delivery := h.Get(HeaderDelivery)
	if delivery == "" {
		return provider.Result{}, malformed(HeaderDelivery, "header missing")
	}
	if p.Repository == nil || p.Repository.FullName == "" || strings.Count(p.Repository.FullName, "/") != 1 {
		return provider.Result{}, malformed("repository.full_name", "missing or not owner/name")
	}
	if p.Comment == nil || p.Comment.ID == 0 {
		return provider.Result{}, malformed("comment.id", "missing")
	}
	if p.Comment.User.Type == "Bot" || p.Sender != nil && p.Sender.Type == "Bot" {
		return provider.Result{Ignored: "comment by a bot"}, nil
	}
	var number int64
	thread := ""
	if kind == "issue_comment" {
		if p.Issue == nil || p.Issue.Number <= 0 {
			return provider.Result{}, malformed("issue.number", "missing")
		}
		number = p.Issue.Number
	} else {
		if p.PullRequest == nil || p.PullRequest.Number <= 0 {
			return provider.Result{}, malformed("pull_request.number", "missing")
		}
		number = p.PullRequest.Number
		root := p.Comment.InReplyToID
		if root == 0 {
			root = p.Comment.ID
		}
		thread = strconv.FormatInt(root, 10)
	}
	ev := provider.Event{
		Kind:         provider.KindMessage,
		Type:         kind,
		EventID:      delivery,
		Conversation: Conversation(p.Repository.FullName, number),
		Thread:       thread,
		Sender:       p.Comment.User.Login,
		Text:         p.Comment.Body,
		Mentions:     provider.ScanMentions(p.Comment.Body),
	}
	if p.Installation != nil && p.Installation.ID != 0 {
		ev.Account = strconv.FormatInt(p.Installation.ID, 10)
		ev.TenantIDs = []string{ev.Account}
	}
	return provider.Result{Events: []provider.Event{ev}}, nil
}
