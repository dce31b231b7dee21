package client

import (
	"context"
	"net/http"
	"time"
)

// OAuth refusal codes of the callback (400).
const (
	CodeStateMissing    = "state_missing"
	CodeStateInvalid    = "state_invalid"
	CodeStateExpired    = "state_expired"
	CodeStateReplayed   = "state_replayed"
	CodeStateForeign    = "state_foreign"
	CodeCodeMissing     = "code_missing"
	CodeAccessDenied    = "access_denied"
	CodeProviderRefused = "provider_refused"
)

// OAuthClientRequest is an app's OAuth client (the secret is sealed, never
// answered).
type OAuthClientRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// OAuthClient answers PUT /v1/profiles/{id}/oauth: enter RedirectURL at the
// provider.
type OAuthClient struct {
	ProfileID               string `json:"profile_id"`
	ClientID                string `json:"client_id"`
	ClientSecretFingerprint string `json:"client_secret_fingerprint"`
	RedirectURL             string `json:"redirect_url"`
}

// OAuthStart is where to send the user to install the app ("Add to Slack").
type OAuthStart struct {
	AuthorizeURL string    `json:"authorize_url"`
	RedirectURL  string    `json:"redirect_url"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// SetOAuthClient: PUT /v1/profiles/{id}/oauth.
func (c *Client) SetOAuthClient(ctx context.Context, profileID string, r OAuthClientRequest) (OAuthClient, error) {
	var out OAuthClient
	return out, c.Do(ctx, http.MethodPut, "/v1/profiles/"+seg(profileID)+"/oauth", r, &out)
}

// StartOAuth begins an OAuth install of profile's app for org:
// GET /v1/oauth/{provider}/start?profile_id=&org_id=.
func (c *Client) StartOAuth(ctx context.Context, provider, profileID, orgID string) (OAuthStart, error) {
	var out OAuthStart
	return out, c.get(ctx, "/v1/oauth/"+seg(provider)+"/start"+query("profile_id", profileID, "org_id", orgID), &out)
}

// StartConsoleOAuth is StartOAuth for the web console (return=console): the
// callback sends the browser to the console's page of the new installation.
// browserBinding (oauthbinding.Digest of a value the console keeps in the
// starting browser's cookie; "" for none) binds the install to that browser:
// the callback is refused (state_other_browser) from any other.
func (c *Client) StartConsoleOAuth(ctx context.Context, provider, profileID, orgID, browserBinding string) (OAuthStart, error) {
	var out OAuthStart
	return out, c.get(ctx, "/v1/oauth/"+seg(provider)+"/start"+query("profile_id", profileID, "org_id", orgID, "return", "console", "browser_binding", browserBinding), &out)
}

// OAuthCallback is the provider's redirect back with code and state (what
// the user's browser calls; guildID for Discord): GET
// /v1/oauth/{provider}/callback. It answers the installation created.
func (c *Client) OAuthCallback(ctx context.Context, provider, code, state, guildID string) (Installation, error) {
	var out Installation
	return out, c.get(ctx, "/v1/oauth/"+seg(provider)+"/callback"+query("code", code, "state", state, "guild_id", guildID), &out)
}
