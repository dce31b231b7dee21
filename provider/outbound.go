package provider

import (
	"context"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// Reply is one text an agent answered, on its way into the conversation of
// the event it answers. The worker fills it from the envelope and the
// installation; Token is decrypted only for the send and never logged.
type Reply struct {
	// Token is the installation's outbound credential (bot token, access
	// token, "AccountSid:AuthToken", ...), as the API stored it.
	Token string
	// Account is the installation's provider-side id (its external id).
	Account string
	// AppID is the profile's provider app id (its external app id).
	AppID string
	// Settings are the installation's provider settings.
	Settings map[string]string

	Conversation string
	Thread       string
	// EventID and Raw are the answered event's id and the provider payload it
	// came in (LINE's reply token is read from it); ReceivedAt is when ingest
	// received it.
	EventID    string
	Raw        json.RawMessage
	ReceivedAt time.Time

	Text string
}

// ReplySender is an outbound client that needs more than the conversation to
// answer (LINE's reply token, an installation's settings). The worker prefers
// it to SendText. Errors may implement Temporary() bool and
// RetryAfter() time.Duration (httpsend.Failure does).
type ReplySender interface {
	SendReply(ctx context.Context, r Reply) error
}

// TextTooLongError is a reply over the provider's documented text limit that
// the sender refuses rather than splits. It is permanent: the same text will
// never fit.
type TextTooLongError struct {
	Provider string
	Limit    int
	Unit     string // "characters" (Unicode code points), "bytes" (UTF-8) or "UTF-16 code units"
	Length   int
}

func (e *TextTooLongError) Error() string {
	return e.Provider + ": reply text is " + itoa(e.Length) + " " + e.Unit + ", over the provider's limit of " + itoa(e.Limit)
}

// Temporary is false: a text that is too long stays too long.
func (e *TextTooLongError) Temporary() bool { return false }

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// CheckRunes returns a *TextTooLongError when text has more than limit
// Unicode code points.
func CheckRunes(provider, text string, limit int) error {
	if n := utf8.RuneCountInString(text); n > limit {
		return &TextTooLongError{Provider: provider, Limit: limit, Unit: "characters", Length: n}
	}
	return nil
}

// CheckBytes returns a *TextTooLongError when text has more than limit bytes.
func CheckBytes(provider, text string, limit int) error {
	if len(text) > limit {
		return &TextTooLongError{Provider: provider, Limit: limit, Unit: "bytes", Length: len(text)}
	}
	return nil
}

// UTF16Len is the length of s in UTF-16 code units (how LINE and JavaScript
// count characters: a character outside the Basic Multilingual Plane, such
// as most emoji, counts two).
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// SplitUTF16 cuts s into pieces of at most max UTF-16 code units, never
// inside a code point. It prefers to cut after the last newline or space of
// a piece when one lies in its second half. "" yields no pieces.
func SplitUTF16(s string, max int) []string {
	var out []string
	for s != "" {
		n, cut, soft := 0, len(s), -1
		for i, r := range s {
			w := 1
			if r >= 0x10000 {
				w = 2
			}
			if n+w > max {
				cut = i
				break
			}
			n += w
			if (r == '\n' || r == ' ') && n > max/2 {
				soft = i + 1
			}
		}
		if cut < len(s) && soft > 0 {
			cut = soft
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return out
}
