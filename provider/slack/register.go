package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/store"
)

func init() {
	registration.Add(Name, registration.Provider{Needs: []string{store.PurposeBotToken}, Register: AuthTest, Check: AuthTest})
}

// AuthTest calls auth.test with the installation's bot token and records
// the team, the bot user and the granted scopes (the x-oauth-scopes
// header); scopes of BotScopes the token lacks are listed as missing, and a
// team other than the installation's external id is a mismatch. Slack has
// no API to set an app's request URLs: the manifest carries them.
func AuthTest(ctx context.Context, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: Name, Info: map[string]any{}}
	token, err := r.Need(store.PurposeBotToken, "auth.test is called with the bot token")
	if err != nil {
		return res, err
	}
	api := httpsend.NewAPI(r.Base, DefaultAPIBase, r.HTTP)
	ans, err := api.Post(ctx, "/api/auth.test", http.Header{"Authorization": {"Bearer " + token},
		"Content-Type": {"application/x-www-form-urlencoded"}}, []byte{})
	if err != nil {
		return res, fmt.Errorf("slack auth.test: %s", r.Redact(err.Error()))
	}
	var a struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		URL    string `json:"url"`
		Team   string `json:"team"`
		User   string `json:"user"`
		TeamID string `json:"team_id"`
		UserID string `json:"user_id"`
		BotID  string `json:"bot_id"`
	}
	if err := json.Unmarshal(ans.Body, &a); err != nil {
		return res, fmt.Errorf("slack auth.test: answer %d is not Slack's JSON", ans.Status)
	}
	if !a.OK {
		res.Add("auth.test", false, r.Redact(a.Error))
		res.Fix = "Slack refused the bot token (" + r.Redact(a.Error) + "): reinstall the app and store the new Bot User OAuth Token"
		return res, nil
	}
	if a.TeamID == "" {
		return res, fmt.Errorf("slack auth.test: answer %d is ok but names no team_id", ans.Status)
	}
	// Every text taken from the answer is redacted: an answer that echoes
	// the token must not carry it into the report.
	a.URL, a.Team, a.User, a.TeamID, a.UserID, a.BotID = r.Redact(a.URL), r.Redact(a.Team), r.Redact(a.User), r.Redact(a.TeamID), r.Redact(a.UserID), r.Redact(a.BotID)
	var granted []string
	for _, s := range strings.Split(ans.Header.Get("X-OAuth-Scopes"), ",") {
		if s = strings.TrimSpace(r.Redact(s)); s != "" {
			granted = append(granted, s)
		}
	}
	missing := []string{}
	for _, s := range BotScopes {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	res.Info = map[string]any{"team": a.Team, "team_id": a.TeamID, "url": a.URL, "bot_user": a.User, "bot_user_id": a.UserID,
		"bot_id": a.BotID, "scopes": granted, "missing_scopes": missing}
	res.Add("auth.test", true, fmt.Sprintf("team %s (%s), bot user %s", a.Team, a.TeamID, a.User))
	if r.ExternalID != "" && a.TeamID != r.ExternalID {
		res.Add("team", false, fmt.Sprintf("the token is for team %s, the installation is %s", a.TeamID, r.ExternalID))
		res.Fix = "store the bot token of workspace " + r.ExternalID + ", or connect team " + a.TeamID + " as its own installation"
	}
	if len(missing) > 0 {
		res.Add("scopes", false, "missing scopes: "+strings.Join(missing, ", "))
		res.Fix = "add the missing scopes (OAuth & Permissions → Scopes, or the manifest) and reinstall the app, then store the new bot token"
	} else {
		res.Add("scopes", true, "every scope of the manifest is granted")
	}
	return res, nil
}
