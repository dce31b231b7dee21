package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/console"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// browser drives one headless Chromium tab against an env.
type browser struct {
	t     *testing.T
	ctx   context.Context
	e     *env
	shots string
}

func newBrowser(t *testing.T, e *env) *browser {
	return &browser{t: t, ctx: servicetest.NewBrowser(t, 50*time.Second), e: e, shots: shotDir(t)}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) nav(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.e.url+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// submit clicks sel (a submit button or link) and waits until the next page
// has loaded.
func (b *browser) submit(sel string) {
	b.t.Helper()
	loaded := chromedp.Events(b.ctx, page.LoadEventFired)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	for _, err := range loaded {
		if err != nil {
			b.t.Fatalf("wait for the page after %s: %v", sel, err)
		}
		break
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		hctx, hcancel := context.WithTimeout(b.ctx, 3*time.Second)
		defer hcancel()
		html, herr := chromedp.Run(hctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		b.t.Logf("eval err %v", herr)
		b.t.Fatalf("text of %s at %s: %v\npage: %s\nlogs: %s", sel, b.path(), err, html, b.e.logs.String())
	}
	return s
}

func (b *browser) eval(js string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) fill(sel, value string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
}

func (b *browser) path() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.e.url)
}

// shot saves a PNG of what the window shows as name.png (the top of the
// page: kept small for the documentation).
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.nav("/signin")
	b.fill("#token", token)
	b.submit("form[action='/signin'] button")
}

func (b *browser) cookies() []*network.Cookie {
	b.t.Helper()
	cs, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.e.url}})
		return r.Cookies, err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return cs
}

// refusal is what the console's refusal page shows: "<status> <code>" and
// the API's message.
func (b *browser) refusal() (head, message string) {
	b.t.Helper()
	return strings.TrimSpace(b.text("#refusal strong")), strings.TrimSpace(b.text("#refusal .message"))
}

// TestConsoleInBrowser walks the console as an org owner in headless
// Chromium: sign in, connect a Telegram bot with the org's own app, create an
// agent and a binding and ask the simulator, rotate and revoke (each
// confirmed), the audit log, cross-tenant ids in URLs and forms, CSRF,
// inert <script> names, a narrow screen, and sign out.
func TestConsoleInBrowser(t *testing.T) {
	e := newEnv(t, console.Config{})
	b := newBrowser(t, e)

	// Not signed in: every page sends the browser to the sign-in form.
	b.nav("/orgs/" + e.orgA)
	if p := b.path(); !strings.HasPrefix(p, "/signin") {
		t.Fatalf("signed out, /orgs/… went to %s, want /signin", p)
	}
	b.shot("signin")

	// A wrong token is refused as the API refuses it.
	b.signIn("sbt_not-a-token-at-all-00000000")
	if got := b.text("#signin-error"); !strings.Contains(got, "unauthorized") {
		t.Fatalf("sign-in with a wrong token shows %q", got)
	}

	b.signIn(e.tokA)
	if p := b.path(); p != "/orgs/"+e.orgA {
		t.Fatalf("org owner lands on %s, want /orgs/%s", p, e.orgA)
	}
	// Session cookie: HttpOnly, SameSite=Strict, not Secure over plain http,
	// invisible to scripts.
	var sess *network.Cookie
	for _, c := range b.cookies() {
		if c.Name == "sb_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HTTPOnly || sess.SameSite != network.CookieSameSiteStrict || sess.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over http", sess)
	}
	if dc := b.eval(`document.cookie`).(string); strings.Contains(dc, "sb_session") {
		t.Fatalf("document.cookie shows the session: %q", dc)
	}

	// A name holding <script> is shown as text, never run or parsed as markup.
	if got := b.text(".crumb strong"); got != xssName {
		t.Fatalf("organisation name shown as %q, want the literal %q", got, xssName)
	}
	if n := b.eval(`document.querySelectorAll("script").length`).(float64); n != 1 {
		t.Fatalf("page has %v script elements, want only the console's own", n)
	}
	if n := b.eval(`document.querySelectorAll("main img").length`).(float64); n != 0 {
		t.Fatalf("the name's <img> became an element")
	}
	if v := b.eval(`typeof window.__pwned`).(string); v != "undefined" {
		t.Fatalf("a script in a name ran (window.__pwned is %s)", v)
	}

	// Connect Telegram with the organisation's own bot.
	b.nav("/orgs/" + e.orgA + "/connect")
	b.shot("connect")
	b.submit("#connect-telegram")
	b.shot("connect-telegram")
	b.fill("#secret_bot_token", telegramBot)
	b.submit("#form-own button[type=submit]")
	if h := b.text("h1"); h != "Telegram installation 123456" {
		t.Fatalf("after connecting: page %q", h)
	}
	instPath := b.path()
	instA := strings.TrimPrefix(instPath, "/orgs/"+e.orgA+"/installations/")
	inst := e.must(e.tokA, "GET", "/v1/installations/"+instA, nil, 200)
	if inst["external_id"] != "123456" || len(inst["secrets"].([]any)) != 2 {
		t.Fatalf("installation created by the console: %v", inst)
	}
	// The live panel waits for the first verified event and turns green when
	// ingest records one (here written as ingest writes it; the end-to-end
	// test in e2e/ sends a real update through the edge).
	if st := b.eval(`document.querySelector("#live").dataset.state`); st != "waiting" {
		t.Fatalf("live panel before any event: %v", st)
	}
	if err := e.st.RecordAccepted(context.Background(), instA, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector("#live").dataset.state === "ok"`)); err != nil {
		t.Fatalf("live panel did not turn green after an accepted event: %v", err)
	}
	if got := b.text("#live-text"); !strings.Contains(got, "verified event received") {
		t.Fatalf("live panel says %q", got)
	}

	// The setup packet: Telegram's setWebhook parameters with copy buttons.
	if got := b.text("#h-setup + ol, .packet"); !contains(got, "setWebhook", inst["webhook_path"].(string)) {
		t.Fatalf("setup packet shows %q", got)
	}
	b.shot("installation")

	// The agency handoff record, saved through the API (and audited).
	b.fill("#ho-owner", "ops@acme.example")
	b.fill("#ho-canary-ch", "canary-chat")
	b.fill("#ho-next", time.Now().UTC().Add(90*24*time.Hour).Format("2006-01-02"))
	b.submit("#form-handoff button[type=submit]")
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#ho-owner"))); v != "ops@acme.example" {
		t.Fatalf("handoff owner after saving: %q", v)
	}
	pk := e.must(e.tokA, "GET", "/v1/installations/"+instA+"/setup", nil, 200)
	if h, _ := pk["handoff"].(map[string]any); h == nil || h["canary_channel"] != "canary-chat" {
		t.Fatalf("handoff record in the packet: %v", pk["handoff"])
	}

	// An agent (its generated signing secret is shown once) and a binding.
	b.nav("/orgs/" + e.orgA + "/agents")
	b.fill("#agent-name", "support <b>bot</b>")
	b.fill("#agent-url", consoleTestAgent)
	b.submit("#form-agent button[type=submit]")
	if s := b.text("#flash-secret"); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("agent creation shows %q, want its whsec_ signing secret", s)
	}
	b.nav("/orgs/" + e.orgA + "/bindings")
	b.fill("#b-channel", "C1")
	b.fill("#b-persona", "support")
	b.fill("#b-priority", "5")
	b.submit("#form-binding button[type=submit]")
	if got := b.text("#bindings tbody"); !contains(got, "channel=C1", "support <b>bot</b>", "support", "5") {
		t.Fatalf("bindings table after creating one: %q", got)
	}
	b.fill("#s-channel", "C1")
	b.fill("#s-text", "hello")
	b.submit("#form-sim button[type=submit]")
	if sim := b.text("#sim-answer"); !contains(sim, "Outcome: delivered", "agent support <b>bot</b> as support", "won", "Nothing was enqueued") {
		t.Fatalf("simulator's answer for channel C1: %q", sim)
	}
	b.shot("bindings")
	b.fill("#s-channel", "C2")
	b.submit("#form-sim button[type=submit]")
	if sim := b.text("#sim-answer .outcome"); !strings.Contains(sim, "no_binding") {
		t.Fatalf("simulator's answer for channel C2 (no binding): %q", sim)
	}

	// The health checks, run on request: the binding now exists.
	b.nav(instPath)
	b.submit("#run-checks")
	if got := b.text("#check-bindings"); !strings.Contains(got, "pass") {
		t.Fatalf("bindings check after creating one: %q", got)
	}
	if got := b.text("#check-rollout_stage"); !strings.Contains(got, "pass") {
		t.Fatalf("rollout stage check: %q", got)
	}
	b.shot("health")

	// Rotate the webhook secret token; the previous one stays valid until
	// the chosen date.
	b.nav(instPath)
	b.do("choose purpose", chromedp.SetValue(chromedp.CSS("#rotate-purpose"), "secret_token"))
	b.fill("#rotate-value", telegramSecret2)
	until := time.Now().UTC().Add(3 * 24 * time.Hour).Format("2006-01-02")
	b.fill("#rotate-until", until)
	b.do("confirm", chromedp.Click(chromedp.CSS("#rotate-confirm")))
	b.submit("#form-rotate button[type=submit]")
	if got := b.text(".flash.ok"); !contains(got, "Rotated secret_token", until) {
		t.Fatalf("after rotating: %q", got)
	}
	inst = e.must(e.tokA, "GET", "/v1/installations/"+instA, nil, 200)
	var ended, fresh int
	for _, s := range inst["secrets"].([]any) {
		m := s.(map[string]any)
		if m["purpose"] != "secret_token" {
			continue
		}
		if na, ok := m["not_after"].(string); ok && strings.HasPrefix(na, until) {
			ended++
		} else if !ok {
			fresh++
		}
	}
	if ended != 1 || fresh != 1 {
		t.Fatalf("after the console's rotation: %d secret_token(s) ending %s, %d open-ended; want 1 and 1: %v", ended, until, fresh, inst["secrets"])
	}

	// Cross-tenant: another organisation's ids in URLs and forms are refused
	// exactly as the API refuses them.
	b.nav("/orgs/" + e.orgB)
	code, apiAns := e.call(e.tokA, "GET", "/v1/orgs/"+e.orgB, nil)
	if head, msg := b.refusal(); head != fmt.Sprintf("%d %s", code, apiErrCode(apiAns)) || !strings.Contains(msg, e.orgB) {
		t.Fatalf("org A opening org B's page: %q %q; the API answers %d %v", head, msg, code, apiAns)
	}
	b.nav("/orgs/" + e.orgA + "/installations/" + e.instB)
	if head, _ := b.refusal(); head != "404 not_found" {
		t.Fatalf("org A opening org B's installation: %q", head)
	}
	b.nav("/orgs/" + e.orgB + "/installations/" + instA)
	if head, _ := b.refusal(); head != "404 not_found" {
		t.Fatalf("org A's installation under org B's URL: %q", head)
	}
	b.nav("/orgs/" + e.orgA + "/bindings")
	b.eval(fmt.Sprintf(`document.querySelector("#b-inst").options[0].value = %q`, e.instB))
	b.fill("#b-persona", "stolen")
	b.submit("#form-binding button[type=submit]")
	code, apiAns = e.call(e.tokA, "POST", "/v1/bindings", map[string]any{"installation_id": e.instB, "agent_id": firstAgent(t, e), "persona": "stolen"})
	if head, _ := b.refusal(); head != fmt.Sprintf("%d %s", code, apiErrCode(apiAns)) || code/100 != 4 {
		t.Fatalf("binding on org B's installation through the console: %q; the API answers %d %v", head, code, apiAns)
	}
	b.nav("/orgs/" + e.orgA + "/agents/" + e.agentB + "/revoke")
	if head, _ := b.refusal(); head != "404 not_found" {
		t.Fatalf("org A opening the revoke page of org B's agent: %q", head)
	}
	if m := e.must(e.tokB, "GET", "/v1/agents/"+e.agentB, nil, 200); m["revoked_at"] != nil {
		t.Fatal("org B's agent was revoked")
	}

	// CSRF: a wrong or missing token is refused and changes nothing.
	before := len(e.must(e.tokA, "GET", "/v1/agents?org_id="+e.orgA, nil, 200)["items"].([]any))
	for _, tamper := range []string{`document.querySelector("#form-agent input[name=csrf]").value = "wrong"`, `document.querySelector("#form-agent input[name=csrf]").remove()`} {
		b.nav("/orgs/" + e.orgA + "/agents")
		b.fill("#agent-name", "csrf agent")
		b.fill("#agent-url", consoleTestAgent)
		b.eval(tamper)
		b.submit("#form-agent button[type=submit]")
		if head, _ := b.refusal(); head != "403 csrf" {
			t.Fatalf("form with %s: %q, want 403 csrf", tamper, head)
		}
	}
	if after := len(e.must(e.tokA, "GET", "/v1/agents?org_id="+e.orgA, nil, 200)["items"].([]any)); after != before {
		t.Fatalf("refused CSRF forms created %d agents", after-before)
	}

	// Revoke the installation, confirmed on its own page.
	b.nav(instPath)
	b.submit("#revoke-installation")
	if h := b.text("h1"); h != "Revoke installation?" {
		t.Fatalf("revoke asks %q", h)
	}
	b.shot("revoke-confirm")
	b.submit("#confirm-revoke")
	if got := b.text(".flash.ok"); !strings.Contains(got, "revoked") {
		t.Fatalf("after revoking: %q", got)
	}
	if m := e.must(e.tokA, "GET", "/v1/installations/"+instA, nil, 200); m["revoked_at"] == nil {
		t.Fatal("installation not revoked")
	}

	// The audit log, filtered.
	b.nav("/orgs/" + e.orgA + "/audit?action=secret.rotate")
	if rows := b.text("#audit tbody"); !strings.Contains(rows, "secret.rotate") || strings.Contains(rows, "installation.create") {
		t.Fatalf("audit filtered to secret.rotate shows %q", rows)
	}
	b.nav("/orgs/" + e.orgA + "/audit")
	if rows := b.text("#audit tbody"); !contains(rows, "installation.create", "binding.create", "installation.handoff", "installation.revoke") {
		t.Fatalf("audit log shows %q", rows)
	}
	b.shot("audit")

	// Accessibility: on every main page each form control has a label, and
	// the first Tab reaches the skip link.
	for _, p := range []string{"/orgs", "/orgs/" + e.orgA, "/orgs/" + e.orgA + "/connect/telegram", instPath,
		"/orgs/" + e.orgA + "/agents", "/orgs/" + e.orgA + "/bindings", "/orgs/" + e.orgA + "/audit", "/stages"} {
		b.nav(p)
		unlabelled := b.eval(`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
			.filter(el => !(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.getAttribute("aria-label"))
			.map(el => el.name || el.outerHTML).join(", ")`).(string)
		if unlabelled != "" {
			t.Errorf("%s: controls without a label: %s", p, unlabelled)
		}
		b.do("tab", chromedp.KeyEvent("\t"))
		if got := b.eval(`document.activeElement.className`).(string); got != "skip" {
			t.Errorf("%s: the first Tab focuses %q, want the skip link", p, got)
		}
	}

	// A narrow screen: no horizontal scrolling.
	b.do("narrow", chromedp.EmulateViewport(375, 740))
	for _, p := range []string{"/orgs/" + e.orgA + "/bindings", instPath} {
		b.nav(p)
		if w := b.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
			t.Fatalf("%s is %v px wide on a 375 px screen", p, w)
		}
	}
	b.shot("narrow-installation")
	b.do("wide", chromedp.EmulateViewport(1100, 800))

	// Sign out: the session ends on the server, not only in the browser.
	b.submit("form.signout button")
	if p := b.path(); p != "/signin?signedout=1" {
		t.Fatalf("after signing out: %s", p)
	}
	req, _ := http.NewRequest("GET", e.url+"/orgs/"+e.orgA, nil)
	req.AddCookie(&http.Cookie{Name: "sb_session", Value: sess.Value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("the signed-out session's cookie still opens pages: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func firstAgent(t *testing.T, e *env) string {
	items := e.must(e.tokA, "GET", "/v1/agents?org_id="+e.orgA, nil, 200)["items"].([]any)
	if len(items) == 0 {
		t.Fatal("org A has no agent")
	}
	return items[0].(map[string]any)["id"].(string)
}

// TestConsoleAgencyAndPlatformInBrowser: an agency sees its client
// organisations (not others') and creates one; the platform admin sets a
// provider's rollout stage; an org owner cannot, even with a forged form.
func TestConsoleAgencyAndPlatformInBrowser(t *testing.T) {
	e := newEnv(t, console.Config{})
	b := newBrowser(t, e)

	b.signIn(e.agencyTok)
	if p := b.path(); p != "/orgs" {
		t.Fatalf("agency lands on %s", p)
	}
	if rows := b.text("main table tbody"); !strings.Contains(rows, e.orgA) || strings.Contains(rows, e.orgB) {
		t.Fatalf("agency's organisations: %q (want %s, not %s)", rows, e.orgA, e.orgB)
	}
	b.fill("#org-name", "Initech")
	b.submit("form[action='/orgs'] button")
	newOrg := strings.TrimPrefix(b.path(), "/orgs/")
	if o := e.must(e.admin, "GET", "/v1/orgs/"+newOrg, nil, 200); o["name"] != "Initech" || o["agency_id"] == nil || o["agency_id"] == "" {
		t.Fatalf("organisation the agency created: %v", o)
	}
	b.nav("/orgs")
	b.shot("orgs")
	b.nav("/orgs/" + e.orgB)
	if head, _ := b.refusal(); head != "404 not_found" {
		t.Fatalf("agency opening a non-client org: %q", head)
	}
	b.submit("form.signout button")

	b.signIn(e.admin)
	b.nav("/stages")
	b.do("stage", chromedp.SetValue(chromedp.CSS("#st-telegram"), "canary"))
	b.fill("#co-telegram", e.orgA)
	b.submit("form[action='/stages/telegram'] button")
	if got := b.text("#stages tbody"); !contains(got, "canary", e.orgA) {
		t.Fatalf("stages after setting telegram to canary: %q", got)
	}
	if st := e.must(e.admin, "GET", "/v1/providers/telegram/stage", nil, 200); st["stage"] != "canary" {
		t.Fatalf("telegram's stage: %v", st)
	}
	// The promotion gate is closed (no evidence yet): promoting is the API's
	// refusal naming what is missing; a rollback is always allowed.
	if g := b.text("#gate-telegram"); !strings.Contains(g, "closed") {
		t.Fatalf("telegram's promotion gate: %q", g)
	}
	b.shot("stages")
	b.fill("#pr-telegram", "try without evidence")
	b.do("confirm", chromedp.Click(chromedp.CSS("#prc-telegram")))
	b.submit("form[action='/stages/telegram/promote'] button")
	if head, msg := b.refusal(); !strings.HasPrefix(head, "409 ") || msg == "" {
		t.Fatalf("promote with a closed gate: %q %q", head, msg)
	}
	b.nav("/stages")
	b.fill("#rb-telegram", "console test")
	b.do("confirm", chromedp.Click(chromedp.CSS("#rbc-telegram")))
	b.submit("form[action='/stages/telegram/rollback'] button")
	if st := e.must(e.admin, "GET", "/v1/providers/telegram/stage", nil, 200); st["stage"] == "canary" {
		t.Fatalf("telegram's stage after a rollback: %v", st)
	}
	b.submit("form.signout button")

	// An org owner sees the stages without the forms; a forged form is the
	// API's 403.
	b.signIn(e.tokB)
	b.nav("/stages")
	if n := b.eval(`document.querySelectorAll("form[action^='/stages/']").length`).(float64); n != 0 {
		t.Fatalf("an org owner sees %v stage forms", n)
	}
	b.eval(`(function(){var f=document.createElement("form");f.method="post";f.action="/stages/telegram";f.id="forged";
		var c=document.createElement("input");c.name="csrf";c.value=document.querySelector("form.signout input[name=csrf]").value;f.appendChild(c);
		var s=document.createElement("input");s.name="stage";s.value="on";f.appendChild(s);
		var btn=document.createElement("button");btn.type="submit";f.appendChild(btn);document.body.appendChild(f);})()`)
	b.submit("#forged button")
	code, ans := e.call(e.tokB, "PUT", "/v1/providers/telegram/stage", map[string]any{"stage": "on"})
	if head, _ := b.refusal(); head != fmt.Sprintf("%d %s", code, apiErrCode(ans)) || code != 403 {
		t.Fatalf("org owner setting a stage through the console: %q; the API answers %d %v", head, code, ans)
	}
}
