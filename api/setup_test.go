package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSetupPacketRoutes: packets as JSON and Markdown, never a secret; the
// handoff record is filled through the API, audited, and shown in the packet.
func TestSetupPacketRoutes(t *testing.T) {
	h := newHarnessPublic(t, "https://hooks.example.com")
	f := h.fixture()
	a1 := f.org["A1"]
	status, p := h.call("GET", "/v1/installations/"+a1.inst+"/setup", f.orgTok, nil)
	if status != 200 || p["provider"] != "slack" || p["kind"] != "installation" {
		t.Fatalf("%d %v", status, p)
	}
	_, inst := h.call("GET", "/v1/installations/"+a1.inst, f.orgTok, nil)
	if p["webhook_url"] != inst["webhook_url"] {
		t.Errorf("packet webhook_url %v, installation's %v", p["webhook_url"], inst["webhook_url"])
	}
	data := p["data"].(map[string]any)
	if !strings.Contains(data["create_app_url"].(string), "manifest_json=") {
		t.Errorf("no create app link: %v", data)
	}
	md := h.markdown("/v1/installations/"+a1.inst+"/setup?format=markdown", f.orgTok)
	for _, want := range []string{"# Connect Slack", inst["webhook_url"].(string), "## Canary validation", "## Dev → prod cutover", "## Rotation", "## Agency handoff record", "rotate by 2030-04-02"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	_, raw := h.callRaw("GET", "/v1/installations/"+a1.inst+"/setup", f.orgTok, nil)
	for _, secret := range []string{slackSigning, slackBot, slackSigning2} {
		if strings.Contains(string(raw), secret) || strings.Contains(md, secret) {
			t.Errorf("packet contains a secret value")
		}
	}
	if st, _ := h.call("GET", "/v1/installations/"+a1.inst+"/setup?format=pdf", f.orgTok, nil); st != 400 {
		t.Errorf("unknown format: %d", st)
	}

	// Handoff: filled, audited, shown.
	status, hv := h.call("PUT", "/v1/installations/"+a1.inst+"/handoff", f.agencyTok, map[string]any{
		"owner_account": "it@acme.example", "urls_configured": []string{inst["webhook_url"].(string)}, "scopes_approved": []string{"chat:write", "commands"},
		"canary_validated_at": "2030-01-02T02:00:00Z", "canary_channel": "#switchboard-canary", "rotation_owner": "Acme IT", "next_rotation": "2030-04-01"})
	if status != 200 || hv["owner_account"] != "it@acme.example" || hv["updated_by"] == "" {
		t.Fatalf("put handoff: %d %v", status, hv)
	}
	ev := lastAudit(t, h)
	if ev.Action != "installation.handoff" || ev.Target != a1.inst || !strings.Contains(ev.Detail, "Acme IT") {
		t.Errorf("audit %+v", ev)
	}
	md = h.markdown("/v1/installations/"+a1.inst+"/setup?format=markdown", f.orgTok)
	for _, want := range []string{"| Owner account | it@acme.example |", "2030-01-02T02:00:00Z in #switchboard-canary", "Acme IT, 2030-04-01"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks handoff %q", want)
		}
	}
	for _, bad := range []map[string]any{{"next_rotation": "soon"}, {"canary_validated_at": "2031-01-01T00:00:00Z"}, {"owner_account": " x"}, {"nope": 1}} {
		if st, out := h.call("PUT", "/v1/installations/"+a1.inst+"/handoff", f.orgTok, bad); st != 400 {
			t.Errorf("%v: %d %v", bad, st, out)
		}
	}

	// Profiles: the org's own; the platform's only for the platform admin.
	if st, pp := h.call("GET", "/v1/profiles/"+a1.prof+"/setup", f.orgTok, nil); st != 200 || pp["kind"] != "profile" {
		t.Errorf("org profile packet: %d %v", st, pp)
	}
	if st, _ := h.call("GET", "/v1/profiles/"+f.platformProf+"/setup", f.orgTok, nil); st != 403 {
		t.Errorf("tenant reads the platform profile packet: %d", st)
	}
	st, pp := h.call("GET", "/v1/profiles/"+f.platformProf+"/setup", h.admin, nil)
	if st != 200 || !strings.HasPrefix(pp["webhook_url"].(string), "https://hooks.example.com/v1/hooks/slack/") {
		t.Errorf("platform profile packet: %d %v", st, pp)
	}
}

func (h *harness) markdown(path, token string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
		h.t.Fatalf("GET %s: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}
