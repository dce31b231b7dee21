package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// BotAuthorization is what Discord's token endpoint answers for a bot
// authorisation (scope bot): the guild the bot was added to.
type BotAuthorization struct {
	GuildID   string
	GuildName string
	Scope     string
}

// OAuthError is Discord's refusal of a code exchange.
type OAuthError struct{ Code, Description string }

func (e *OAuthError) Error() string {
	return "discord oauth2/token: " + e.Code + ": " + e.Description
}

// Exchange trades the code of a bot authorisation for its token answer
// (POST /api/v10/oauth2/token, grant_type authorization_code, client
// credentials as HTTP Basic auth) and returns the guild. No error carries
// the client secret or the code, even when the answer echoes them. The access token
// is not kept: the bot acts with the application's bot token.
func Exchange(ctx context.Context, base string, hc *http.Client, clientID, clientSecret, code, redirect string) (BotAuthorization, error) {
	redact := redacter(clientSecret, code)
	api := httpsend.NewAPI(base, DefaultAPIBase, hc)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	r, _ := http.NewRequest(http.MethodPost, "http://x", nil)
	r.SetBasicAuth(clientID, clientSecret)
	ans, err := api.Post(ctx, "/api/v10/oauth2/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {r.Header.Get("Authorization")}}, []byte(form.Encode()))
	if err != nil {
		return BotAuthorization{}, fmt.Errorf("discord oauth2/token: %s", redact.Replace(err.Error()))
	}
	var a struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Scope       string `json:"scope"`
		Guild       struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"guild"`
	}
	if err := json.Unmarshal(ans.Body, &a); err != nil {
		return BotAuthorization{}, fmt.Errorf("discord oauth2/token: answer %d is not Discord's JSON", ans.Status)
	}
	if ans.Status/100 != 2 || a.Error != "" {
		return BotAuthorization{}, &OAuthError{Code: redact.Replace(a.Error), Description: redact.Replace(a.Description)}
	}
	if a.Guild.ID == "" {
		return BotAuthorization{}, &OAuthError{Code: "no_guild", Description: "the answer names no guild (was the bot scope granted?)"}
	}
	return BotAuthorization{GuildID: a.Guild.ID, GuildName: a.Guild.Name, Scope: a.Scope}, nil
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
