package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-dev/switchboard/provider/telegram/telegramtest"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestConsoleConnectsTelegramEndToEnd: in headless Chromium, an org owner
// signs in to the console `serve` runs, connects a Telegram bot with the
// org's own bot token, registers the webhook at (a fake of) the Telegram Bot
// API, and watches "waiting for the first verified event" turn green when
// Telegram's first update, sent to the URL and with the secret token that
// setWebhook got, has passed the real edge and reached ingest.
func TestConsoleConnectsTelegramEndToEnd(t *testing.T) {
	const botToken = "424242:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	bot := telegramtest.New(botToken)
	t.Cleanup(bot.Close)
	ctx := servicetest.NewBrowser(t, 90*time.Second) // skips without chromium, before the stack starts
	// Telegram calls only https webhooks: as in production, TLS is
	// terminated in front of the edge (here by a local reverse proxy).
	var front *httptest.Server
	s := startStack(t, stackOption{serveArgs: func(s *stack) []string {
		edge, _ := url.Parse(s.edge)
		front = httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(edge))
		t.Cleanup(front.Close)
		return []string{"--public-url", front.URL, "--telegram-api", bot.URL}
	}})
	s.secret(botToken)
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Acme"}, 201)["id"].(string)
	orgTok := s.call("POST", "/v1/tokens", map[string]any{"kind": "org", "subject_id": org}, 201)["token"].(string)
	s.secret(orgTok)
	b := &e2eBrowser{t: t, ctx: ctx, base: s.api}

	b.nav("/")
	b.fill("#token", orgTok)
	b.submit("form[action='/signin'] button")
	if p := b.path(); p != "/orgs/"+org {
		t.Fatalf("signed in to %s", p)
	}
	b.nav("/orgs/" + org + "/connect/telegram")
	b.fill("#secret_bot_token", botToken)
	b.submit("#form-own button[type=submit]")
	if h := b.text("h1"); h != "Telegram installation 424242" {
		t.Fatalf("after connecting: %q", h)
	}
	if st := b.eval(`document.querySelector("#live").dataset.state`); st != "waiting" {
		t.Fatalf("live panel before any event: %v", st)
	}
	b.submit("#form-register button[type=submit]")
	if got := b.text(".flash"); !strings.Contains(got, "✓ setWebhook") || !strings.Contains(got, "✓ getWebhookInfo") {
		t.Fatalf("registration shows %q", got)
	}
	hookURL, secretToken, _ := bot.Webhook()
	if !strings.HasPrefix(hookURL, front.URL+"/v1/hooks/telegram/") || secretToken == "" {
		t.Fatalf("setWebhook got url %q (want the edge's), secret token set: %v", hookURL, secretToken != "")
	}
	s.secret(secretToken)

	// Telegram sends the first update. The edge learns the installation at
	// its next configuration push, so the first tries may be refused.
	update := []byte(`{"update_id":1001,"message":{"message_id":1,"date":1767225600,"chat":{"id":77,"type":"private"},"from":{"id":77,"is_bot":false,"first_name":"Ada"},"text":"hello from telegram"}}`)
	for i := 0; ; i++ {
		code, reason := postVia(t, front.Client(), hookURL, [][2]string{{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", secretToken}}, update)
		if code == http.StatusOK {
			break
		}
		if i == 300 {
			t.Fatalf("the edge never accepted Telegram's update: %d %s", code, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#live").dataset.state === "ok"`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the live panel did not turn green after the first update: %v", err)
	}
	if got := b.text("#last-accepted"); got == "none yet" {
		t.Fatalf("the health list's last accepted event was not updated: %q", got)
	}
	b.do("taller window", chromedp.EmulateViewport(1100, 1000))
	b.shot("first-event")
	// A forged update (wrong secret token) is refused at the edge.
	if code, _ := postVia(t, front.Client(), hookURL, [][2]string{{"Content-Type", "application/json"}, {"X-Telegram-Bot-Api-Secret-Token", "forged"}}, update); code == http.StatusOK {
		t.Fatal("an update with a wrong secret token was accepted")
	}
	s.checkLogsHoldNoSecret()
}

// postVia posts body with headers through hc (the TLS front's client) and
// answers the status and the refusal's reason.
func postVia(t *testing.T, hc *http.Client, u string, headers [][2]string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var v struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v.Error
}

type e2eBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *e2eBrowser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *e2eBrowser) nav(p string) {
	b.t.Helper()
	b.do("open "+p, chromedp.Navigate(b.base+p), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *e2eBrowser) fill(sel, v string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

func (b *e2eBrowser) submit(sel string) {
	b.t.Helper()
	loaded := chromedp.Events(b.ctx, page.LoadEventFired)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	for _, err := range loaded {
		if err != nil {
			b.t.Fatalf("after %s: %v", sel, err)
		}
		break
	}
}

func (b *e2eBrowser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s at %s: %v", sel, b.path(), err)
	}
	return v
}

func (b *e2eBrowser) eval(js string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *e2eBrowser) path() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return strings.TrimPrefix(loc, b.base)
}

// shot saves a PNG of the page to $SWITCHBOARD_CONSOLE_SHOTS (docs/console
// for the documentation) as telegram-<name>.png, else to a temporary
// directory: what the window shows.
func (b *e2eBrowser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("SWITCHBOARD_CONSOLE_SHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("telegram-%s.png", name)), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
