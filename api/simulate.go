package api

import (
	_ "github.com/switchboard-dev/switchboard/provider/all" // the parsers simulate runs

	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/routing"
	"github.com/switchboard-dev/switchboard/store"
)

// simulateRequest: an installation and either a provider payload (as the
// provider sends it: a JSON value, or a string for form bodies with
// content_type) or a described event.
type simulateRequest struct {
	InstallationID string          `json:"installation_id"`
	Payload        json.RawMessage `json:"payload"`
	ContentType    string          `json:"content_type"`
	// Headers are the provider's metadata headers some parsers read
	// (X-GitHub-Event, webhook-id, ...).
	Headers map[string]string `json:"headers"`
	Event   *simulateEvent    `json:"event"`
}

type simulateEvent struct {
	Account  string   `json:"account"`
	Channel  string   `json:"channel"`
	User     string   `json:"user"`
	Thread   string   `json:"thread"`
	Text     string   `json:"text"`
	Mentions []string `json:"mentions"`
}

type simulateView struct {
	InstallationID string              `json:"installation_id"`
	OrgID          string              `json:"org_id"`
	Provider       string              `json:"provider"`
	Stage          simulateStage       `json:"stage"`
	Handshake      bool                `json:"handshake"`         // the payload is a handshake: answered, nothing routed
	Ignored        string              `json:"ignored,omitempty"` // why a valid payload carries no event
	Events         []simulateEventView `json:"events"`
	Enqueued       bool                `json:"enqueued"` // always false: a simulation enqueues nothing
}

type simulateStage struct {
	Stage       string `json:"stage"`
	LetsThrough bool   `json:"lets_through"`
	Reason      string `json:"reason"`
}

type simulateEventView struct {
	Kind         string   `json:"kind,omitempty"`
	EventID      string   `json:"event_id,omitempty"`
	Account      string   `json:"account"`
	Conversation string   `json:"conversation"`
	Thread       string   `json:"thread,omitempty"`
	Sender       string   `json:"sender"`
	Text         string   `json:"text,omitempty"`
	Mentions     []string `json:"mentions"`
	// Refusal is what ingest would refuse this event with ("" when it
	// routes it): tenant_mismatch when an id in the body is not the installation's.
	Refusal  string               `json:"refusal,omitempty"`
	Bindings []simulateBinding    `json:"bindings"` // every live binding of the installation, ranked
	Targets  []simulateTargetView `json:"targets"`
	Outcome  string               `json:"outcome"` // "delivered", "no_binding", or the refusal
}

type simulateBinding struct {
	ID          string         `json:"id"`
	Selector    store.Selector `json:"selector"`
	AgentID     string         `json:"agent_id"`
	Persona     string         `json:"persona"`
	Priority    int            `json:"priority"`
	Specificity int            `json:"specificity"`
	Matched     bool           `json:"matched"`
	Why         string         `json:"why"` // which selector field failed, or that every one matched
	Won         bool           `json:"won"`
}

type simulateTargetView struct {
	BindingID  string `json:"binding_id"`
	AgentID    string `json:"agent_id"`
	Persona    string `json:"persona"`
	SessionKey string `json:"session_key"`
	Why        string `json:"why"`
}

// simulate answers how ingest would route a payload for an installation:
// which bindings match, which win and why, the session key of each target
// and whether the rollout stage lets it through. It writes nothing and
// enqueues nothing.
func (s *Server) simulate(w http.ResponseWriter, r *http.Request, p principal) error {
	var req simulateRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.InstallationID == "" {
		return fieldErr("installation_id", "required")
	}
	if (len(req.Payload) == 0) == (req.Event == nil) {
		return fieldErr("payload", "give exactly one of payload (the provider's body) or event ({channel,user,thread,text})")
	}
	ctx := r.Context()
	inst, err := visibleInstallation(ctx, s.store, p, req.InstallationID)
	if err != nil {
		return withField(err, "installation_id")
	}
	var events []provider.Event
	view := simulateView{InstallationID: inst.ID, OrgID: inst.OrgID, Provider: inst.Provider, Events: []simulateEventView{}}
	if req.Event != nil {
		e := req.Event
		ev := provider.Event{Kind: provider.KindMessage, Account: e.Account, Conversation: e.Channel, Thread: e.Thread, Sender: e.User, Text: e.Text}
		ev.TenantIDs = provider.AddTenant(nil, e.Account)
		for _, m := range append(e.Mentions, provider.ScanMentions(e.Text)...) {
			ev.Mentions = provider.AddMention(ev.Mentions, m)
		}
		events = []provider.Event{ev}
	} else {
		body, ct := []byte(req.Payload), req.ContentType
		var str string
		if json.Unmarshal(req.Payload, &str) == nil { // a form body given as a JSON string
			body = []byte(str)
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
		} else if ct == "" {
			ct = "application/json"
		}
		pv, ok := provider.Get(inst.Provider)
		if !ok {
			return fieldErr("installation_id", "provider %s has no inbound parser", inst.Provider)
		}
		hdr := http.Header{}
		for k, v := range req.Headers {
			hdr.Set(k, v)
		}
		hdr.Set("Content-Type", ct)
		res, err := provider.Parse(pv, provider.Request{Body: body, ContentType: ct, Header: hdr})
		if err == nil {
			err = provider.Check(res)
		}
		if err != nil {
			return fieldErr("payload", "ingest would refuse it (malformed_payload): %s", err.Error())
		}
		view.Handshake, view.Ignored, events = res.Handshake != nil, res.Ignored, res.Events
	}
	stage, err := s.store.GetStage(ctx, inst.Provider)
	switch {
	case errors.Is(err, store.ErrNotFound):
		stage = store.RolloutStage{Provider: inst.Provider} // no stage: not served
	case err != nil:
		return fmt.Errorf("get stage: %w", err)
	}
	view.Stage = stageVerdict(stage, inst.OrgID)
	bindings, err := s.store.ListBindings(ctx, inst.ID)
	if err != nil {
		return fmt.Errorf("list bindings: %w", err)
	}
	live := bindings[:0:0]
	for _, b := range bindings {
		if b.RevokedAt == nil && b.OrgID == inst.OrgID {
			live = append(live, b)
		}
	}
	for _, ev := range events {
		view.Events = append(view.Events, simulateOne(inst, live, ev, view.Stage))
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// stageVerdict says whether a provider's rollout stage lets an org's events through.
func stageVerdict(st store.RolloutStage, orgID string) simulateStage {
	switch {
	case st.Stage == "":
		return simulateStage{Stage: store.StageOff, Reason: "provider_off: the provider has no rollout stage (stages are explicit), so it is not served"}
	case st.Stage == store.StageOff:
		return simulateStage{Stage: st.Stage, Reason: "provider_off: the provider's rollout stage is off"}
	case st.Stage == store.StageCanary && !st.Admits(orgID):
		return simulateStage{Stage: st.Stage, Reason: "provider_canary: the provider is in canary and this organisation is not among its canary orgs"}
	case st.Stage == store.StageCanary:
		return simulateStage{Stage: st.Stage, LetsThrough: true, Reason: "the provider is in canary and this organisation is a canary org"}
	}
	return simulateStage{Stage: st.Stage, LetsThrough: true, Reason: "the provider's rollout stage is on"}
}

// simulateOne routes one event as ingest does (routing.Select) and explains it.
func simulateOne(inst store.Installation, bindings []store.Binding, ev provider.Event, stage simulateStage) simulateEventView {
	account := ev.Account
	if account == "" {
		account = inst.ExternalID
	}
	v := simulateEventView{Kind: ev.Kind, EventID: ev.EventID, Account: account, Conversation: ev.Conversation, Thread: ev.Thread,
		Sender: ev.Sender, Text: ev.Text, Mentions: append([]string{}, ev.Mentions...), Bindings: []simulateBinding{}, Targets: []simulateTargetView{}}
	if inst.ExternalID != "" {
		if len(ev.Authorized) > 0 && !slices.Contains(ev.Authorized, inst.ExternalID) {
			v.Refusal = fmt.Sprintf("tenant_mismatch: the body authorises installation %s, the installation is %s", provider.Quote(ev.Authorized[0]), provider.Quote(inst.ExternalID))
		}
		for _, t := range ev.TenantIDs {
			if t != inst.ExternalID {
				v.Refusal = fmt.Sprintf("tenant_mismatch: the body names tenant %s, the installation is %s", provider.Quote(t), provider.Quote(inst.ExternalID))
			}
		}
	}
	rev := routing.Event{Account: account, Channel: ev.Conversation, Peer: ev.Sender, Mentions: ev.Mentions}
	mentions := map[string]bool{}
	for _, m := range ev.Mentions {
		mentions[provider.NormalizeMention(m)] = true
	}
	ranked := append([]store.Binding{}, bindings...)
	slices.SortStableFunc(ranked, func(a, b store.Binding) int {
		switch {
		case routing.Less(a, b):
			return -1
		case routing.Less(b, a):
			return 1
		}
		return 0
	})
	targets := routing.Select(bindings, rev)
	won := map[string]bool{}
	for _, t := range targets {
		won[t.ID] = true
	}
	mentionMode := false
	for _, b := range ranked {
		if routing.Matches(b, rev, mentions) && (b.Selector.Mention != "" || mentions[provider.NormalizeMention(b.AgentID)]) {
			mentionMode = true
		}
	}
	for _, b := range ranked {
		sb := simulateBinding{ID: b.ID, Selector: b.Selector, AgentID: b.AgentID, Persona: b.Persona, Priority: b.Priority,
			Specificity: routing.Specificity(b.Selector), Matched: routing.Matches(b, rev, mentions), Won: won[b.ID]}
		sb.Why = whyMatch(b.Selector, rev, mentions)
		v.Bindings = append(v.Bindings, sb)
	}
	for _, b := range targets {
		why := fmt.Sprintf("best-ranked matching binding: specificity %d, priority %d, then the smallest id", routing.Specificity(b.Selector), b.Priority)
		if mentionMode {
			why = fmt.Sprintf("agent %s is mentioned: its best-ranked matching binding (specificity %d, priority %d)", b.AgentID, routing.Specificity(b.Selector), b.Priority)
		}
		key := envelope.SessionKey(envelope.Envelope{OrgID: inst.OrgID, Provider: inst.Provider, InstallationID: inst.ID,
			Conversation: ev.Conversation, Thread: ev.Thread, AgentID: b.AgentID, Persona: b.Persona})
		v.Targets = append(v.Targets, simulateTargetView{BindingID: b.ID, AgentID: b.AgentID, Persona: b.Persona, SessionKey: key, Why: why})
	}
	switch {
	case !stage.LetsThrough:
		v.Outcome = stage.Reason
	case v.Refusal != "":
		v.Outcome = v.Refusal
	case len(targets) == 0:
		v.Outcome = "no_binding: acknowledged, delivered to no agent"
	default:
		v.Outcome = "delivered"
	}
	return v
}

// whyMatch names the first selector field that does not match, or says all did.
func whyMatch(s store.Selector, ev routing.Event, mentions map[string]bool) string {
	switch {
	case s.Account != "" && s.Account != ev.Account:
		return fmt.Sprintf("account %s is not the event's %s", provider.Quote(s.Account), provider.Quote(ev.Account))
	case s.Channel != "" && s.Channel != ev.Channel:
		return fmt.Sprintf("channel %s is not the event's %s", provider.Quote(s.Channel), provider.Quote(ev.Channel))
	case s.Peer != "" && s.Peer != ev.Peer:
		return fmt.Sprintf("peer %s is not the event's sender %s", provider.Quote(s.Peer), provider.Quote(ev.Peer))
	case s.Mention != "" && !mentions[provider.NormalizeMention(s.Mention)]:
		return fmt.Sprintf("mention %s is not in the event", provider.Quote(s.Mention))
	case routing.Specificity(s) == 0:
		return "matches everything (empty selector)"
	}
	return "every selector field matches"
}
