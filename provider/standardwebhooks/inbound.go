// Package standardwebhooks is the generic channel for any service that signs
// its webhooks with the Standard Webhooks scheme (verified at the edge,
// scheme standard_webhooks): the event id is the webhook-id header, the event
// type the payload's "type", and the conversation (and optionally thread,
// sender and text) are read from the payload by JSON pointers (RFC 6901)
// configured per installation. Replies, when the installation names a
// reply_url, are posted there signed with the same scheme.
package standardwebhooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "standardwebhooks"

// HeaderID is the message id header of the scheme.
const HeaderID = "webhook-id"

// Settings an installation takes.
const (
	// SettingConversation is the JSON pointer of the conversation key (required).
	SettingConversation = "conversation_pointer"
	// SettingThread, SettingSender and SettingText are optional JSON pointers.
	SettingThread = "thread_pointer"
	SettingSender = "sender_pointer"
	SettingText   = "text_pointer"
	// SettingReplyURL is where replies are posted (optional: without it the
	// installation takes no replies). An absolute http(s) URL.
	SettingReplyURL = "reply_url"
)

// Pointers are at most this long, and a conversation key at most this long.
const (
	maxPointer = 256
	maxKey     = 512
)

// Inbound parses Standard Webhooks deliveries (a provider.RequestParser: the
// id is a header and the pointers are the installation's settings).
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

// ValidateSettings checks an installation's settings: conversation_pointer
// is required, every pointer must be an RFC 6901 JSON pointer, reply_url an
// absolute http(s) URL without credentials, and no other name is taken.
func (Inbound) ValidateSettings(s map[string]string) error {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := s[k]
		switch k {
		case SettingConversation, SettingThread, SettingSender, SettingText:
			if _, err := ParsePointer(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		case SettingReplyURL:
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || len(v) > 2048 {
				return fmt.Errorf("%s: must be an absolute http or https URL without credentials or fragment", k)
			}
		default:
			return fmt.Errorf("%s: unknown setting (standardwebhooks takes %s, %s, %s, %s, %s)", k,
				SettingConversation, SettingThread, SettingSender, SettingText, SettingReplyURL)
		}
	}
	if s[SettingConversation] == "" {
		return fmt.Errorf("%s: required (the JSON pointer of the conversation key in the payload, e.g. /data/channel)", SettingConversation)
	}
	return nil
}

// ParsePointer splits an RFC 6901 JSON pointer into its unescaped tokens. ""
// (the whole document) is refused: a conversation key is a member.
func ParsePointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("must be a JSON pointer starting with \"/\"")
	}
	if len(p) > maxPointer {
		return nil, fmt.Errorf("must be at most %d characters", maxPointer)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, fmt.Errorf("has a \"~\" not followed by 0 or 1")
			}
		}
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// Lookup evaluates pointer against a JSON document: a string value as is, a
// number or boolean as its JSON text; ok is false when nothing or another
// kind of value is there.
func Lookup(doc []byte, pointer string) (string, bool) {
	toks, err := ParsePointer(pointer)
	if err != nil {
		return "", false
	}
	cur := json.RawMessage(doc)
	for _, t := range toks {
		trimmed := strings.TrimLeft(string(cur), " \t\r\n")
		switch {
		case strings.HasPrefix(trimmed, "{"):
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return "", false
			}
			next, ok := m[t]
			if !ok {
				return "", false
			}
			cur = next
		case strings.HasPrefix(trimmed, "["):
			var a []json.RawMessage
			if json.Unmarshal(cur, &a) != nil {
				return "", false
			}
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(a) || (len(t) > 1 && t[0] == '0') {
				return "", false
			}
			cur = a[i]
		default:
			return "", false
		}
	}
	var v any
	if json.Unmarshal(cur, &v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64, bool:
		return strings.TrimSpace(string(cur)), true
	}
	return "", false
}

// Parse is ParseRequest without headers or settings: it always fails (the id
// is a header, the conversation pointer a setting).
func (s Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	return s.ParseRequest(provider.Request{Body: body, ContentType: contentType})
}

// ParseRequest yields one event. Event id: webhook-id. Type: the payload's
// "type" (Standard Webhooks' event type). Conversation: the value at the
// installation's conversation_pointer (a string, number or boolean);
// thread, sender and text from their optional pointers ("" when unset or
// absent). No account: the installation has its own ingress.
func (Inbound) ParseRequest(r provider.Request) (provider.Result, error) {
	h := r.Header
	if h == nil {
		h = http.Header{}
	}
	id := h.Get(HeaderID)
	if id == "" {
		return provider.Result{}, malformed(HeaderID, "header missing")
	}
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return provider.Result{}, malformed("", "not a JSON object: "+err.Error())
	}
	ptr := r.Settings[SettingConversation]
	if ptr == "" {
		return provider.Result{}, malformed("settings."+SettingConversation, "not configured for this installation")
	}
	conv, ok := Lookup(r.Body, ptr)
	if !ok || conv == "" {
		return provider.Result{}, malformed(ptr, "no string or number at the installation's conversation_pointer")
	}
	if len(conv) > maxKey {
		return provider.Result{}, malformed(ptr, fmt.Sprintf("conversation key over %d bytes", maxKey))
	}
	ev := provider.Event{Kind: provider.KindMessage, Type: p.Type, EventID: id, Conversation: conv}
	for _, f := range []struct {
		setting string
		dst     *string
	}{{SettingThread, &ev.Thread}, {SettingSender, &ev.Sender}, {SettingText, &ev.Text}} {
		if ptr := r.Settings[f.setting]; ptr != "" {
			*f.dst, _ = Lookup(r.Body, ptr)
		}
	}
	ev.Mentions = provider.ScanMentions(ev.Text)
	return provider.Result{Events: []provider.Event{ev}}, nil
}
