package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/oauthbinding"
	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/store"
)

// OAuth installs ("Add to Slack", Discord bot authorisation), for the
// platform's app (a platform profile) and for an org's own app (its
// profile), both with the client id and secret stored on the profile.
//
// GET /v1/oauth/{provider}/start (bearer token) answers the provider's
// authorize URL with a state that is signed (HMAC-SHA256 under a key derived
// from the primary master key), expires after StateTTL, names the provider,
// profile, org and the token that started it, and is single use (its nonce
// is recorded when the callback arrives). The callback is called by the
// user's browser, without a bearer token: everything it trusts comes from
// the state, and the starting token must still be valid for the org.

// StateTTL is how long an OAuth state is accepted.
const StateTTL = 10 * time.Minute

// OAuth callback refusal reasons (the "code" of the error answer).
const (
	OAuthStateMissing   = "state_missing"
	OAuthStateInvalid   = "state_invalid"       // not a state this server signed
	OAuthStateExpired   = "state_expired"       //
	OAuthStateReplayed  = "state_replayed"      // used before
	OAuthStateForeign   = "state_foreign"       // another provider, or the starting token / org / profile no longer fits
	OAuthOtherBrowser   = "state_other_browser" // the state is bound to the browser that started the install, and this is another one
	OAuthCodeMissing    = "code_missing"
	OAuthDenied         = "access_denied" // the user declined at the provider
	OAuthProviderRefuse = "provider_refused"
)

type oauthState struct {
	V        int    `json:"v"`
	Provider string `json:"p"`
	Profile  string `json:"pr"`
	Org      string `json:"o"`
	Token    string `json:"t"`
	Nonce    string `json:"n"`
	Expires  int64  `json:"e"`
	// Console: the web console started the install; the callback sends the
	// browser to the console's page of the new installation.
	Console bool `json:"c,omitempty"`
	// Browser: the digest of the starting browser's binding cookie
	// (oauthbinding); the callback must come from a browser holding it.
	Browser string `json:"b,omitempty"`
}

// stateKeyer is implemented by *secrets.Keyring.
type stateKeyer interface{ StateKey() []byte }

func (s *Server) stateKey() ([]byte, error) {
	if k, ok := s.keys.(stateKeyer); ok {
		if key := k.StateKey(); len(key) >= 32 {
			return key, nil
		}
	}
	return nil, errors.New("the keyring derives no OAuth state key")
}

func (s *Server) signState(st oauthState) (string, error) {
	key, err := s.stateKey()
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(js)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("oauth-state\x00" + payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

func (s *Server) openState(raw string) (oauthState, error) {
	var st oauthState
	key, err := s.stateKey()
	if err != nil {
		return st, err
	}
	payload, mac, ok := strings.Cut(raw, ".")
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err != nil || len(raw) > 2048 {
		return st, errors.New(OAuthStateInvalid)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("oauth-state\x00" + payload))
	if !hmac.Equal(got, m.Sum(nil)) {
		return st, errors.New(OAuthStateInvalid)
	}
	js, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(js, &st) != nil || st.V != 1 {
		return st, errors.New(OAuthStateInvalid)
	}
	return st, nil
}

func oauthProvider(p string) bool { return p == "slack" || p == "discord" }

// putOAuthClient stores a profile's OAuth client id and (sealed) client secret.
func (s *Server) putOAuthClient(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkToken("client_id", req.ClientID, 128, false); err != nil {
		return err
	}
	if msg := opaque(256)(req.ClientSecret); msg != "" {
		return fieldErr("client_secret", "%s", msg)
	}
	ctx := r.Context()
	now := s.now().UTC()
	id := r.PathValue("id")
	var fp, provider string
	err := s.tx(ctx, func(q store.Queries) error {
		pr, err := visibleProfile(ctx, q, p, id)
		provider = pr.Provider
		if err != nil {
			return err
		}
		if pr.OwnerOrgID == store.OwnerPlatform && p.Kind != store.TokenPlatform {
			return forbidden("only the platform admin configures the platform app's OAuth client")
		}
		if pr.RevokedAt != nil {
			return conflict("profile %s is revoked", pr.ID)
		}
		if !oauthProvider(pr.Provider) {
			return conflict("%s has no OAuth install in Switchboard (slack and discord do)", pr.Provider)
		}
		sr, err := setupRecords(q)
		if err != nil {
			return err
		}
		if err := sr.PutOAuthClient(ctx, store.OAuthClient{ProfileID: pr.ID, ClientID: req.ClientID, UpdatedAt: now}); err != nil {
			return storeErr(err, "put oauth client")
		}
		// The new client secret replaces the old one now (it is the API's own
		// credential at the provider, not something the edge verifies with).
		if err := q.ExpireSecrets(ctx, store.OwnerProfile, pr.ID, store.PurposeClientSecret, now); err != nil {
			return storeErr(err, "expire client secret")
		}
		fps, err := s.createSecrets(ctx, q, store.OwnerProfile, pr.ID, []string{store.PurposeClientSecret}, map[string]string{store.PurposeClientSecret: req.ClientSecret}, now)
		if err != nil {
			return err
		}
		fp = fps[store.PurposeClientSecret]
		return s.audit(ctx, q, p.TokenID, pr.OwnerOrgID, "profile.oauth", pr.ID, map[string]any{"client_id": req.ClientID, "client_secret": fp})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"profile_id": id, "client_id": req.ClientID, "client_secret_fingerprint": fp,
		"redirect_url": s.oauthRedirect(provider, id)})
	return nil
}

func (s *Server) oauthRedirect(provider, _ string) string {
	base := s.apiURL
	if base == "" {
		base = "https://<API_URL>"
	}
	return base + "/v1/oauth/" + provider + "/callback"
}

// oauthClient loads a profile's client id and opens its client secret.
func (s *Server) oauthClient(ctx context.Context, pr store.AppProfile) (string, string, error) {
	sr, err := setupRecords(s.store)
	if err != nil {
		return "", "", err
	}
	c, err := sr.GetOAuthClient(ctx, pr.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", conflict("profile %s has no OAuth client: PUT /v1/profiles/%s/oauth {\"client_id\",\"client_secret\"}", pr.ID, pr.ID)
	}
	if err != nil {
		return "", "", fmt.Errorf("load oauth client: %w", err)
	}
	ss, err := s.store.ListSecrets(ctx, store.OwnerProfile, pr.ID)
	if err != nil {
		return "", "", fmt.Errorf("list secrets: %w", err)
	}
	sec := currentSecret(ss, store.PurposeClientSecret, s.now())
	if sec == nil {
		return "", "", conflict("profile %s has no client secret: PUT /v1/profiles/%s/oauth", pr.ID, pr.ID)
	}
	op, ok := s.keys.(Opener)
	if !ok {
		return "", "", errors.New("the API's keyring cannot open secrets")
	}
	pt, err := op.Open(sec.KeyID, sec.Ciphertext, sec.ID)
	if err != nil {
		return "", "", fmt.Errorf("open client secret: %w", err)
	}
	return c.ClientID, string(pt), nil
}

// oauthStart answers the provider's authorize URL for installing profile
// profile_id into org org_id (a 302 to it with ?redirect=1). With
// ?return=console the callback answers the browser with a 303 to the web
// console's page of the new installation instead of its JSON.
func (s *Server) oauthStart(w http.ResponseWriter, r *http.Request, p principal) error {
	provider := r.PathValue("provider")
	if !oauthProvider(provider) {
		return notFound("oauth provider", provider)
	}
	ctx := r.Context()
	q := r.URL.Query()
	org, err := activeOrg(ctx, s.store, p, q.Get("org_id"), "org_id")
	if err != nil {
		return err
	}
	pr, err := visibleProfile(ctx, s.store, p, q.Get("profile_id"))
	if err != nil {
		return withField(err, "profile_id")
	}
	if pr.Provider != provider {
		return fieldErr("profile_id", "profile %s is a %s profile, not %s", pr.ID, pr.Provider, provider)
	}
	if pr.OwnerOrgID != store.OwnerPlatform && pr.OwnerOrgID != org.ID {
		return fieldErr("profile_id", "profile %s belongs to another organisation", pr.ID)
	}
	if pr.RevokedAt != nil {
		return conflict("profile %s is revoked", pr.ID)
	}
	if s.apiURL == "" {
		return conflict("serve runs without --api-public-url: the provider needs the API's public callback URL")
	}
	clientID, _, err := s.oauthClient(ctx, pr)
	if err != nil {
		return err
	}
	binding := q.Get("browser_binding")
	if binding != "" {
		if err := oauthbinding.Valid(binding); err != nil {
			return fieldErr("browser_binding", "%v", err)
		}
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	exp := s.now().Add(StateTTL)
	state, err := s.signState(oauthState{V: 1, Provider: provider, Profile: pr.ID, Org: org.ID, Token: p.TokenID,
		Nonce: base64.RawURLEncoding.EncodeToString(nonce), Expires: exp.Unix(), Console: q.Get("return") == "console", Browser: binding})
	if err != nil {
		return err
	}
	redirect := s.oauthRedirect(provider, pr.ID)
	var authorize string
	switch provider {
	case "slack":
		authorize = slack.AuthorizeURLAt(s.providerAPIs.Authorize["slack"], clientID, redirect, state)
	case "discord":
		authorize = discord.InviteURL(clientID, redirect, state)
	}
	if q.Get("redirect") == "1" {
		http.Redirect(w, r, authorize, http.StatusFound)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"authorize_url": authorize, "redirect_url": redirect, "expires_at": exp.UTC()})
	return nil
}

func oauthRefusal(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// oauthCallback is where the provider sends the user's browser back. It is
// not authenticated: the signed state says who started the install.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	inst, err := s.oauthComplete(r)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			s.log.Warn("oauth install refused", "provider", r.PathValue("provider"), "reason", ae.Code, "detail", ae.Message)
		}
		s.writeError(w, r, err)
		return
	}
	// The state was verified by oauthComplete; it says whether the console
	// started the flow (the console is served on the API's origin, at /).
	st, err := s.openState(r.URL.Query().Get("state"))
	if err == nil && st.Browser != "" {
		http.SetCookie(w, oauthbinding.Clear(st.Browser, r.TLS != nil || strings.HasPrefix(s.apiURL, "https://")))
	}
	if err == nil && st.Console {
		http.Redirect(w, r, "/orgs/"+url.PathEscape(inst.OrgID)+"/installations/"+url.PathEscape(inst.ID), http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, inst)
}

func (s *Server) oauthComplete(r *http.Request) (installationView, error) {
	provider := r.PathValue("provider")
	ctx := r.Context()
	q := r.URL.Query()
	if !oauthProvider(provider) {
		return installationView{}, notFound("oauth provider", provider)
	}
	raw := q.Get("state")
	if raw == "" {
		return installationView{}, oauthRefusal(400, OAuthStateMissing, "the callback carries no state")
	}
	st, err := s.openState(raw)
	if err != nil {
		if err.Error() == OAuthStateInvalid {
			return installationView{}, oauthRefusal(400, OAuthStateInvalid, "the state was not issued by this server")
		}
		return installationView{}, err
	}
	now := s.now()
	if st.Provider != provider {
		return installationView{}, oauthRefusal(400, OAuthStateForeign, "the state was issued for %s, not %s", st.Provider, provider)
	}
	if now.Unix() > st.Expires {
		return installationView{}, oauthRefusal(400, OAuthStateExpired, "the state expired at %s: start again", time.Unix(st.Expires, 0).UTC().Format(time.RFC3339))
	}
	// Checked before anything uses the state: a forwarded link refused here
	// leaves the starter's own flow intact.
	if st.Browser != "" && !oauthbinding.Check(r, st.Browser) {
		return installationView{}, oauthRefusal(400, OAuthOtherBrowser, "this install was started in another browser: open the provider's link in the browser (and console session) that started it, or start again here")
	}
	// The token that started the install must still be valid for the org.
	tok, err := s.store.GetToken(ctx, st.Token)
	if err != nil || tok.RevokedAt != nil || (tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt)) {
		return installationView{}, oauthRefusal(400, OAuthStateForeign, "the token that started this install is no longer valid")
	}
	p := principal{TokenID: tok.ID, Kind: tok.Kind, SubjectID: tok.SubjectID}
	org, err := activeOrg(ctx, s.store, p, st.Org, "org_id")
	if err != nil {
		return installationView{}, oauthRefusal(400, OAuthStateForeign, "the organisation of this install is not in the starting token's scope (or is revoked)")
	}
	pr, err := visibleProfile(ctx, s.store, p, st.Profile)
	if err != nil || pr.RevokedAt != nil || pr.Provider != provider || (pr.OwnerOrgID != store.OwnerPlatform && pr.OwnerOrgID != org.ID) {
		return installationView{}, oauthRefusal(400, OAuthStateForeign, "the profile of this install is gone, revoked or not the organisation's")
	}
	if e := q.Get("error"); e != "" {
		// A declined install uses up nothing: the same state may not come back with a code.
		s.useState(ctx, st, now)
		return installationView{}, oauthRefusal(400, OAuthDenied, "%s answered %s", provider, clipText(e))
	}
	code := q.Get("code")
	if code == "" {
		return installationView{}, oauthRefusal(400, OAuthCodeMissing, "the callback carries no code")
	}
	// Single use: recorded before the code is exchanged, so two concurrent
	// callbacks with one state cannot both install.
	sr, err := setupRecords(s.store)
	if err != nil {
		return installationView{}, err
	}
	if err := sr.UseOAuthState(ctx, st.Nonce, now.UTC(), time.Unix(st.Expires, 0).UTC()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return installationView{}, oauthRefusal(400, OAuthStateReplayed, "this state was used already: start again")
		}
		return installationView{}, fmt.Errorf("use oauth state: %w", err)
	}
	clientID, clientSecret, err := s.oauthClient(ctx, pr)
	if err != nil {
		return installationView{}, err
	}
	redirect := s.oauthRedirect(provider, pr.ID)
	cctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	var externalID, botToken string
	detail := map[string]any{"via": "oauth", "provider": provider, "profile_id": pr.ID}
	switch provider {
	case "slack":
		got, err := slack.Exchange(cctx, s.providerAPIs.Base["slack"], s.providerAPIs.HTTP, clientID, clientSecret, code, redirect)
		if err != nil {
			var oe *slack.OAuthError
			if errors.As(err, &oe) {
				return installationView{}, oauthRefusal(400, OAuthProviderRefuse, "Slack refused the code: %s", oe.Code)
			}
			return installationView{}, &apiError{Status: http.StatusBadGateway, Code: CodeProviderUnreachable, Message: err.Error()}
		}
		if pr.ExternalAppID != "" && got.AppID != "" && got.AppID != pr.ExternalAppID {
			return installationView{}, oauthRefusal(400, OAuthStateForeign, "Slack installed app %s, the profile is app %s", got.AppID, pr.ExternalAppID)
		}
		externalID, botToken = got.TeamID, got.BotToken
		detail["team_id"], detail["team"], detail["scopes"] = got.TeamID, got.TeamName, got.Scopes
	case "discord":
		if g := q.Get("guild_id"); g == "" {
			return installationView{}, oauthRefusal(400, OAuthCodeMissing, "the callback carries no guild_id (the bot scope was not granted)")
		}
		got, err := discord.Exchange(cctx, s.providerAPIs.Base["discord"], s.providerAPIs.HTTP, clientID, clientSecret, code, redirect)
		if err != nil {
			var oe *discord.OAuthError
			if errors.As(err, &oe) {
				return installationView{}, oauthRefusal(400, OAuthProviderRefuse, "Discord refused the code: %s %s", oe.Code, oe.Description)
			}
			return installationView{}, &apiError{Status: http.StatusBadGateway, Code: CodeProviderUnreachable, Message: err.Error()}
		}
		if got.GuildID != q.Get("guild_id") {
			return installationView{}, oauthRefusal(400, OAuthStateForeign, "the token answer names guild %s, the callback %s", got.GuildID, clipText(q.Get("guild_id")))
		}
		externalID = got.GuildID
		detail["guild_id"], detail["guild"] = got.GuildID, got.GuildName
	}
	return s.oauthInstall(ctx, p, org, pr, externalID, botToken, detail)
}

// oauthInstall creates the installation (or gives an existing one of the
// same workspace its new bot token), audited, in one transaction.
func (s *Server) oauthInstall(ctx context.Context, p principal, org store.Org, pr store.AppProfile, externalID, botToken string, detail map[string]any) (installationView, error) {
	if err := checkToken("external_id", externalID, 256, false); err != nil {
		return installationView{}, err
	}
	now := s.now().UTC()
	var view installationView
	err := s.tx(ctx, func(q store.Queries) error {
		if pr.OwnerOrgID != store.OwnerPlatform {
			need := requiredVerifySecret[pr.Provider]
			has, err := hasLiveSecret(ctx, q, store.OwnerProfile, pr.ID, need, now)
			if err != nil {
				return err
			}
			if !has {
				return conflict("profile %s has no %s secret: the edge could not verify this workspace's requests; store it on the profile first", pr.ID, need)
			}
		}
		inst, err := q.FindInstallation(ctx, pr.ID, externalID)
		action := "installation.create"
		switch {
		case err == nil && inst.OrgID != org.ID:
			return conflict("%s %s is installed for another organisation", pr.Provider, externalID)
		case err == nil:
			action = "installation.oauth_reinstall"
		case errors.Is(err, store.ErrNotFound):
			inst = store.Installation{ID: newID("inst"), OrgID: org.ID, ProfileID: pr.ID, Provider: pr.Provider, ExternalID: externalID,
				IngressID: newIngressID(), CreatedAt: now}
			if err := q.CreateInstallation(ctx, inst); err != nil {
				return storeErr(err, "create installation")
			}
		default:
			return fmt.Errorf("find installation: %w", err)
		}
		if botToken != "" {
			if err := q.ExpireSecrets(ctx, store.OwnerInstallation, inst.ID, store.PurposeBotToken, now); err != nil {
				return storeErr(err, "expire bot token")
			}
			fps, err := s.createSecrets(ctx, q, store.OwnerInstallation, inst.ID, []string{store.PurposeBotToken}, map[string]string{store.PurposeBotToken: botToken}, now)
			if err != nil {
				return err
			}
			detail["secrets"] = fps
		}
		detail["external_id"], detail["ingress_id"] = externalID, inst.IngressID
		if err := s.audit(ctx, q, p.TokenID, org.ID, action, inst.ID, detail); err != nil {
			return err
		}
		view, err = s.viewInstallation(ctx, q, inst)
		return err
	})
	return view, err
}

// useState records a state as used (best effort: a declined install).
func (s *Server) useState(ctx context.Context, st oauthState, now time.Time) {
	if sr, err := setupRecords(s.store); err == nil {
		_ = sr.UseOAuthState(ctx, st.Nonce, now.UTC(), time.Unix(st.Expires, 0).UTC())
	}
}

func clipText(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
