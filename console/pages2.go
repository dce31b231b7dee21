package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/provider/setup"
)

func detailString(d json.RawMessage, key string) string {
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}

func detailNumber(d json.RawMessage, key string) int {
	var m map[string]any
	if json.Unmarshal(d, &m) != nil {
		return 0
	}
	v, _ := m[key].(float64)
	return int(v)
}

func isNoRoute(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == "no_route"
}

// ---- connect a provider

func (s *Server) connectPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	stages, err := stagesByProvider(ctx, c)
	if err != nil {
		return err
	}
	var ps []providerInfo
	for name := range stages {
		ps = append(ps, providerOf(name))
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Title < ps[j].Title })
	s.render(w, r, http.StatusOK, "connect", &pageData{Title: "Connect a provider", Nav: "connect", Org: o,
		Data: map[string]any{"Providers": ps, "Stages": stages}}, c)
	return nil
}

func (s *Server) connectProviderPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	p := providerOf(r.PathValue("provider"))
	stages, err := stagesByProvider(ctx, c)
	if err != nil {
		return err
	}
	if _, ok := stages[p.Name]; !ok {
		return &APIError{Status: 404, Code: "not_found", Message: "no provider " + p.Name}
	}
	var profs list[profile]
	if err := c.api.get(ctx, "/v1/profiles", nil, &profs); err != nil {
		return err
	}
	var platform, own []profile
	for _, pr := range profs.Items {
		if pr.Provider != p.Name || pr.RevokedAt != nil {
			continue
		}
		switch {
		case pr.Owner == "platform":
			platform = append(platform, pr)
		case pr.OrgID == o.ID:
			own = append(own, pr)
		}
	}
	s.render(w, r, http.StatusOK, "connect_provider", &pageData{Title: "Connect " + p.Title, Nav: "connect", Org: o,
		Data: map[string]any{"P": p, "Platform": platform, "Own": own, "Stage": stages[p.Name]}}, c)
	return nil
}

// connectProvider creates what the chosen mode needs: with the org's own app
// a profile (unless an existing one is chosen) and an installation holding
// the pasted secrets; with the platform's app an installation of the
// platform profile (apps that install through OAuth go through the
// provider's consent screen instead).
func (s *Server) connectProvider(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	orgID := r.PathValue("org")
	p := providerOf(r.PathValue("provider"))
	f := r.PostForm
	mode := f.Get("mode")
	profileID := f.Get("profile_id")
	secretsIn := map[string]string{}
	externalID := strings.TrimSpace(f.Get("external_id"))
	switch mode {
	case "platform":
		if profileID == "" {
			return &APIError{Status: 400, Code: "invalid_field", Field: "profile_id", Message: "choose the platform's app"}
		}
		if p.OAuth {
			return s.startOAuth(w, r, c, orgID, p, profileID)
		}
	case "own":
		for _, sf := range p.Secrets {
			if v := strings.TrimSpace(f.Get("secret_" + sf.Purpose)); v != "" {
				secretsIn[sf.Purpose] = v
			}
		}
		if p.Name == "telegram" {
			if _, ok := secretsIn["secret_token"]; !ok {
				secretsIn["secret_token"] = randomValue() // base64url: the setWebhook alphabet
			}
			if bt := secretsIn["bot_token"]; externalID == "" && bt != "" {
				externalID, _, _ = strings.Cut(bt, ":")
			}
		}
		if profileID == "" {
			name := strings.TrimSpace(f.Get("app_name"))
			if name == "" {
				name = p.Title + " app"
			}
			var pr profile
			body := map[string]any{"org_id": orgID, "provider": p.Name, "name": name}
			if a := strings.TrimSpace(f.Get("external_app_id")); a != "" {
				body["external_app_id"] = a
			}
			if err := c.api.do(ctx, http.MethodPost, "/v1/profiles", body, &pr); err != nil {
				return err
			}
			profileID = pr.ID
		}
	default:
		return &APIError{Status: 400, Code: "invalid_field", Field: "mode", Message: "choose the platform's app or your own app"}
	}
	body := map[string]any{"org_id": orgID, "profile_id": profileID, "provider": p.Name, "external_id": externalID}
	if len(secretsIn) > 0 {
		body["secrets"] = secretsIn
	}
	var in installation
	if err := c.api.do(ctx, http.MethodPost, "/v1/installations", body, &in); err != nil {
		return err
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(in.ID), &flash{Kind: "ok", Message: p.Title + " installation " + in.ExternalID + " created: follow the setup steps below."})
	return nil
}

// startOAuth asks the API to start the provider's OAuth install for this org
// and answers a page whose link takes the browser to the provider's consent
// screen. Not a redirect: the console's CSP (form-action 'self') makes a
// browser refuse a form submission that redirects to another origin, and an
// ordinary link navigation is not governed by form-action. The API's
// callback sends the browser back to the installation's page.
func (s *Server) startOAuth(w http.ResponseWriter, r *http.Request, c *reqCtx, orgID string, p providerInfo, profileID string) error {
	st, err := c.api.cl.StartConsoleOAuth(r.Context(), p.Name, profileID, orgID)
	if err = apiErr(err); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "no_route" {
			ae.Message = "this server does not offer OAuth installs yet: connect your own app instead"
		}
		return err
	}
	u := st.AuthorizeURL
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return &APIError{Status: 502, Code: "oauth", Message: "the API gave no authorisation address"}
	}
	o, err := loadOrg(r.Context(), c, orgID)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "oauth", &pageData{Title: "Add to " + p.Title, Org: o, Nav: "connect",
		Data: map[string]any{"P": p, "AuthorizeURL": u, "ExpiresAt": st.ExpiresAt.UTC().Format("15:04 MST")}}, c)
	return nil
}

// ---- one installation

// loadInstallation loads the installation the URL names; one of another
// organisation than the URL's is not found either.
func loadInstallation(ctx context.Context, c *reqCtx, orgID, id string) (*installation, error) {
	var in installation
	if err := c.api.get(ctx, "/v1/installations/"+seg(id), nil, &in); err != nil {
		return nil, err
	}
	if in.OrgID != orgID {
		return nil, &APIError{Status: 404, Code: "not_found", Message: "installation \"" + id + "\" not found"}
	}
	return &in, nil
}

type installationData struct {
	Inst                       *installation
	P                          providerInfo
	Profile                    *profile
	Stage                      stage
	Refusals                   map[string]int
	Bindings                   []binding
	Agents                     map[string]agent
	Setup                      *setup.Packet // the setup packet, when the API serves one
	Live                       live
	Registrable                bool
	Health                     *health // when the user asked for the checks (?checks=1)
	HandoffURLs, HandoffScopes string
	Tomorrow                   string
	MaxDate                    string
	PollMillis                 int64
	Purposes                   []string
}

func (s *Server) installationPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	in, err := loadInstallation(ctx, c, o.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := installationData{Inst: in, P: providerOf(in.Provider), PollMillis: s.cfg.PollInterval.Milliseconds(), Live: liveState(in),
		Registrable: registrable[in.Provider] && in.RevokedAt == nil}
	if r.URL.Query().Get("checks") == "1" && in.RevokedAt == nil {
		// The checks call the provider and send a self-test through the
		// edge: only when asked, never on the live panel's poll.
		var h health
		if err := c.api.get(ctx, "/v1/installations/"+seg(in.ID)+"/health", nil, &h); err != nil {
			return err
		}
		d.Health = &h
		for _, ch := range h.Checks {
			if ch.Name == "self_test" && ch.Status == "pass" && d.Live.State != "ok" {
				d.Live = live{State: "ok", Message: "the self-test passed the edge and reached ingest"}
			}
		}
	}
	now := s.now().UTC()
	d.Tomorrow = now.Add(24 * time.Hour).Format("2006-01-02")
	d.MaxDate = now.Add(29 * 24 * time.Hour).Format("2006-01-02")
	seen := map[string]bool{}
	for _, sc := range in.Secrets {
		if !seen[sc.Purpose] {
			seen[sc.Purpose] = true
			d.Purposes = append(d.Purposes, sc.Purpose)
		}
	}
	var pr profile
	if err := c.api.get(ctx, "/v1/profiles/"+seg(in.ProfileID), nil, &pr); err == nil {
		d.Profile = &pr
	}
	stages, err := stagesByProvider(ctx, c)
	if err != nil {
		return err
	}
	d.Stage = stages[in.Provider]
	ref, err := refusals24h(ctx, c, o.ID, s.now())
	if err != nil {
		return err
	}
	d.Refusals = ref[in.ID]
	var bs list[binding]
	if err := c.api.get(ctx, "/v1/bindings", url.Values{"installation_id": {in.ID}}, &bs); err != nil {
		return err
	}
	d.Bindings = bs.Items
	d.Agents, err = agentsByID(ctx, c, o.ID)
	if err != nil {
		return err
	}
	if in.RevokedAt == nil {
		var pk setup.Packet
		if err := c.api.get(ctx, "/v1/installations/"+seg(in.ID)+"/setup", nil, &pk); err == nil {
			d.Setup = &pk
			if h := pk.Handoff; h != nil {
				d.HandoffURLs, d.HandoffScopes = strings.Join(h.URLsConfigured, "\n"), strings.Join(h.ScopesApproved, "\n")
			}
		} else if !isNoRoute(err) {
			return err
		}
	}
	s.render(w, r, http.StatusOK, "installation", &pageData{Title: d.P.Title + " " + in.ExternalID, Nav: "installations", Org: o, Data: d}, c)
	return nil
}

func agentsByID(ctx context.Context, c *reqCtx, orgID string) (map[string]agent, error) {
	var as list[agent]
	if err := c.api.get(ctx, "/v1/agents", url.Values{"org_id": {orgID}}, &as); err != nil {
		return nil, err
	}
	m := map[string]agent{}
	for _, a := range as.Items {
		m[a.ID] = a
	}
	return m, nil
}

// installationStatus answers the live panel's poll (JSON): whether a
// verified event (the self-test or a real one) has arrived.
func (s *Server) installationStatus(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	in, err := loadInstallation(ctx, c, r.PathValue("org"), r.PathValue("id"))
	if err != nil {
		return err
	}
	st := liveState(in)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(st)
}

type live struct {
	State   string `json:"state"` // waiting, ok, revoked
	Message string `json:"message"`
	Last    string `json:"last,omitempty"` // the last accepted event's time
}

// liveState is the "first verified event" panel: green once ingest has
// accepted a verified event of the installation (the self-test or a real one).
func liveState(in *installation) live {
	switch {
	case in.FirstAcceptedAt != nil:
		m := "verified event received: first " + in.FirstAcceptedAt.UTC().Format("2006-01-02 15:04:05 UTC")
		if in.LastAcceptedAt != nil && !in.LastAcceptedAt.Equal(*in.FirstAcceptedAt) {
			m += ", latest " + in.LastAcceptedAt.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		last := in.FirstAcceptedAt
		if in.LastAcceptedAt != nil {
			last = in.LastAcceptedAt
		}
		return live{"ok", m, last.UTC().Format("2006-01-02 15:04 UTC")}
	case in.RevokedAt != nil:
		return live{State: "revoked", Message: "revoked before any verified event arrived"}
	}
	return live{State: "waiting", Message: "waiting for the first verified event…"}
}

func (s *Server) rotateInstallation(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	orgID, id := r.PathValue("org"), r.PathValue("id")
	f := r.PostForm
	if f.Get("confirm") != "yes" {
		return &APIError{Status: 400, Code: "invalid_field", Field: "confirm", Message: "tick the box to confirm the rotation"}
	}
	until, err := rotationDeadline(f.Get("previous_valid_until"), s.now())
	if err != nil {
		return err
	}
	// The API decides whether this user may rotate this installation's secret.
	var out struct {
		Purpose            string    `json:"purpose"`
		PreviousValidUntil time.Time `json:"previous_valid_until"`
		Secret             secret    `json:"secret"`
	}
	body := map[string]string{"value": f.Get("value"), "previous_valid_until": until}
	if err := c.api.do(ctx, http.MethodPost, "/v1/installations/"+seg(id)+"/secrets/"+seg(f.Get("purpose"))+"/rotate", body, &out); err != nil {
		return err
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(id), &flash{Kind: "ok",
		Message: "Rotated " + out.Purpose + ": new secret " + out.Secret.Fingerprint + "; the previous one stays valid until " + out.PreviousValidUntil.UTC().Format("2006-01-02 15:04 UTC") + "."})
	return nil
}

// rotationDeadline turns the form's date (YYYY-MM-DD, the last day the
// previous secret works) or "now" into the API's previous_valid_until.
func rotationDeadline(v string, now time.Time) (string, error) {
	if v == "now" {
		return now.UTC().Add(time.Second).Format(time.RFC3339), nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return "", &APIError{Status: 400, Code: "invalid_field", Field: "previous_valid_until", Message: "give the date until which the previous secret stays valid (YYYY-MM-DD)"}
	}
	end := d.Add(24*time.Hour - time.Second)
	if max := now.UTC().Add(30 * 24 * time.Hour); end.After(max) {
		end = max.Truncate(time.Second)
	}
	return end.UTC().Format(time.RFC3339), nil
}

// registrable are the providers whose webhook the API registers itself.
var registrable = map[string]bool{"telegram": true, "discord": true, "slack": true, "whatsapp": true, "messenger": true, "instagram": true}

// register asks the API to register the webhook at the provider with the
// installation's own credentials and shows each step the provider answered.
func (s *Server) register(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	orgID, id := r.PathValue("org"), r.PathValue("id")
	f := r.PostForm
	res, err := c.api.cl.Register(r.Context(), id, client.RegisterRequest{WABAID: strings.TrimSpace(f.Get("waba_id")), PageID: strings.TrimSpace(f.Get("page_id"))})
	if err != nil {
		return apiErr(err)
	}
	var steps []string
	for _, st := range res.Steps {
		mark := "✓"
		if !st.OK {
			mark = "✗"
		}
		steps = append(steps, mark+" "+st.Name+": "+st.Detail)
	}
	fl := flash{Kind: "ok", Message: "Registered at " + providerOf(res.Provider).Title + ". " + strings.Join(steps, "; ")}
	if !res.OK {
		fl = flash{Kind: "error", Message: "Registration at " + providerOf(res.Provider).Title + " failed. " + strings.Join(steps, "; ") + " " + res.Fix}
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(id), &fl)
	return nil
}

// health is GET /v1/installations/{id}/health: every check with its fix.
type health struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
		Fix    string `json:"fix"`
	} `json:"checks"`
}

// handoff records the agency handoff (PUT /v1/installations/{id}/handoff).
func (s *Server) handoff(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	orgID, id := r.PathValue("org"), r.PathValue("id")
	f := r.PostForm
	lines := func(v string) []string {
		out := []string{}
		for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	body := map[string]any{"owner_account": strings.TrimSpace(f.Get("owner_account")), "urls_configured": lines(f.Get("urls_configured")),
		"scopes_approved": lines(f.Get("scopes_approved")), "canary_channel": strings.TrimSpace(f.Get("canary_channel")),
		"rotation_owner": strings.TrimSpace(f.Get("rotation_owner")), "next_rotation": strings.TrimSpace(f.Get("next_rotation"))}
	if v := strings.TrimSpace(f.Get("canary_validated_at")); v != "" {
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			return &APIError{Status: 400, Code: "invalid_field", Field: "canary_validated_at", Message: "give the date and time (UTC) of the canary validation"}
		}
		body["canary_validated_at"] = t.UTC().Format(time.RFC3339)
	}
	if err := c.api.do(r.Context(), http.MethodPut, "/v1/installations/"+seg(id)+"/handoff", body, nil); err != nil {
		return err
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(id)+"#h-handoff", &flash{Kind: "ok", Message: "Handoff record saved."})
	return nil
}

// ---- revoke (installations, agents, bindings), each confirmed

var revokePaths = map[string]string{"installation": "/v1/installations/", "agent": "/v1/agents/", "binding": "/v1/bindings/"}

func (s *Server) confirmRevoke(kind string) func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		ctx := r.Context()
		o, err := loadOrg(ctx, c, r.PathValue("org"))
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := c.api.get(ctx, revokePaths[kind]+seg(r.PathValue("id")), nil, &obj); err != nil {
			return err
		}
		if obj["org_id"] != o.ID {
			return &APIError{Status: 404, Code: "not_found", Message: kind + " \"" + r.PathValue("id") + "\" not found"}
		}
		label, _ := obj["name"].(string)
		if label == "" {
			label, _ = obj["external_id"].(string)
		}
		s.render(w, r, http.StatusOK, "confirm", &pageData{Title: "Revoke " + kind, Org: o, Data: map[string]any{
			"Kind": kind, "ID": r.PathValue("id"), "Label": label, "Action": r.URL.Path}}, c)
		return nil
	}
}

func (s *Server) revoke(kind string) func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		orgID, id := r.PathValue("org"), r.PathValue("id")
		if r.PostForm.Get("confirm") != "yes" {
			return &APIError{Status: 400, Code: "invalid_field", Field: "confirm", Message: "revoking needs confirmation"}
		}
		if err := c.api.do(r.Context(), http.MethodPost, revokePaths[kind]+seg(id)+"/revoke", nil, nil); err != nil {
			return err
		}
		to := "/orgs/" + seg(orgID)
		switch kind {
		case "installation":
			to += "/installations/" + seg(id)
		case "agent":
			to += "/agents"
		case "binding":
			to += "/bindings"
		}
		s.redirect(w, r, c, to, &flash{Kind: "ok", Message: strings.ToUpper(kind[:1]) + kind[1:] + " " + id + " revoked."})
		return nil
	}
}

// ---- agents

func (s *Server) agentsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	var as list[agent]
	if err := c.api.get(ctx, "/v1/agents", url.Values{"org_id": {o.ID}}, &as); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "agents", &pageData{Title: "Agents", Nav: "agents", Org: o, Data: map[string]any{"Agents": as.Items}}, c)
	return nil
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	orgID := r.PathValue("org")
	f := r.PostForm
	body := map[string]string{"org_id": f.Get("org_id"), "name": strings.TrimSpace(f.Get("name")), "url": strings.TrimSpace(f.Get("url"))}
	if body["org_id"] == "" {
		body["org_id"] = orgID
	}
	if v := strings.TrimSpace(f.Get("signing_secret")); v != "" {
		body["signing_secret"] = v
	}
	var a agent
	if err := c.api.do(r.Context(), http.MethodPost, "/v1/agents", body, &a); err != nil {
		return err
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/agents", &flash{Kind: "ok", Message: "Agent " + a.Name + " created. Its signing secret (shown this once):", Secret: a.SigningSecret})
	return nil
}

// ---- bindings and the simulator

func (s *Server) bindingsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return s.renderBindings(w, r, c, nil, nil)
}

func (s *Server) renderBindings(w http.ResponseWriter, r *http.Request, c *reqCtx, sim *client.Simulation, simErr *APIError) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	var bs list[binding]
	if err := c.api.get(ctx, "/v1/bindings", url.Values{"org_id": {o.ID}}, &bs); err != nil {
		return err
	}
	var insts list[installation]
	if err := c.api.get(ctx, "/v1/installations", url.Values{"org_id": {o.ID}}, &insts); err != nil {
		return err
	}
	agents, err := agentsByID(ctx, c, o.ID)
	if err != nil {
		return err
	}
	var agentList []agent
	for _, a := range agents {
		if a.RevokedAt == nil {
			agentList = append(agentList, a)
		}
	}
	sort.Slice(agentList, func(i, j int) bool { return agentList[i].Name < agentList[j].Name })
	installs := map[string]installation{}
	var live []installation
	for _, in := range insts.Items {
		installs[in.ID] = in
		if in.RevokedAt == nil {
			live = append(live, in)
		}
	}
	status := http.StatusOK
	if simErr != nil {
		status = simErr.Status
	}
	s.render(w, r, status, "bindings", &pageData{Title: "Bindings", Nav: "bindings", Org: o, Data: map[string]any{
		"Bindings": bs.Items, "Installations": live, "ByID": installs, "Agents": agentList, "AgentsByID": agents,
		"Sim": sim, "SimError": simErr, "SimForm": r.PostForm}}, c)
	return nil
}

func (s *Server) createBinding(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	if f.Get("simulate") != "" {
		return s.simulate(w, r, c)
	}
	prio := 0
	if v := strings.TrimSpace(f.Get("priority")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &APIError{Status: 400, Code: "invalid_field", Field: "priority", Message: "must be a whole number"}
		}
		prio = n
	}
	body := map[string]any{
		"installation_id": f.Get("installation_id"), "agent_id": f.Get("agent_id"),
		"selector": selector{Account: strings.TrimSpace(f.Get("account")), Channel: strings.TrimSpace(f.Get("channel")),
			Peer: strings.TrimSpace(f.Get("peer")), Mention: strings.TrimSpace(f.Get("mention"))},
		"persona": strings.TrimSpace(f.Get("persona")), "priority": prio,
	}
	var b binding
	if err := c.api.do(r.Context(), http.MethodPost, "/v1/bindings", body, &b); err != nil {
		return err
	}
	s.redirect(w, r, c, "/orgs/"+seg(r.PathValue("org"))+"/bindings", &flash{Kind: "ok", Message: "Binding " + b.ID + " created (" + b.Selector.String() + ")."})
	return nil
}

// simulate asks the API's binding simulator (through the typed client)
// which bindings an event would match and shows its answer inline; nothing
// is enqueued.
func (s *Server) simulate(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	ev := &client.SimulateEvent{Account: strings.TrimSpace(f.Get("sim_account")), Channel: strings.TrimSpace(f.Get("sim_channel")),
		User: strings.TrimSpace(f.Get("sim_user")), Thread: strings.TrimSpace(f.Get("sim_thread")), Text: strings.TrimSpace(f.Get("sim_text"))}
	if m := strings.TrimSpace(f.Get("sim_mention")); m != "" {
		ev.Mentions = []string{m}
	}
	sim, err := c.api.cl.Simulate(r.Context(), client.SimulateRequest{InstallationID: f.Get("sim_installation_id"), Event: ev})
	var ae *APIError
	if err = apiErr(err); err != nil && !errors.As(err, &ae) {
		return err
	}
	if ae != nil {
		return s.renderBindings(w, r, c, nil, ae)
	}
	return s.renderBindings(w, r, c, &sim, nil)
}

// ---- audit

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	action, actor, target := strings.TrimSpace(q.Get("action")), strings.TrimSpace(q.Get("actor")), strings.TrimSpace(q.Get("target"))
	after := q.Get("after")
	if after == "" {
		after = "0"
	}
	// Filters apply to one API page (up to 1000 events) at a time; "older"
	// and "newer" page through the log.
	var p auditPage
	if err := c.api.get(ctx, "/v1/audit", url.Values{"org_id": {o.ID}, "after": {after}, "limit": {"1000"}}, &p); err != nil {
		return err
	}
	var rows []auditEvent
	actions := map[string]int{}
	for _, e := range p.Items {
		actions[e.Action]++
		if action != "" && !strings.HasPrefix(e.Action, action) {
			continue
		}
		if actor != "" && e.Actor != actor {
			continue
		}
		if target != "" && !strings.Contains(e.Target, target) {
			continue
		}
		rows = append(rows, e)
	}
	// Newest first.
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	next := ""
	if len(p.Items) == 1000 {
		next = strconv.FormatInt(p.NextAfter, 10)
	}
	s.render(w, r, http.StatusOK, "audit", &pageData{Title: "Audit log", Nav: "audit", Org: o, Data: map[string]any{
		"Rows": rows, "Action": action, "Actor": actor, "Target": target, "Actions": actions, "Next": next}}, c)
	return nil
}

// ---- rollout stages (platform admin)

// rolloutState is GET /v1/rollout's view of a provider (platform admin).
type rolloutState struct {
	Provider      string `json:"provider"`
	PreviousStage string `json:"previous_stage"`
	Unset         bool   `json:"unset"`
	Gate          struct {
		Allowed bool     `json:"allowed"`
		Missing []string `json:"missing"`
		MaxAge  string   `json:"max_age"`
	} `json:"promotion_gate"`
}

func (s *Server) stagesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	var st list[stage]
	if err := c.api.get(r.Context(), "/v1/providers", nil, &st); err != nil {
		return err
	}
	sort.Slice(st.Items, func(i, j int) bool { return st.Items[i].Provider < st.Items[j].Provider })
	gates := map[string]rolloutState{}
	if c.sess.kind == "platform" {
		var ro list[rolloutState]
		err := c.api.get(r.Context(), "/v1/rollout", nil, &ro)
		if err != nil && !isNoRoute(err) {
			return err
		}
		for _, x := range ro.Items {
			gates[x.Provider] = x
		}
	}
	s.render(w, r, http.StatusOK, "stages", &pageData{Title: "Rollout stages", Nav: "stages", Data: map[string]any{
		"Stages": st.Items, "Admin": c.sess.kind == "platform", "Gates": gates}}, c)
	return nil
}

// rolloutAction promotes (canary -> on, refused by the API unless its gate
// is green) or rolls back a provider, with the reason the API records.
func (s *Server) rolloutAction(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	p, action := r.PathValue("provider"), r.PathValue("action")
	if action != "promote" && action != "rollback" {
		return &APIError{Status: 404, Code: "not_found", Message: "no rollout action " + action}
	}
	if r.PostForm.Get("confirm") != "yes" {
		return &APIError{Status: 400, Code: "invalid_field", Field: "confirm", Message: "tick the box to confirm the " + action}
	}
	body := map[string]string{"reason": strings.TrimSpace(r.PostForm.Get("reason"))}
	if to := r.PostForm.Get("to"); action == "rollback" && to != "" {
		body["to"] = to
	}
	if err := c.api.do(r.Context(), http.MethodPost, "/v1/rollout/"+seg(p)+"/"+action, body, nil); err != nil {
		return err
	}
	s.redirect(w, r, c, "/stages", &flash{Kind: "ok", Message: providerOf(p).Title + ": " + action + " done."})
	return nil
}

func (s *Server) setStage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	body := map[string]any{"stage": f.Get("stage")}
	if f.Get("stage") == "canary" {
		var orgs []string
		for _, o := range strings.FieldsFunc(f.Get("canary_orgs"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
			orgs = append(orgs, o)
		}
		body["canary_orgs"] = orgs
	}
	p := r.PathValue("provider")
	if err := c.api.do(r.Context(), http.MethodPut, "/v1/providers/"+seg(p)+"/stage", body, nil); err != nil {
		return err
	}
	s.redirect(w, r, c, "/stages", &flash{Kind: "ok", Message: "Stage of " + p + " set to " + f.Get("stage") + "."})
	return nil
}
