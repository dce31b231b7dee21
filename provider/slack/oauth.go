package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// AuthorizeURL is the "Add to Slack" URL of an app: Slack asks the user to
// approve BotScopes and sends them to redirect with a code and state.
func AuthorizeURL(clientID, redirect, state string) string {
	return AuthorizeURLAt("", clientID, redirect, state)
}

// AuthorizeURLAt is AuthorizeURL on the consent page of origin base ("" =
// https://slack.com), for a fake Slack in tests.
func AuthorizeURLAt(base, clientID, redirect, state string) string {
	if base == "" {
		base = DefaultAPIBase
	}
	q := url.Values{"client_id": {clientID}, "scope": {strings.Join(BotScopes, ",")}, "redirect_uri": {redirect}, "state": {state}}
	return strings.TrimRight(base, "/") + "/oauth/v2/authorize?" + q.Encode()
}

// OAuthInstall is what oauth.v2.access answers for a bot install.
type OAuthInstall struct {
	BotToken  string
	TeamID    string
	TeamName  string
	AppID     string
	BotUserID string
	Scopes    []string
}

// OAuthError is Slack's refusal of a code exchange (its error string).
type OAuthError struct{ Code string }

func (e *OAuthError) Error() string { return "slack oauth.v2.access: " + e.Code }

// Exchange trades an OAuth code for the bot token with oauth.v2.access
// (client id and secret as HTTP Basic auth). No error carries a secret:
// the client secret and the code are redacted from every text of the
// answer an error repeats.
func Exchange(ctx context.Context, base string, hc *http.Client, clientID, clientSecret, code, redirect string) (OAuthInstall, error) {
	redact := redacter(clientSecret, code)
	api := httpsend.NewAPI(base, DefaultAPIBase, hc)
	form := url.Values{"code": {code}, "redirect_uri": {redirect}}
	req := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	r, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	r.SetBasicAuth(clientID, clientSecret)
	req.Set("Authorization", r.Header.Get("Authorization"))
	ans, err := api.Post(ctx, "/api/oauth.v2.access", req, []byte(form.Encode()))
	if err != nil {
		return OAuthInstall{}, fmt.Errorf("slack oauth.v2.access: %s", redact.Replace(err.Error()))
	}
	var a struct {
		OK          bool   `json:"ok"`
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
		BotUserID   string `json:"bot_user_id"`
		AppID       string `json:"app_id"`
		Team        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"team"`
	}
	if err := json.Unmarshal(ans.Body, &a); err != nil {
		return OAuthInstall{}, fmt.Errorf("slack oauth.v2.access: answer %d is not Slack's JSON", ans.Status)
	}
	if !a.OK {
		return OAuthInstall{}, &OAuthError{Code: redact.Replace(a.Error)}
	}
	if a.TokenType != "bot" || !strings.HasPrefix(a.AccessToken, "xoxb-") || a.Team.ID == "" {
		return OAuthInstall{}, &OAuthError{Code: "answer without a bot token or team (token_type " + redact.Replace(a.TokenType) + ")"}
	}
	var scopes []string
	for _, s := range strings.Split(a.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	return OAuthInstall{BotToken: a.AccessToken, TeamID: a.Team.ID, TeamName: a.Team.Name, AppID: a.AppID, BotUserID: a.BotUserID, Scopes: scopes}, nil
}

// redacter replaces each of secrets (4 characters or more) with <redacted>.
func redacter(secrets ...string) *strings.Replacer {
	var pairs []string
	for _, v := range secrets {
		if len(v) >= 4 {
			pairs = append(pairs, v, "<redacted>")
		}
	}
	return strings.NewReplacer(pairs...)
}
