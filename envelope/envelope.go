// Package envelope defines the unit that flows ingest -> queue -> worker -> agent:
// one normalised provider event addressed to one target agent, with its
// deterministic task id and its session routing key.
//
// JSON field names are the snake_case of the Go names (id, provider, org_id,
// installation_id, profile_id, conversation, thread, sender, text, attachments,
// event_id, kind, event_type, received_at, agent_id, persona, binding_id,
// session_key, seq, raw, seal).
package envelope

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Attachment is a file or media item of the event, as the provider describes it.
// URL is the provider's URL or file id (Telegram file_id, WhatsApp media id):
// fetching it needs the installation's credentials, which stay in the worker.
type Attachment struct {
	Type string `json:"type"` // image, file, audio, video, document, sticker, ...
	URL  string `json:"url"`
	Name string `json:"name"`
	MIME string `json:"mime"`
}

// Envelope is one provider event for one target (agent + persona).
type Envelope struct {
	ID             string       `json:"id"` // see ID
	Provider       string       `json:"provider"`
	OrgID          string       `json:"org_id"`
	InstallationID string       `json:"installation_id"`
	ProfileID      string       `json:"profile_id"`
	Conversation   string       `json:"conversation"` // channel / chat / peer phone number / discord channel
	Thread         string       `json:"thread"`       // "" where the provider has no threads
	Sender         string       `json:"sender"`
	Text           string       `json:"text"`
	Attachments    []Attachment `json:"attachments"`
	EventID        string       `json:"event_id"` // Slack event_id, Telegram update_id, WhatsApp message id, Discord interaction id
	// Kind is the normalised kind of the event (message, command,
	// interaction, membership) and EventType the provider's own event type
	// where it has several (GitHub "issue_comment", LINE "follow", a
	// Standard Webhooks payload's "type"); "" when not set.
	Kind       string          `json:"kind,omitempty"`
	EventType  string          `json:"event_type,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
	AgentID    string          `json:"agent_id"`
	Persona    string          `json:"persona"`
	BindingID  string          `json:"binding_id"`
	SessionKey string          `json:"session_key"` // see SessionKey
	Seq        int64           `json:"seq"`         // per-session sequence number assigned at enqueue
	Raw        json.RawMessage `json:"raw"`         // provider payload as received
	// Seal is ingest's provenance seal (package provenance), set last; the
	// worker refuses a task whose seal does not verify.
	Seal *Seal `json:"seal,omitempty"`
}

// Seal is a provenance seal: the key id, the body digest (SHA-256 hex of the
// envelope's canonical JSON without its seal) and the HMAC (base64url) over
// the binding fields and that digest. See package provenance.
type Seal struct {
	KeyID      string `json:"kid"`
	BodyDigest string `json:"body_sha256"`
	MAC        string `json:"mac"`
}

// ID is the deterministic task id of one event for one target: the first 32
// hex chars of SHA-256 over provider|installation|event id|agent|persona. A
// provider retry of the same event yields the same id, so the queue refuses the
// duplicate; two targets of one event get different ids.
func ID(provider, installation, eventID, agentID, persona string) string {
	h := sha256.New()
	for i, part := range []string{provider, installation, eventID, agentID, persona} {
		if i > 0 {
			h.Write([]byte{'|'})
		}
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// sessionKeyVersion prefixes every key so a future change of the format cannot
// collide with keys already in Redis.
const sessionKeyVersion = "s1"

// SessionKey is the session routing key: org, provider, installation,
// conversation, thread, agent and persona, each path-escaped and joined with
// "/", so no two distinct tuples share a key (a "/" inside a field is escaped).
// Two agents in one channel, or one agent in two workspaces, never share a key.
//
//	s1/org_x/slack/inst_y/C123/1700000000.000100/agt_z/support
func SessionKey(e Envelope) string {
	parts := []string{sessionKeyVersion, e.OrgID, e.Provider, e.InstallationID, e.Conversation, e.Thread, e.AgentID, e.Persona}
	for i := 1; i < len(parts); i++ {
		parts[i] = url.PathEscape(parts[i])
	}
	return strings.Join(parts, "/")
}

// Finish returns e with ID and SessionKey computed from its fields; ingest
// calls it once the target (agent, persona) is set.
func (e Envelope) Finish() Envelope {
	e.ID = ID(e.Provider, e.InstallationID, e.EventID, e.AgentID, e.Persona)
	e.SessionKey = SessionKey(e)
	return e
}

// Validate reports the first missing field an envelope needs before it may be
// enqueued, and checks that ID and SessionKey match the envelope's fields.
func (e Envelope) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"provider", e.Provider}, {"org_id", e.OrgID}, {"installation_id", e.InstallationID},
		{"conversation", e.Conversation}, {"event_id", e.EventID}, {"agent_id", e.AgentID},
	} {
		if f.v == "" {
			return fmt.Errorf("envelope: %s is empty", f.name)
		}
	}
	if want := ID(e.Provider, e.InstallationID, e.EventID, e.AgentID, e.Persona); e.ID != want {
		return errors.New("envelope: id does not match provider, installation, event_id, agent_id and persona")
	}
	if want := SessionKey(e); e.SessionKey != want {
		return errors.New("envelope: session_key does not match its fields")
	}
	return nil
}

// Decode parses an envelope from JSON and validates it.
func Decode(data []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}
