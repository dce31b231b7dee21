package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/console"
	"github.com/switchboard-dev/switchboard/provider/slack/slacktest"
)

// TestConsoleAddToSlackInBrowser: an org owner clicks "Add to Slack" for the
// platform's app, follows the link to (fake) Slack's consent page, allows,
// and Slack's redirect to the API's callback lands on the console's page of
// the new installation. Under the console's CSP (form-action 'self') the
// form's answer must not redirect to Slack's origin: Chromium blocks that.
func TestConsoleAddToSlackInBrowser(t *testing.T) {
	slack := slacktest.New()
	defer slack.Close()
	slack.TeamID = "T0OAUTH"
	e := newEnvAPI(t, console.Config{}, func(base string, c *api.Config) {
		c.APIURL = base
		slack.RedirectURI = base + "/v1/oauth/slack/callback"
		c.ProviderAPIs = api.ProviderAPIs{Base: map[string]string{"slack": slack.URL}, Authorize: map[string]string{"slack": slack.URL}}
	})
	prof := e.must(e.admin, "POST", "/v1/profiles", map[string]any{"provider": "slack", "name": "Platform Slack", "external_app_id": slack.AppID,
		"secrets": map[string]string{"signing": "0123456789abcdef0123456789abcdef"}}, 201)["id"].(string)
	e.must(e.admin, "PUT", "/v1/profiles/"+prof+"/oauth", map[string]any{"client_id": slack.ClientID, "client_secret": slack.ClientSecret}, 200)

	b := newBrowser(t, e)
	b.signIn(e.tokA)
	b.nav("/orgs/" + e.orgA + "/connect/slack")
	b.submit("#form-platform button.oauth")
	if h := b.text("h1"); h != "Add to Slack" {
		t.Fatalf("after Add to Slack: page %q at %s", h, b.path())
	}
	href, _ := b.eval(`document.querySelector("#oauth-authorize").href`).(string)
	if !strings.HasPrefix(href, slack.URL+"/oauth/v2/authorize?") || !strings.Contains(href, "state=") {
		t.Fatalf("authorize link %q", href)
	}
	b.shot("oauth-add-to-slack")
	// The link forwarded to another browser (no binding cookie): Slack
	// would send that browser back with a code, and the API refuses it.
	au, _ := url.Parse(href)
	resp, err := http.Get(e.url + "/v1/oauth/slack/callback?" + url.Values{"code": {slack.Code}, "state": {au.Query().Get("state")}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), api.OAuthOtherBrowser) {
		t.Fatalf("the callback from another browser: %d %s", resp.StatusCode, raw)
	}
	b.submit("#oauth-authorize")
	if h := b.text("#consent-title"); !strings.Contains(h, "Acme Slack workspace") {
		t.Fatalf("Slack's consent page: %q", h)
	}
	b.submit("#consent-allow")
	p := b.path()
	id, ok := strings.CutPrefix(p, "/orgs/"+e.orgA+"/installations/")
	if !ok || id == "" {
		t.Fatalf("after consent the browser is at %s: %q", p, b.text("body"))
	}
	in := e.must(e.tokA, "GET", "/v1/installations/"+id, nil, 200)
	if in["org_id"] != e.orgA || in["profile_id"] != prof || in["external_id"] != "T0OAUTH" {
		t.Fatalf("installation created: %v", in)
	}
	if body := b.text("main"); !strings.Contains(body, "T0OAUTH") {
		t.Fatalf("installation page does not show the team: %q", body)
	}
	b.shot("oauth-installed")
}
