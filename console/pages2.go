package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/oauthbinding"
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
	profs, err := c.api.cl.ListProfiles(ctx, "")
	if err != nil {
		return apiErr(err)
	}
	var platform, own []client.Profile
	for _, pr := range profs {
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
			pr, err := c.api.cl.CreateProfile(ctx, client.CreateProfileRequest{OrgID: orgID, Provider: p.Name, Name: name,
				ExternalAppID: strings.TrimSpace(f.Get("external_app_id"))})
			if err != nil {
				return apiErr(err)
			}
			profileID = pr.ID
		}
	default:
		return &APIError{Status: 400, Code: "invalid_field", Field: "mode", Message: "choose the platform's app or your own app"}
	}
	req := client.CreateInstallationRequest{OrgID: orgID, ProfileID: profileID, Provider: p.Name, ExternalID: externalID}
	if len(secretsIn) > 0 {
		req.Secrets = secretsIn
	}
	in, err := c.api.cl.CreateInstallation(ctx, req)
	if err != nil {
		return apiErr(err)
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
	// The install is bound to this browser: the callback completes only
	// where this cookie is (a consent link forwarded elsewhere is refused).
	bindValue, bindDigest := oauthbinding.New()
	st, err := c.api.cl.StartConsoleOAuth(r.Context(), p.Name, profileID, orgID, bindDigest)
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
	ttl := time.Until(st.ExpiresAt) // the state's life; a skewed clock falls back to ten minutes
	if ttl <= 0 || ttl > time.Hour {
		ttl = 10 * time.Minute
	}
	http.SetCookie(w, oauthbinding.Cookie(bindValue, s.secure(r), ttl))
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
func loadInstallation(ctx context.Context, c *reqCtx, orgID, id string) (*client.Installation, error) {
	in, err := c.api.cl.GetInstallation(ctx, id)
	if err != nil {
		return nil, apiErr(err)
	}
	if in.OrgID != orgID {
		return nil, &APIError{Status: 404, Code: "not_found", Message: "installation \"" + id + "\" not found"}
	}
	return &in, nil
}

type installationData struct {
	Inst                       *client.Installation
	P                          providerInfo
	Profile                    *client.Profile
	Stage                      client.Stage
	Refusals                   map[string]int
	Bindings                   []client.Binding
	Agents                     map[string]client.Agent
	Setup                      *client.SetupPacket // the setup packet, when the API serves one
	Live                       live
	Registrable                bool
	Health                     *client.Health // when the user asked for the checks (?checks=1)
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
		h, err := c.api.cl.Health(ctx, in.ID)
		if err != nil {
			return apiErr(err)
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
	if pr, err := c.api.cl.GetProfile(ctx, in.ProfileID); err == nil {
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
	if d.Bindings, err = c.api.cl.ListBindings(ctx, client.BindingFilter{InstallationID: in.ID}); err != nil {
		return apiErr(err)
	}
	d.Agents, err = agentsByID(ctx, c, o.ID)
	if err != nil {
		return err
	}
	if in.RevokedAt == nil {
		pk, err := c.api.cl.InstallationSetup(ctx, in.ID)
		if err = apiErr(err); err == nil {
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

func agentsByID(ctx context.Context, c *reqCtx, orgID string) (map[string]client.Agent, error) {
	as, err := c.api.cl.ListAgents(ctx, orgID)
	if err != nil {
		return nil, apiErr(err)
	}
	m := map[string]client.Agent{}
	for _, a := range as {
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
func liveState(in *client.Installation) live {
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
	out, err := c.api.cl.RotateInstallationSecret(ctx, id, f.Get("purpose"), client.RotateRequest{Value: f.Get("value"), PreviousValidUntil: until})
	if err != nil {
		return apiErr(err)
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(id), &flash{Kind: "ok",
		Message: "Rotated " + out.Purpose + ": new secret " + out.Secret.Fingerprint + "; the previous one stays valid until " + out.PreviousValidUntil.UTC().Format("2006-01-02 15:04 UTC") + "."})
	return nil
}

// rotationDeadline turns the form's date (YYYY-MM-DD, the last day the
// previous secret works) or "now" into the API's previous_valid_until.
func rotationDeadline(v string, now time.Time) (time.Time, error) {
	if v == "now" {
		return now.UTC().Add(time.Second).Truncate(time.Second), nil
	}
	d, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, &APIError{Status: 400, Code: "invalid_field", Field: "previous_valid_until", Message: "give the date until which the previous secret stays valid (YYYY-MM-DD)"}
	}
	end := d.Add(24*time.Hour - time.Second)
	if max := now.UTC().Add(30 * 24 * time.Hour); end.After(max) {
		end = max.Truncate(time.Second)
	}
	return end.UTC(), nil
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
	h := client.Handoff{OwnerAccount: strings.TrimSpace(f.Get("owner_account")), URLsConfigured: lines(f.Get("urls_configured")),
		ScopesApproved: lines(f.Get("scopes_approved")), CanaryChannel: strings.TrimSpace(f.Get("canary_channel")),
		RotationOwner: strings.TrimSpace(f.Get("rotation_owner")), NextRotation: strings.TrimSpace(f.Get("next_rotation"))}
	if v := strings.TrimSpace(f.Get("canary_validated_at")); v != "" {
		t, err := time.Parse("2006-01-02T15:04", v)
		if err != nil {
			return &APIError{Status: 400, Code: "invalid_field", Field: "canary_validated_at", Message: "give the date and time (UTC) of the canary validation"}
		}
		t = t.UTC()
		h.CanaryValidatedAt = &t
	}
	if _, err := c.api.cl.SetHandoff(r.Context(), id, h); err != nil {
		return apiErr(err)
	}
	s.redirect(w, r, c, "/orgs/"+seg(orgID)+"/installations/"+seg(id)+"#h-handoff", &flash{Kind: "ok", Message: "Handoff record saved."})
	return nil
}

// ---- revoke (installations, agents, bindings), each confirmed

// revocable is what the confirm page shows of an object to revoke: its
// organisation and a label (name or external id).
type revocable struct{ OrgID, Label string }

// lookupRevocable loads an installation, agent or binding through the typed
// client.
func lookupRevocable(ctx context.Context, cl *client.Client, kind, id string) (revocable, error) {
	switch kind {
	case "installation":
		in, err := cl.GetInstallation(ctx, id)
		return revocable{in.OrgID, in.ExternalID}, err
	case "agent":
		a, err := cl.GetAgent(ctx, id)
		return revocable{a.OrgID, a.Name}, err
	case "binding":
		b, err := cl.GetBinding(ctx, id)
		return revocable{b.OrgID, b.Selector.String()}, err
	}
	return revocable{}, fmt.Errorf("console: nothing revocable of kind %q", kind)
}

// revokeObject revokes an installation, agent or binding through the typed client.
func revokeObject(ctx context.Context, cl *client.Client, kind, id string) error {
	var err error
	switch kind {
	case "installation":
		_, err = cl.RevokeInstallation(ctx, id)
	case "agent":
		_, err = cl.RevokeAgent(ctx, id)
	case "binding":
		_, err = cl.RevokeBinding(ctx, id)
	default:
		err = fmt.Errorf("console: nothing revocable of kind %q", kind)
	}
	return err
}

func (s *Server) confirmRevoke(kind string) func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		ctx := r.Context()
		o, err := loadOrg(ctx, c, r.PathValue("org"))
		if err != nil {
			return err
		}
		obj, err := lookupRevocable(ctx, c.api.cl, kind, r.PathValue("id"))
		if err != nil {
			return apiErr(err)
		}
		if obj.OrgID != o.ID {
			return &APIError{Status: 404, Code: "not_found", Message: kind + " \"" + r.PathValue("id") + "\" not found"}
		}
		s.render(w, r, http.StatusOK, "confirm", &pageData{Title: "Revoke " + kind, Org: o, Data: map[string]any{
			"Kind": kind, "ID": r.PathValue("id"), "Label": obj.Label, "Action": r.URL.Path}}, c)
		return nil
	}
}

func (s *Server) revoke(kind string) func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		orgID, id := r.PathValue("org"), r.PathValue("id")
		if r.PostForm.Get("confirm") != "yes" {
			return &APIError{Status: 400, Code: "invalid_field", Field: "confirm", Message: "revoking needs confirmation"}
		}
		if err := revokeObject(r.Context(), c.api.cl, kind, id); err != nil {
			return apiErr(err)
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
	as, err := c.api.cl.ListAgents(ctx, o.ID)
	if err != nil {
		return apiErr(err)
	}
	s.render(w, r, http.StatusOK, "agents", &pageData{Title: "Agents", Nav: "agents", Org: o, Data: map[string]any{"Agents": as}}, c)
	return nil
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	orgID := r.PathValue("org")
	f := r.PostForm
	req := client.CreateAgentRequest{OrgID: f.Get("org_id"), Name: strings.TrimSpace(f.Get("name")), URL: strings.TrimSpace(f.Get("url")),
		SigningSecret: strings.TrimSpace(f.Get("signing_secret"))}
	if req.OrgID == "" {
		req.OrgID = orgID
	}
	a, err := c.api.cl.CreateAgent(r.Context(), req)
	if err != nil {
		return apiErr(err)
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
	bs, err := c.api.cl.ListBindings(ctx, client.BindingFilter{OrgID: o.ID})
	if err != nil {
		return apiErr(err)
	}
	insts, err := c.api.cl.ListInstallations(ctx, o.ID)
	if err != nil {
		return apiErr(err)
	}
	agents, err := agentsByID(ctx, c, o.ID)
	if err != nil {
		return err
	}
	var agentList []client.Agent
	for _, a := range agents {
		if a.RevokedAt == nil {
			agentList = append(agentList, a)
		}
	}
	sort.Slice(agentList, func(i, j int) bool { return agentList[i].Name < agentList[j].Name })
	installs := map[string]client.Installation{}
	var live []client.Installation
	for _, in := range insts {
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
		"Bindings": bs, "Installations": live, "ByID": installs, "Agents": agentList, "AgentsByID": agents,
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
	b, err := c.api.cl.CreateBinding(r.Context(), client.CreateBindingRequest{
		InstallationID: f.Get("installation_id"), AgentID: f.Get("agent_id"),
		Selector: client.Selector{Account: strings.TrimSpace(f.Get("account")), Channel: strings.TrimSpace(f.Get("channel")),
			Peer: strings.TrimSpace(f.Get("peer")), Mention: strings.TrimSpace(f.Get("mention"))},
		Persona: strings.TrimSpace(f.Get("persona")), Priority: prio,
	})
	if err != nil {
		return apiErr(err)
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
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return &APIError{Status: 400, Code: "invalid_field", Field: "after", Message: "must be an audit event id (a whole number, 0 or more)"}
		}
		after = n
	}
	// Filters apply to one API page (up to 1000 events) at a time; "older"
	// and "newer" page through the log.
	p, err := c.api.cl.Audit(ctx, client.AuditQuery{OrgID: o.ID, After: after, Limit: 1000})
	if err != nil {
		return apiErr(err)
	}
	var rows []client.AuditEvent
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

func (s *Server) stagesPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	st, err := c.api.cl.ListStages(r.Context())
	if err != nil {
		return apiErr(err)
	}
	sort.Slice(st, func(i, j int) bool { return st[i].Provider < st[j].Provider })
	gates := map[string]client.Rollout{}
	if c.sess.kind == "platform" {
		ro, err := c.api.cl.ListRollout(r.Context())
		if err = apiErr(err); err != nil && !isNoRoute(err) {
			return err
		}
		for _, x := range ro {
			gates[x.Provider] = x
		}
	}
	s.render(w, r, http.StatusOK, "stages", &pageData{Title: "Rollout stages", Nav: "stages", Data: map[string]any{
		"Stages": st, "Admin": c.sess.kind == "platform", "Gates": gates}}, c)
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
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var err error
	if action == "promote" {
		_, err = c.api.cl.Promote(r.Context(), p, client.PromoteRequest{Reason: reason})
	} else {
		_, err = c.api.cl.Rollback(r.Context(), p, client.RollbackRequest{Reason: reason, To: r.PostForm.Get("to")})
	}
	if err != nil {
		return apiErr(err)
	}
	s.redirect(w, r, c, "/stages", &flash{Kind: "ok", Message: providerOf(p).Title + ": " + action + " done."})
	return nil
}

func (s *Server) setStage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f := r.PostForm
	req := client.SetStageRequest{Stage: f.Get("stage")}
	if req.Stage == "canary" {
		req.CanaryOrgs = strings.FieldsFunc(f.Get("canary_orgs"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
	}
	p := r.PathValue("provider")
	if _, err := c.api.cl.SetStage(r.Context(), p, req); err != nil {
		return apiErr(err)
	}
	s.redirect(w, r, c, "/stages", &flash{Kind: "ok", Message: "Stage of " + p + " set to " + f.Get("stage") + "."})
	return nil
}
