// Package ingest is the HTTP service behind the edge: it trusts nothing but the
// edge's attestation header, answers signed handshakes, normalises the provider
// payload, resolves the installation, honours the provider's rollout stage,
// selects the target agents, and enqueues one envelope per target. It answers
// 2xx only after every enqueue succeeded (a duplicate counts as success), and
// 503 when the queue or the store is unavailable so the provider retries; the
// deterministic task ids make the retry safe.
//
// Routes: POST /v1/hooks/{provider}/{ingress}, and POST /v1/edge/rejections
// for the edge's refusal reports (edgereport.go). Rejections answer a JSON body
// {"error":"<reason>"} with a typed Reason, are logged with slog and audited
// (action webhook.reject) — never with the payload or a secret.
//
// Choices worth knowing:
//   - An event no binding matches is acknowledged (200) and logged as
//     no_binding: refusing it would only make the provider retry for days.
//   - Handshakes (Slack url_verification, Discord PING) are answered unless the
//     provider is off (and, for an org's own installation, unless the org is not
//     in a canary): they set the app up and carry no event.
//   - Bodies the provider sends that carry nothing to deliver (status updates,
//     the bot's own messages, edits) are acknowledged with 200 and logged.
//   - Shared platform apps: the installation is found from the account id in
//     the body (provider.Event.Account) among the installations of the attested
//     platform profile, then every tenant id in the body must be that
//     installation's external id and the body's app id the profile's.
package ingest

import (
	_ "github.com/switchboard-dev/switchboard/provider/all" // every built-in provider

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	edgereport "github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/routing"
	"github.com/switchboard-dev/switchboard/shed"
	"github.com/switchboard-dev/switchboard/store"
)

// Reason is why a request was refused; "" on accept. Metrics, logs, the audit
// log and the JSON answer share it.
type Reason string

const (
	ReasonAttestationMissing  Reason = "attestation_missing"  // 401: no attestation header (bypassed the edge)
	ReasonAttestationInvalid  Reason = "attestation_invalid"  // 401: malformed, forged, stale or not matching the body
	ReasonIdentityMismatch    Reason = "identity_mismatch"    // 403: attested identity does not fit the path or is incomplete
	ReasonUnknownProvider     Reason = "unknown_provider"     // 404
	ReasonBodyTooLarge        Reason = "body_too_large"       // 413
	ReasonMalformedPayload    Reason = "malformed_payload"    // 400
	ReasonUnknownInstallation Reason = "unknown_installation" // 403: no installation for the attested id / body account
	ReasonRevoked             Reason = "revoked"              // 403: installation, profile or org revoked
	// ReasonAmbiguousInstallation (403): a shared app's event is authorised
	// for more than one installation (or names none and the app has several).
	ReasonAmbiguousInstallation Reason = "ambiguous_installation"
	ReasonTenantMismatch        Reason = "tenant_mismatch"   // 403: an id in the body or the store belongs to another tenant
	ReasonProviderOff           Reason = "provider_off"      // 403: rollout stage off
	ReasonProviderCanary        Reason = "provider_canary"   // 403: rollout stage canary, org not listed
	ReasonStoreUnavailable      Reason = "store_unavailable" // 503
	ReasonQueueUnavailable      Reason = "queue_unavailable" // 503
)

// Status is the HTTP status a reason is answered with.
func (r Reason) Status() int {
	switch r {
	case ReasonAttestationMissing, ReasonAttestationInvalid:
		return http.StatusUnauthorized
	case ReasonUnknownProvider:
		return http.StatusNotFound
	case ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonMalformedPayload:
		return http.StatusBadRequest
	case ReasonStoreUnavailable, ReasonQueueUnavailable:
		return http.StatusServiceUnavailable
	case ReasonRateLimited:
		return http.StatusTooManyRequests
	}
	return http.StatusForbidden
}

// Enqueuer puts one envelope on the queue. *queue.Client satisfies it;
// queue.ErrDuplicate means it was enqueued before and counts as success.
type Enqueuer interface {
	Enqueue(ctx context.Context, env envelope.Envelope) error
}

// Defaults.
const (
	DefaultMaxBodyBytes      = filter.DefaultMaxBodyBytes
	DefaultMaxAttestationAge = 2 * time.Minute
	// DefaultEnqueueTimeout bounds the whole enqueue step: Slack wants an answer
	// within 3 s, and a provider retry is better than a late success.
	DefaultEnqueueTimeout = 2 * time.Second
	// DefaultMaxInFlight is how many requests ingest works on at once; one
	// more is answered 503 with Retry-After at once (package shed), so under
	// overload the taken ones still finish within the providers' deadlines.
	DefaultMaxInFlight = 512
)

// Config configures a Handler.
type Config struct {
	Store          store.Store
	Queue          Enqueuer
	AttestationKey []byte
	// MaxAttestationAge bounds the clock difference between the edge's
	// attestation and now (both directions). 0: DefaultMaxAttestationAge.
	MaxAttestationAge time.Duration
	MaxBodyBytes      int64         // 0: DefaultMaxBodyBytes
	EnqueueTimeout    time.Duration // 0: DefaultEnqueueTimeout
	Logger            *slog.Logger  // nil: slog.Default()
	Now               func() time.Time
	MaxInFlight       int // 0: DefaultMaxInFlight; < 0: no limit
	// OrgRate is the rate limit of an organisation whose limits set none
	// (PerSec 0: none). PerSec < 0 turns the per-organisation rate limit
	// off altogether (the stored limits are not read).
	OrgRate orglimit.Rate
}

// Handler is the ingest HTTP handler.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	// unattestedAudit bounds audit writes for requests that bypassed the edge,
	// so a flood of them cannot become a flood of store writes (all are logged).
	unattestedAudit *rate.Limiter
	seenReports     seenBatches // edge report batch ids (replay guard), see edgereport.go
	activity        activityMemo
	config          configCache // configuration reads per store generation, see configcache.go
	inflight        *shed.Limiter
	rates           rateLimits // per-organisation token buckets, see ratelimit.go
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("ingest: no store")
	case cfg.Queue == nil:
		return nil, errors.New("ingest: no queue")
	case len(cfg.AttestationKey) == 0:
		return nil, errors.New("ingest: no attestation key")
	}
	if cfg.MaxAttestationAge <= 0 {
		cfg.MaxAttestationAge = DefaultMaxAttestationAge
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.EnqueueTimeout <= 0 {
		cfg.EnqueueTimeout = DefaultEnqueueTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), unattestedAudit: rate.NewLimiter(5, 20), inflight: shed.New(cfg.MaxInFlight)}
	h.mux.HandleFunc("POST /v1/hooks/{provider}/{ingress}", h.hook)
	h.mux.HandleFunc("POST "+edgereport.Path, h.edgeRejections)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	return h, nil
}

// Over MaxInFlight requests at once, the next is answered 503 with
// Retry-After before any work.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.inflight.Acquire(w) {
		return
	}
	defer h.inflight.Release()
	h.mux.ServeHTTP(w, r)
}

// Shed is how many requests were answered 503 for being over MaxInFlight.
func (h *Handler) Shed() int64 { return h.inflight.Shed() }

// rejection is a refusal on its way out.
type rejection struct {
	reason     Reason
	retryAfter time.Duration // answered as Retry-After when set
	detail     string        // for logs and audit: ids and causes, never payload or secrets
	org        string        // tenant it concerns, when known
	target     string        // installation id, else ingress id
}

func reject(reason Reason, detail string) *rejection {
	return &rejection{reason: reason, detail: detail}
}

// request is the state of one webhook as it moves through the steps.
type request struct {
	provider string
	ingress  string
	id       filter.Identity
	attested bool
	body     []byte
	now      time.Time
	q        *reads   // configuration reads of this request's store generation
	accepted []string // installations whose events passed routing (activity)
}

func (h *Handler) hook(w http.ResponseWriter, r *http.Request) {
	req := &request{provider: r.PathValue("provider"), ingress: r.PathValue("ingress"), now: h.cfg.Now()}
	resp, rej := h.handle(r, req)
	if rej != nil {
		h.refuse(w, r, req, rej)
		return
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	w.WriteHeader(status)
	w.Write(resp.Body)
}

func (h *Handler) handle(r *http.Request, req *request) (provider.Response, *rejection) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return provider.Response{}, reject(ReasonBodyTooLarge, fmt.Sprintf("body over %d bytes", h.cfg.MaxBodyBytes))
		}
		return provider.Response{}, reject(ReasonMalformedPayload, "read body: "+err.Error())
	}
	req.body = body

	id, err := filter.VerifyAttestation(h.cfg.AttestationKey, r.Header.Get, body, req.now.Unix(), int64(h.cfg.MaxAttestationAge/time.Second))
	if err != nil {
		if errors.Is(err, filter.ErrNoAttestation) {
			return provider.Response{}, reject(ReasonAttestationMissing, err.Error())
		}
		return provider.Response{}, reject(ReasonAttestationInvalid, err.Error())
	}
	req.id, req.attested = id, true
	if id.Provider != req.provider || id.IngressID != req.ingress {
		return provider.Response{}, reject(ReasonIdentityMismatch, "attested provider/ingress differ from the path")
	}
	if id.Platform && id.Profile == "" || !id.Platform && (id.Installation == "" || id.Org == "") {
		return provider.Response{}, reject(ReasonIdentityMismatch, "attested identity incomplete")
	}
	p, ok := provider.Get(id.Provider)
	if !ok {
		return provider.Response{}, reject(ReasonUnknownProvider, "no inbound adapter for "+provider.Quote(id.Provider))
	}

	ctx := r.Context()
	if req.q, err = h.reads(ctx); err != nil {
		return provider.Response{}, reject(ReasonStoreUnavailable, "store generation: "+err.Error())
	}
	if !id.Platform {
		if rej := h.rateCheck(ctx, req, id.Org, id.Installation); rej != nil {
			return provider.Response{}, rej
		}
	}
	stage, err := req.q.GetStage(ctx, id.Provider)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Stages are explicit: a provider without one is not served.
		stage = store.RolloutStage{Provider: id.Provider, Stage: store.StageOff}
	case err != nil:
		return provider.Response{}, reject(ReasonStoreUnavailable, "rollout stage: "+err.Error())
	}
	if stage.Stage == store.StageOff {
		return provider.Response{}, reject(ReasonProviderOff, "provider rollout stage is off")
	}

	preq := provider.Request{Body: body, ContentType: r.Header.Get("Content-Type"), Header: r.Header}
	if _, takes := p.(provider.SettingsValidator); takes && !id.Platform {
		// The installation's settings shape its parse (Standard Webhooks'
		// conversation pointer); a shared platform app has none to read yet.
		if preq.Settings, _, err = req.q.GetInstallationSettings(ctx, id.Installation); err != nil {
			return provider.Response{}, reject(ReasonStoreUnavailable, "installation settings: "+err.Error())
		}
	}
	res, err := provider.Parse(p, preq)
	if err == nil {
		err = provider.Check(res)
	}
	if err != nil {
		return provider.Response{}, reject(ReasonMalformedPayload, err.Error())
	}
	if res.Handshake != nil {
		if stage.Stage == store.StageCanary && !id.Platform && !stage.Admits(id.Org) {
			return provider.Response{}, reject(ReasonProviderCanary, "org not in the provider's canary")
		}
		h.cfg.Logger.Info("webhook handshake answered", "provider", id.Provider, "ingress", id.IngressID)
		h.recordActivity(ctx, req) // a verified request of the installation (e.g. the self-test)
		return *res.Handshake, nil
	}

	if len(res.Revocations) > 0 {
		if rej := h.revoke(ctx, req, res.Revocations); rej != nil {
			return provider.Response{}, rej
		}
	}
	envs, rej := h.route(ctx, req, res.Events, stage)
	if rej != nil {
		return provider.Response{}, rej
	}
	if rej := h.enqueue(ctx, req, envs); rej != nil {
		return provider.Response{}, rej
	}
	h.recordActivity(ctx, req)
	if len(res.Events) == 0 && len(res.Revocations) == 0 {
		h.cfg.Logger.Info("webhook acknowledged without events", "provider", id.Provider, "ingress", id.IngressID, "ignored", res.Ignored)
	}
	if res.Ack != nil {
		return *res.Ack, nil
	}
	return provider.Response{Status: http.StatusOK}, nil
}

// resolved is an installation checked for this request, with what routing needs.
type resolved struct {
	inst     store.Installation
	profile  store.AppProfile
	bindings []store.Binding
}

// route resolves the installation of every event, checks tenancy and stage,
// and returns one finished envelope per (event, target). Nothing is enqueued
// unless every event passes: a request is accepted or refused as a whole.
func (h *Handler) route(ctx context.Context, req *request, events []provider.Event, stage store.RolloutStage) ([]envelope.Envelope, *rejection) {
	cache := map[string]*resolved{} // by installation id
	revoked := map[[2]string]bool{} // (installation, conversation) -> revoked
	limited := map[string]bool{}    // organisations whose rate was checked
	var out []envelope.Envelope
	for _, ev := range events {
		rv, rej := h.resolve(ctx, req, ev, cache)
		if rej != nil {
			return nil, rej
		}
		inst := rv.inst
		if stage.Stage == store.StageCanary && !stage.Admits(inst.OrgID) {
			return nil, &rejection{reason: ReasonProviderCanary, detail: "org not in the provider's canary", org: inst.OrgID, target: inst.ID}
		}
		if req.id.Platform && !limited[inst.OrgID] {
			// A shared app's organisation is known only now.
			limited[inst.OrgID] = true
			if rej := h.rateCheck(ctx, req, inst.OrgID, inst.ID); rej != nil {
				return nil, rej
			}
		}
		if !slices.Contains(req.accepted, inst.ID) {
			req.accepted = append(req.accepted, inst.ID)
		}
		if gone, err := h.conversationRevoked(ctx, inst.ID, ev.Conversation, revoked); err != nil {
			return nil, &rejection{reason: ReasonStoreUnavailable, detail: "load conversation revocation: " + err.Error(), org: inst.OrgID, target: inst.ID}
		} else if gone {
			h.cfg.Logger.Info("conversation_revoked: event acknowledged without delivery",
				"provider", req.id.Provider, "installation", inst.ID, "org", inst.OrgID, "event_id", ev.EventID, "conversation", ev.Conversation)
			continue
		}
		account := ev.Account
		if account == "" {
			account = inst.ExternalID
		}
		targets := routing.Select(rv.bindings, routing.Event{Account: account, Channel: ev.Conversation, Peer: ev.Sender, Mentions: ev.Mentions})
		if len(targets) == 0 {
			h.cfg.Logger.Info("no_binding: event acknowledged without a target",
				"provider", req.id.Provider, "installation", inst.ID, "org", inst.OrgID, "event_id", ev.EventID, "conversation", ev.Conversation)
			continue
		}
		for _, b := range targets {
			out = append(out, envelope.Envelope{
				Provider:       req.id.Provider,
				OrgID:          inst.OrgID,
				InstallationID: inst.ID,
				ProfileID:      inst.ProfileID,
				Conversation:   ev.Conversation,
				Thread:         ev.Thread,
				Sender:         ev.Sender,
				Text:           ev.Text,
				Attachments:    ev.Attachments,
				EventID:        ev.EventID,
				Kind:           ev.Kind,
				EventType:      ev.Type,
				ReceivedAt:     req.now.UTC(),
				AgentID:        b.AgentID,
				Persona:        b.Persona,
				BindingID:      b.ID,
				Raw:            rawJSON(req.body),
			}.Finish())
		}
	}
	return out, nil
}

// resolve finds and checks the installation an event belongs to.
func (h *Handler) resolve(ctx context.Context, req *request, ev provider.Event, cache map[string]*resolved) (*resolved, *rejection) {
	id := req.id
	q := req.q
	var inst store.Installation
	var err error
	if id.Platform {
		var rej *rejection
		if inst, rej = h.findShared(ctx, req, id.Profile, sharedNames(ev)); rej != nil {
			return nil, rej
		}
	} else {
		if rv := cache[id.Installation]; rv != nil {
			inst = rv.inst
		} else {
			inst, err = q.GetInstallation(ctx, id.Installation)
			if errors.Is(err, store.ErrNotFound) {
				return nil, &rejection{reason: ReasonUnknownInstallation, detail: "attested installation not in the store", org: id.Org, target: id.Installation}
			}
		}
	}
	if err != nil {
		return nil, reject(ReasonStoreUnavailable, "load installation: "+err.Error())
	}
	rv := cache[inst.ID]
	if rv == nil {
		var rej *rejection
		if rv, rej = h.load(ctx, req, inst); rej != nil {
			return nil, rej
		}
		cache[inst.ID] = rv
	}
	mismatch := func(detail string) *rejection {
		return &rejection{reason: ReasonTenantMismatch, detail: detail, org: inst.OrgID, target: inst.ID}
	}
	// Every tenant id the body attributes this event to must be this
	// installation's (a BYOA app signed it, or the platform profile resolved it).
	if len(ev.Authorized) > 0 && !id.Platform && inst.ExternalID != "" && !slices.Contains(ev.Authorized, inst.ExternalID) {
		return nil, mismatch(fmt.Sprintf("event is authorised for %s, not installation's %s", quoteList(ev.Authorized), provider.Quote(inst.ExternalID)))
	}
	if inst.ExternalID != "" || id.Platform {
		for _, t := range ev.TenantIDs {
			if t != inst.ExternalID {
				return nil, mismatch(fmt.Sprintf("body tenant id %s is not installation's %s", provider.Quote(t), provider.Quote(inst.ExternalID)))
			}
		}
	}
	if rv.profile.ExternalAppID != "" && ev.AppID != "" && ev.AppID != rv.profile.ExternalAppID {
		return nil, mismatch(fmt.Sprintf("body app id %s is not the profile's", provider.Quote(ev.AppID)))
	}
	return rv, nil
}

// findShared resolves the installation of a shared platform app's event
// among the profile's installations (chooseShared decides).
func (h *Handler) findShared(ctx context.Context, req *request, profile string, named []string) (store.Installation, *rejection) {
	q := req.q
	if len(named) > maxNamed {
		return store.Installation{}, reject(ReasonMalformedPayload, fmt.Sprintf("event names %d installations, at most %d", len(named), maxNamed))
	}
	found := map[string]store.Installation{}
	for _, n := range named {
		in, err := q.FindInstallation(ctx, profile, n)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return store.Installation{}, reject(ReasonStoreUnavailable, "load installation: "+err.Error())
		default:
			found[n] = in
		}
	}
	var sole []store.Installation
	if len(named) == 0 {
		var err error
		if sole, err = q.ListLiveInstallations(ctx, profile, 2); err != nil {
			return store.Installation{}, reject(ReasonStoreUnavailable, "list installations: "+err.Error())
		}
	}
	c := chooseShared(profile, named, found, sole)
	if c.reason != "" {
		return store.Installation{}, reject(c.reason, c.detail)
	}
	return c.inst, nil
}

// load checks an installation against the attested identity and loads its
// profile and bindings.
func (h *Handler) load(ctx context.Context, req *request, inst store.Installation) (*resolved, *rejection) {
	id := req.id
	q := req.q
	rej := func(reason Reason, detail string) *rejection {
		return &rejection{reason: reason, detail: detail, org: inst.OrgID, target: inst.ID}
	}
	if inst.Provider != id.Provider {
		return nil, rej(ReasonTenantMismatch, "installation provider differs from the attested provider")
	}
	if id.Platform {
		if inst.ProfileID != id.Profile {
			return nil, rej(ReasonTenantMismatch, "installation is not of the attested platform profile")
		}
	} else if inst.OrgID != id.Org || (id.Profile != "" && inst.ProfileID != id.Profile) {
		return nil, rej(ReasonTenantMismatch, "installation org or profile differs from the attested identity")
	}
	if inst.RevokedAt != nil {
		return nil, rej(ReasonRevoked, "installation revoked")
	}
	profile, err := q.GetProfile(ctx, inst.ProfileID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, rej(ReasonUnknownInstallation, "installation's profile not in the store")
		}
		return nil, rej(ReasonStoreUnavailable, "load profile: "+err.Error())
	}
	if profile.RevokedAt != nil {
		return nil, rej(ReasonRevoked, "profile revoked")
	}
	// A platform profile serves platform traffic only, an org's profile only its org.
	if id.Platform != (profile.OwnerOrgID == store.OwnerPlatform) || (!id.Platform && profile.OwnerOrgID != inst.OrgID) {
		return nil, rej(ReasonTenantMismatch, "profile owner does not fit the attested identity")
	}
	org, err := q.GetOrg(ctx, inst.OrgID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, rej(ReasonUnknownInstallation, "installation's org not in the store")
		}
		return nil, rej(ReasonStoreUnavailable, "load org: "+err.Error())
	}
	if org.RevokedAt != nil {
		return nil, rej(ReasonRevoked, "org revoked")
	}
	all, err := q.ListBindings(ctx, inst.ID)
	if err != nil {
		return nil, rej(ReasonStoreUnavailable, "load bindings: "+err.Error())
	}
	bindings := all[:0:0]
	for _, b := range all {
		if b.InstallationID == inst.ID && b.OrgID == inst.OrgID && b.RevokedAt == nil {
			bindings = append(bindings, b)
		}
	}
	return &resolved{inst: inst, profile: profile, bindings: bindings}, nil
}

// enqueue puts every envelope on the queue; any failure but a duplicate makes
// the whole request 503 (the provider retries; enqueued ones are duplicates then).
func (h *Handler) enqueue(ctx context.Context, req *request, envs []envelope.Envelope) *rejection {
	if len(envs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.EnqueueTimeout)
	defer cancel()
	for _, env := range envs {
		err := h.cfg.Queue.Enqueue(ctx, env)
		switch {
		case err == nil:
			h.cfg.Logger.Info("webhook enqueued", "provider", env.Provider, "installation", env.InstallationID,
				"org", env.OrgID, "event_id", env.EventID, "agent", env.AgentID, "task_id", env.ID)
		case errors.Is(err, queue.ErrDuplicate):
			h.cfg.Logger.Info("webhook duplicate: already enqueued", "provider", env.Provider, "installation", env.InstallationID,
				"event_id", env.EventID, "agent", env.AgentID, "task_id", env.ID)
		default:
			return &rejection{reason: ReasonQueueUnavailable, detail: err.Error(), org: env.OrgID, target: env.InstallationID}
		}
	}
	return nil
}

// rawJSON is the body as received when it is JSON (JSON encoding of the
// envelope compacts whitespace; escapes and field order stay); a form-encoded
// body (Slack slash commands, interactivity) is carried as a JSON string.
func rawJSON(body []byte) json.RawMessage {
	if json.Valid(body) {
		return json.RawMessage(body)
	}
	s, _ := json.Marshal(string(body))
	return s
}

// maxLoggedValue bounds a client-chosen value (path segment, header) in the
// log line and audit event of a refusal: before the attestation is checked it
// is whatever the client sent, up to the server's header limit (a megabyte),
// and unattested refusals are logged and audited too.
const maxLoggedValue = 64

// clip returns s, or its first maxLoggedValue characters and its length.
func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	return fmt.Sprintf("%.*s...(%d bytes)", maxLoggedValue, s, len(s))
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, req *request, rej *rejection) {
	status := rej.reason.Status()
	pv, ingress := clip(req.provider), clip(req.ingress)
	target := rej.target
	if target == "" {
		target = ingress
	}
	org := rej.org
	if org == "" && req.attested {
		org = req.id.Org
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	if rej.reason == ReasonRateLimited && !h.rates.note(org, req.now) {
		// Counted by the requests metric; logged and audited once per
		// noteEvery per organisation.
		answerRefusal(w, rej, status)
		return
	}
	h.cfg.Logger.Log(r.Context(), level, "webhook refused", "reason", string(rej.reason), "status", status,
		"provider", pv, "ingress", ingress, "org", org, "target", target, "detail", rej.detail,
		"slack_retry", clip(r.Header.Get("X-Slack-Retry-Num")))

	if req.attested || h.unattestedAudit.Allow() {
		detail, _ := json.Marshal(map[string]any{
			"reason": rej.reason, "status": status, "provider": pv, "ingress": ingress, "detail": rej.detail,
		})
		// Audit on its own short deadline: the client may be gone, the record must not.
		actx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Second)
		_, err := h.cfg.Store.AppendAudit(actx, store.AuditEvent{
			At: req.now.UTC(), Actor: "ingest", OrgID: org, Action: "webhook.reject", Target: target, Detail: string(detail),
		})
		cancel()
		if err != nil {
			h.cfg.Logger.Error("audit webhook.reject failed", "reason", string(rej.reason), "error", err.Error())
		}
	}
	answerRefusal(w, rej, status)
}

// answerRefusal writes the refusal's answer.
func answerRefusal(w http.ResponseWriter, rej *rejection, status int) {
	switch {
	case rej.retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int((rej.retryAfter+time.Second-1)/time.Second)))
	case status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The answer carries the log line's short detail (ids and causes, never
	// a payload or a secret), so whoever sent it sees why without the logs;
	// a 5xx keeps its internal cause (a store error) to the log.
	answer := map[string]string{"error": string(rej.reason)}
	if status < 500 && rej.detail != "" {
		answer["detail"] = rej.detail
	}
	json.NewEncoder(w).Encode(answer)
}
