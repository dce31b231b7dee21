package api_test

import (
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/provider/telegram/telegramtest"
)

// TestRegisterTelegram: POST /v1/installations/{id}/register calls
// setWebhook with the installation's URL, secret token and allowed updates
// and getWebhookInfo against a fake Bot API; the provider's refusal is
// answered in full, never a secret; audited.
func TestRegisterTelegram(t *testing.T) {
	bot := telegramtest.New(telegramBot)
	defer bot.Close()
	bot.PendingUpdateCount = 2
	h := newHarnessCfg(t, func(c *api.Config) {
		c.PublicURL = "https://hooks.example.com"
		c.ProviderAPIs = api.ProviderAPIs{Base: map[string]string{"telegram": bot.URL}}
	})
	o := h.smallFixture()
	prof := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": o.id, "provider": "telegram", "name": "bot", "secrets": map[string]string{"secret_token": telegramToken}}))
	inst := h.create("/v1/installations", h.admin, map[string]any{"org_id": o.id, "profile_id": prof, "external_id": "123456", "secrets": map[string]string{"bot_token": telegramBot}})
	st, out := h.call("POST", "/v1/installations/"+id(inst)+"/register", h.admin, nil)
	if st != 200 || out["ok"] != true {
		t.Fatalf("register: %d %v", st, out)
	}
	url, secret, allowed := bot.Webhook()
	if url != inst["webhook_url"] || secret != telegramToken || strings.Join(allowed, ",") != "message,channel_post,callback_query" {
		t.Errorf("Telegram has %s %s %v", url, secret, allowed)
	}
	info := out["info"].(map[string]any)
	if info["pending_update_count"] != float64(2) || info["url"] != inst["webhook_url"] {
		t.Errorf("info %v", info)
	}
	ev := lastAudit(t, h)
	if ev.Action != "installation.register" || !strings.Contains(ev.Detail, `"ok":true`) {
		t.Errorf("audit %+v", ev)
	}
	_, raw := h.callRaw("POST", "/v1/installations/"+id(inst)+"/register", h.admin, nil)
	for _, s := range []string{telegramBot, telegramToken, "AAHdq"} {
		if strings.Contains(string(raw), s) || strings.Contains(ev.Detail, s) || strings.Contains(h.logs.String(), s) {
			t.Errorf("a secret is in the answer, audit or log")
		}
	}

	// The bot token Telegram does not know: its own description.
	bad := h.create("/v1/installations", h.admin, map[string]any{"org_id": o.id, "profile_id": prof, "external_id": "999", "secrets": map[string]string{"bot_token": "999:AAAAwrongtokenvalue"}})
	st, out = h.call("POST", "/v1/installations/"+id(bad)+"/register", h.admin, nil)
	if st != 200 || out["ok"] != false || !strings.Contains(mustString(out["steps"]), "401 Unauthorized") {
		t.Errorf("refused: %d %v", st, out)
	}
	// No bot token: names the secret.
	none := h.create("/v1/installations", h.admin, map[string]any{"org_id": o.id, "profile_id": prof, "external_id": "555"})
	if st, out = h.call("POST", "/v1/installations/"+id(none)+"/register", h.admin, nil); st != 400 || !strings.Contains(mustString(out), "secrets.bot_token") {
		t.Errorf("without a bot token: %d %v", st, out)
	}
	// A provider without a registration API, and an unreachable one.
	if st, _ = h.call("POST", "/v1/installations/"+o.inst+"/register", h.admin, nil); st != 400 { // slack: auth.test needs a bot token
		t.Errorf("slack without bot token: %d", st)
	}
	bot.Close()
	st, raw = h.callRaw("POST", "/v1/installations/"+id(inst)+"/register", h.admin, nil)
	if st != 502 || strings.Contains(string(raw), "AAHdq") {
		t.Errorf("unreachable: %d %s", st, raw)
	}
}
