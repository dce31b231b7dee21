package api_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/oauthbinding"
	"github.com/switchboard-dev/switchboard/provider/discord/discordtest"
	"github.com/switchboard-dev/switchboard/provider/slack/slacktest"
	"github.com/switchboard-dev/switchboard/secrets"
)

type oauthEnv struct {
	h     *harness
	slack *slacktest.API
	disc  *discordtest.API
	clock *atomic.Int64 // seconds added to testNow
}

func newOAuthEnv(t *testing.T, keys ...*secrets.Keyring) *oauthEnv {
	e := &oauthEnv{slack: slacktest.New(), clock: &atomic.Int64{}}
	t.Cleanup(e.slack.Close)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	e.disc = discordtest.New("1000000000000000001", "discord-bot-token", key)
	t.Cleanup(e.disc.Close)
	e.slack.RedirectURI = "https://api.example.com/v1/oauth/slack/callback"
	e.disc.RedirectURI = "https://api.example.com/v1/oauth/discord/callback"
	e.h = newHarnessCfg(t, func(c *api.Config) {
		c.PublicURL, c.APIURL = "https://hooks.example.com", "https://api.example.com"
		c.ProviderAPIs = api.ProviderAPIs{Base: map[string]string{"slack": e.slack.URL, "discord": e.disc.URL}}
		c.Now = func() time.Time { return testNow.Add(time.Duration(e.clock.Load()) * time.Second) }
		if len(keys) > 0 {
			c.Keyring = keys[0]
		}
	})
	return e
}

// start asks for the authorize URL and returns its state.
func (e *oauthEnv) start(t *testing.T, provider, profile, org, token string) (string, url.Values) {
	t.Helper()
	st, out := e.h.call("GET", "/v1/oauth/"+provider+"/start?profile_id="+profile+"&org_id="+org, token, nil)
	if st != 200 {
		t.Fatalf("start: %d %v", st, out)
	}
	u, err := url.Parse(out["authorize_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("state"), u.Query()
}

func (e *oauthEnv) callback(t *testing.T, provider string, q url.Values) (int, map[string]any) {
	t.Helper()
	return e.h.call("GET", "/v1/oauth/"+provider+"/callback?"+q.Encode(), "", nil)
}

// TestOAuthSlackPlatformApp: "Add to Slack" for the platform's app creates
// the org's installation under the platform profile with the bot token
// sealed, audited; replayed, expired, foreign, forged and missing states
// are refused, and a refused callback creates nothing.
func TestOAuthSlackPlatformApp(t *testing.T) {
	e := newOAuthEnv(t)
	e.slack.AppID = "A0PLATFORM"
	h := e.h
	f := h.fixture()
	a1 := f.org["A1"]
	if st, out := h.call("PUT", "/v1/profiles/"+f.platformProf+"/oauth", f.orgTok, map[string]any{"client_id": e.slack.ClientID, "client_secret": e.slack.ClientSecret}); st != 403 {
		t.Fatalf("tenant sets the platform app's client: %d %v", st, out)
	}
	st, out := h.call("PUT", "/v1/profiles/"+f.platformProf+"/oauth", h.admin, map[string]any{"client_id": e.slack.ClientID, "client_secret": e.slack.ClientSecret})
	if st != 200 || strings.Contains(mustString(out), e.slack.ClientSecret) || out["redirect_url"] != e.slack.RedirectURI {
		t.Fatalf("put oauth: %d %v", st, out)
	}
	state, q := e.start(t, "slack", f.platformProf, a1.id, f.orgTok)
	if q.Get("client_id") != e.slack.ClientID || q.Get("redirect_uri") != e.slack.RedirectURI || !strings.Contains(q.Get("scope"), "chat:write") {
		t.Fatalf("authorize query %v", q)
	}
	refused := func(q url.Values, provider, code string) {
		t.Helper()
		before := h.generation()
		st, out := e.callback(t, provider, q)
		if st != 400 || out["error"].(map[string]any)["code"] != code {
			t.Errorf("%v: %d %v, want 400 %s", q, st, out, code)
		}
		if h.generation() != before {
			t.Errorf("refused callback changed the store")
		}
	}
	refused(url.Values{"code": {e.slack.Code}}, "slack", api.OAuthStateMissing)
	refused(url.Values{"code": {e.slack.Code}, "state": {state + "x"}}, "slack", api.OAuthStateInvalid)
	otherKeys, err := secrets.ParseKeys("k9:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	other := newOAuthEnv(t, otherKeys) // another server's keys
	oo := other.h.smallFixture()
	other.h.call("PUT", "/v1/profiles/"+oo.prof+"/oauth", other.h.admin, map[string]any{"client_id": "x", "client_secret": "y"})
	foreignState, _ := other.start(t, "slack", oo.prof, oo.id, other.h.admin)
	refused(url.Values{"code": {e.slack.Code}, "state": {foreignState}}, "slack", api.OAuthStateInvalid)
	refused(url.Values{"code": {e.slack.Code}, "state": {state}}, "discord", api.OAuthStateForeign)

	// The install.
	st, inst := e.callback(t, "slack", url.Values{"code": {e.slack.Code}, "state": {state}})
	if st != 201 || inst["org_id"] != a1.id || inst["profile_id"] != f.platformProf || inst["external_id"] != "T0TEAM" {
		t.Fatalf("callback: %d %v", st, inst)
	}
	secs := inst["secrets"].([]any)
	if len(secs) != 1 || secs[0].(map[string]any)["purpose"] != "bot_token" {
		t.Errorf("installation secrets %v", secs)
	}
	if strings.Contains(mustString(inst), e.slack.BotToken) {
		t.Error("answer carries the bot token")
	}
	ev := lastAudit(t, h)
	if ev.Action != "installation.create" || ev.OrgID != a1.id || !strings.Contains(ev.Detail, `"via":"oauth"`) || strings.Contains(ev.Detail, e.slack.BotToken) {
		t.Errorf("audit %+v", ev)
	}
	// Replay of the same state.
	refused(url.Values{"code": {e.slack.Code}, "state": {state}}, "slack", api.OAuthStateReplayed)

	// Expired.
	state2, _ := e.start(t, "slack", f.platformProf, a1.id, f.orgTok)
	e.clock.Store(int64(api.StateTTL/time.Second) + 1)
	refused(url.Values{"code": {"code-2"}, "state": {state2}}, "slack", api.OAuthStateExpired)
	e.clock.Store(0)

	// The starting token revoked before the callback.
	tok := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": a1.id})
	state3, _ := e.start(t, "slack", f.platformProf, a1.id, tok["token"].(string))
	if st, _ := h.call("POST", "/v1/tokens/"+id(tok)+"/revoke", h.admin, nil); st != 200 {
		t.Fatal("revoke token")
	}
	refused(url.Values{"code": {"code-3"}, "state": {state3}}, "slack", api.OAuthStateForeign)

	// Start for an org outside the token's scope.
	if st, _ := h.call("GET", "/v1/oauth/slack/start?profile_id="+f.platformProf+"&org_id="+f.org["B1"].id, f.orgTok, nil); st != 404 {
		t.Errorf("start for a foreign org: %d", st)
	}
	// Slack refusing the code: its error, nothing created.
	state4, _ := e.start(t, "slack", f.platformProf, a1.id, f.orgTok)
	before := h.generation()
	st, out = e.callback(t, "slack", url.Values{"code": {"bad-code"}, "state": {state4}})
	if st != 400 || !strings.Contains(mustString(out), "invalid_code") || h.generation() != before {
		t.Errorf("refused code: %d %v", st, out)
	}
}

// TestOAuthOwnApps: the same flow for an org's own Slack app and for a
// Discord bot authorisation (guild id from the callback).
func TestOAuthOwnApps(t *testing.T) {
	e := newOAuthEnv(t)
	h := e.h
	o := h.smallFixture() // org with its own Slack profile (signing secret)
	if st, out := h.call("PUT", "/v1/profiles/"+o.prof+"/oauth", h.admin, map[string]any{"client_id": e.slack.ClientID, "client_secret": e.slack.ClientSecret}); st != 200 {
		t.Fatalf("put oauth: %d %v", st, out)
	}
	orgTok := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": o.id})["token"].(string)
	state, _ := e.start(t, "slack", o.prof, o.id, orgTok)
	st, inst := e.callback(t, "slack", url.Values{"code": {e.slack.Code}, "state": {state}})
	if st != 201 || inst["profile_id"] != o.prof || inst["external_id"] != "T0TEAM" {
		t.Fatalf("own Slack app: %d %v", st, inst)
	}

	disc := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": o.id, "provider": "discord", "name": "bot", "external_app_id": e.disc.AppID,
		"secrets": map[string]string{"public_key": discordKey}}))
	if st, out := h.call("PUT", "/v1/profiles/"+disc+"/oauth", orgTok, map[string]any{"client_id": e.disc.AppID, "client_secret": e.disc.ClientSecret}); st != 200 {
		t.Fatalf("put discord oauth: %d %v", st, out)
	}
	state, q := e.start(t, "discord", disc, o.id, orgTok)
	if q.Get("scope") != "bot applications.commands" || q.Get("response_type") != "code" || q.Get("redirect_uri") != e.disc.RedirectURI {
		t.Fatalf("discord authorize query %v", q)
	}
	if st, out := e.callback(t, "discord", url.Values{"code": {e.disc.Code}, "state": {state}}); st != 400 {
		t.Errorf("callback without guild_id: %d %v", st, out)
	}
	state, _ = e.start(t, "discord", disc, o.id, orgTok)
	st, inst = e.callback(t, "discord", url.Values{"code": {e.disc.Code}, "state": {state}, "guild_id": {e.disc.GuildID}, "permissions": {"274878008320"}})
	if st != 201 || inst["external_id"] != e.disc.GuildID || inst["provider"] != "discord" {
		t.Fatalf("discord: %d %v", st, inst)
	}
	// The user declining at Discord.
	state, _ = e.start(t, "discord", disc, o.id, orgTok)
	if st, out := e.callback(t, "discord", url.Values{"error": {"access_denied"}, "state": {state}}); st != 400 || out["error"].(map[string]any)["code"] != api.OAuthDenied {
		t.Errorf("declined: %d %v", st, out)
	}
	_ = http.StatusOK
}

// TestOAuthConsoleReturn: a flow the web console started (return=console)
// ends with a 303 to the console's page of the new installation (the console
// is served on the API's origin); without it the callback answers JSON.
func TestOAuthConsoleReturn(t *testing.T) {
	e := newOAuthEnv(t)
	h := e.h
	o := h.smallFixture()
	if st, out := h.call("PUT", "/v1/profiles/"+o.prof+"/oauth", h.admin, map[string]any{"client_id": e.slack.ClientID, "client_secret": e.slack.ClientSecret}); st != 200 {
		t.Fatalf("put oauth: %d %v", st, out)
	}
	orgTok := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": o.id})["token"].(string)
	st, out := h.call("GET", "/v1/oauth/slack/start?profile_id="+o.prof+"&org_id="+o.id+"&return=console", orgTok, nil)
	if st != 200 {
		t.Fatalf("start: %d %v", st, out)
	}
	au, err := url.Parse(out["authorize_url"].(string))
	if err != nil || !strings.HasPrefix(au.String(), "https://slack.com/oauth/v2/authorize?") {
		t.Fatalf("authorize url %v: %v", out["authorize_url"], err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.srv.URL + "/v1/oauth/slack/callback?" + url.Values{"code": {e.slack.Code}, "state": {au.Query().Get("state")}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	instID, ok := strings.CutPrefix(loc, "/orgs/"+o.id+"/installations/")
	if resp.StatusCode != http.StatusSeeOther || !ok || instID == "" {
		t.Fatalf("console callback: %d Location %q", resp.StatusCode, loc)
	}
	if st, inst := h.call("GET", "/v1/installations/"+instID, orgTok, nil); st != 200 || inst["external_id"] != "T0TEAM" || inst["profile_id"] != o.prof {
		t.Fatalf("installation the console is sent to: %d %v", st, inst)
	}
}

// TestOAuthBrowserBinding: an install started with a browser binding (as
// the console starts it) completes only from the browser holding the
// binding's cookie; a forwarded consent link (no cookie, another flow's
// cookie, a forged one) is refused with state_other_browser and leaves the
// state usable by its starter, whose success clears the cookie. A malformed
// binding is refused at the start.
func TestOAuthBrowserBinding(t *testing.T) {
	e := newOAuthEnv(t)
	h := e.h
	o := h.smallFixture()
	if st, out := h.call("PUT", "/v1/profiles/"+o.prof+"/oauth", h.admin, map[string]any{"client_id": e.slack.ClientID, "client_secret": e.slack.ClientSecret}); st != 200 {
		t.Fatalf("put oauth: %d %v", st, out)
	}
	orgTok := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": o.id})["token"].(string)
	startPath := "/v1/oauth/slack/start?profile_id=" + o.prof + "&org_id=" + o.id + "&return=console&browser_binding="
	for _, bad := range []string{"short", strings.Repeat("+", 43)} {
		st, out := h.call("GET", startPath+url.QueryEscape(bad), orgTok, nil)
		if e, _ := out["error"].(map[string]any); st != 400 || e["field"] != "browser_binding" {
			t.Errorf("binding %q: %d %v, want 400 naming browser_binding", bad, st, out)
		}
	}
	value, digest := oauthbinding.New()
	other, _ := oauthbinding.New()
	st, out := h.call("GET", startPath+digest, orgTok, nil)
	if st != 200 {
		t.Fatalf("start: %d %v", st, out)
	}
	au, _ := url.Parse(out["authorize_url"].(string))
	cb := h.srv.URL + "/v1/oauth/slack/callback?" + url.Values{"code": {e.slack.Code}, "state": {au.Query().Get("state")}}.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(cookies ...*http.Cookie) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("GET", cb, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	count := func() int {
		st, list := h.call("GET", "/v1/installations?org_id="+o.id, orgTok, nil)
		if st != 200 {
			t.Fatalf("list installations: %d %v", st, list)
		}
		return len(list["items"].([]any))
	}
	before := count()
	for name, cks := range map[string][]*http.Cookie{
		"no cookie":             nil,
		"another flow's cookie": {oauthbinding.Cookie(other, true, time.Minute)},
		"forged value":          {{Name: oauthbinding.CookieName(digest), Value: other}},
	} {
		resp, m := get(cks...)
		if e, _ := m["error"].(map[string]any); resp.StatusCode != 400 || e["code"] != api.OAuthOtherBrowser {
			t.Errorf("%s: %d %v, want 400 %s", name, resp.StatusCode, m, api.OAuthOtherBrowser)
		}
	}
	if n := count(); n != before {
		t.Fatalf("refused callbacks created %d installations", n-before)
	}
	resp, m := get(oauthbinding.Cookie(value, true, time.Minute))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the starting browser's callback: %d %v", resp.StatusCode, m)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == oauthbinding.CookieName(digest) && c.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("the binding cookie is not cleared after the install: %v", resp.Header["Set-Cookie"])
	}
	if n := count(); n != before+1 {
		t.Errorf("the starter's callback made %d installations, want 1", n-before)
	}
}
