package client

import (
	"context"
	"encoding/json"
)

// Setup, simulation, registration and health (docs/api.md, "Setup,
// simulation, registration, health").

// SimulateRequest asks how ingest would route a payload for an
// installation: either Payload (the provider's body as it sends it: a JSON
// value, or a JSON string for form bodies with ContentType) or Event.
type SimulateRequest struct {
	InstallationID string          `json:"installation_id"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	ContentType    string          `json:"content_type,omitempty"`
	Event          *SimulateEvent  `json:"event,omitempty"`
}

// SimulateEvent describes an event instead of a provider payload.
type SimulateEvent struct {
	Account  string   `json:"account,omitempty"`
	Channel  string   `json:"channel,omitempty"`
	User     string   `json:"user,omitempty"`
	Thread   string   `json:"thread,omitempty"`
	Text     string   `json:"text,omitempty"`
	Mentions []string `json:"mentions,omitempty"`
}

// Simulation answers POST /v1/simulate. Nothing is written or enqueued.
type Simulation struct {
	InstallationID string           `json:"installation_id"`
	OrgID          string           `json:"org_id"`
	Provider       string           `json:"provider"`
	Stage          SimulatedStage   `json:"stage"`
	Handshake      bool             `json:"handshake"`
	Ignored        string           `json:"ignored,omitempty"`
	Events         []SimulatedEvent `json:"events"`
	Enqueued       bool             `json:"enqueued"`
}

// SimulatedStage says whether the provider's rollout stage lets the
// installation's organisation through.
type SimulatedStage struct {
	Stage       string `json:"stage"`
	LetsThrough bool   `json:"lets_through"`
	Reason      string `json:"reason"`
}

// SimulatedEvent is one event of the payload and how it would be routed.
type SimulatedEvent struct {
	Kind         string             `json:"kind,omitempty"`
	EventID      string             `json:"event_id,omitempty"`
	Account      string             `json:"account"`
	Conversation string             `json:"conversation"`
	Thread       string             `json:"thread,omitempty"`
	Sender       string             `json:"sender"`
	Text         string             `json:"text,omitempty"`
	Mentions     []string           `json:"mentions"`
	Refusal      string             `json:"refusal,omitempty"`
	Bindings     []SimulatedBinding `json:"bindings"` // every live binding, ranked
	Targets      []SimulatedTarget  `json:"targets"`
	Outcome      string             `json:"outcome"` // "delivered", "no_binding: …", the refusal
}

// SimulatedBinding is one live binding: whether it matched, why, and whether it won.
type SimulatedBinding struct {
	ID          string   `json:"id"`
	Selector    Selector `json:"selector"`
	AgentID     string   `json:"agent_id"`
	Persona     string   `json:"persona"`
	Priority    int      `json:"priority"`
	Specificity int      `json:"specificity"`
	Matched     bool     `json:"matched"`
	Why         string   `json:"why"`
	Won         bool     `json:"won"`
}

// SimulatedTarget is a delivery the event would get.
type SimulatedTarget struct {
	BindingID  string `json:"binding_id"`
	AgentID    string `json:"agent_id"`
	Persona    string `json:"persona"`
	SessionKey string `json:"session_key"`
	Why        string `json:"why"`
}

// Simulate: POST /v1/simulate.
func (c *Client) Simulate(ctx context.Context, r SimulateRequest) (Simulation, error) {
	var s Simulation
	return s, c.post(ctx, "/v1/simulate", r, &s)
}
