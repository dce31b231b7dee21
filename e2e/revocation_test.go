package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/testevent"
	"github.com/switchboard-dev/switchboard/worker"
)

// TestUninstallRevokes walks the providers' own uninstall and revocation
// notifications through the running stack (edge -> ingest -> store ->
// configuration push -> edge; worker): each installation is revoked with the
// provider's reason in the audit log, the edge refuses it after the next
// configuration push (the time is logged), a task queued before the
// uninstall ends as a dead letter naming the reason, and a Telegram chat
// where the bot was blocked gets nothing more while the bot's other chats do.
func TestUninstallRevokes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	s := startStack(t)
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Initech"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	// The Slack installation's agent cannot be reached: its event waits in
	// the retry set (2 s backoff) while the uninstall arrives.
	deadURL := "http://127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) + "/"
	unreachable := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "down", "url": deadURL, "signing_secret": s.agentKey}, 201)["id"].(string)

	slackSecret, tgToken, ghSecret, metaSecret := randHex(16), "tg_"+randHex(12), randHex(16), randHex(16)
	_, dcKey, _ := ed25519.GenerateKey(rand.Reader)
	slack := s.newInstall(org, unreachable, "slack", "A0INITECH", "T0INITECH", map[string]string{"signing": slackSecret}, nil,
		testevent.Credentials{Secret: slackSecret}, "xoxb-initech-"+randHex(8))
	telegram := s.newInstall(org, agent, "telegram", "", "700100", nil, map[string]string{"secret_token": tgToken},
		testevent.Credentials{Secret: tgToken}, "700100:AAbb"+randHex(8))
	// A Discord user install: the installation's external id is the user's.
	const discordUser = "53908232506183680"
	discord := s.newInstall(org, agent, "discord", "", discordUser, map[string]string{"public_key": testevent.PublicKeyHex(dcKey)}, nil,
		testevent.Credentials{PrivateKey: dcKey}, "discord-bot-"+randHex(8))
	github := s.newInstall(org, agent, "github", "123456", "41234567", map[string]string{"signing": ghSecret}, nil,
		testevent.Credentials{Secret: ghSecret}, "ghs_"+randHex(12))
	messenger := s.newInstall(org, agent, "messenger", "", "106000000000001", map[string]string{"signing": metaSecret}, nil,
		testevent.Credentials{Secret: metaSecret}, "EAAG"+randHex(8))
	all := []install{slack, telegram, discord, github, messenger}
	for _, in := range all[1:] { // the Slack one is probed below with its event
		if in.provider == "github" {
			s.waitGitHubAccepted(in)
			continue
		}
		s.waitAccepted(in, "probe "+in.provider, in.cred, map[string]int{})
	}
	s.waitAccepted(slack, "probe slack", slack.cred, map[string]int{})

	// 1. Slack: an event is queued (its agent is down), then the app is
	// uninstalled from the workspace.
	queued := slack.event("queued before the uninstall")
	queued.Channel = "C0QUEUED"
	if code, reason := s.send(s.signed(s.edge, slack, queued, slack.cred)); code != 200 {
		t.Fatalf("slack event: %d %s", code, reason)
	}
	uninstall := []byte(`{"token":"XXYYZZ","team_id":"T0INITECH","api_app_id":"A0INITECH","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"Ev0UNINSTALL","event_time":` +
		strconv.FormatInt(time.Now().Unix(), 10) + `}`)
	sg, err := testevent.Sign("slack", s.edge+slack.path(), uninstall, "application/json", slack.cred, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := s.send(sg); code != 200 {
		t.Fatalf("app_uninstalled: %d %s", code, reason)
	}
	t.Logf("slack app_uninstalled accepted -> the edge refuses the installation (revoked): %s", s.waitRevokedAtEdge(slack, time.Now()).Round(time.Millisecond))

	// The queued task becomes a dead letter with the provider's reason.
	s.waitDeadLetter(slack.id, queued.EventID, "revoked by the provider (app_uninstalled)")

	// 2. Telegram: the user blocks the bot in one private chat.
	const blockedChat, otherChat = "4242001", "4242002"
	block := []byte(`{"update_id":900001,"my_chat_member":{"chat":{"id":` + blockedChat + `,"first_name":"Ann","type":"private"},"from":{"id":` + blockedChat +
		`,"is_bot":false,"first_name":"Ann"},"date":1700000000,"old_chat_member":{"user":{"id":700100,"is_bot":true,"first_name":"Bot"},"status":"member"},` +
		`"new_chat_member":{"user":{"id":700100,"is_bot":true,"first_name":"Bot"},"status":"kicked","until_date":0}}}`)
	sg, err = testevent.Sign("telegram", s.edge+telegram.path(), block, "application/json", telegram.cred, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := s.send(sg); code != 200 {
		t.Fatalf("my_chat_member kicked: %d %s", code, reason)
	}
	for _, chat := range []string{blockedChat, otherChat} {
		ev := telegram.event("after the block in " + chat)
		ev.Channel, ev.User = chat, chat
		if code, reason := s.send(s.signed(s.edge, telegram, ev, telegram.cred)); code != 200 {
			t.Fatalf("telegram message in %s: %d %s", chat, code, reason)
		}
	}
	s.waitDelivered("after the block in "+otherChat, 10*time.Second)

	// 3. Discord: the user deauthorizes the app (webhook event, signed like
	// interactions); answered 204 as Discord expects.
	deauth := []byte(`{"version":1,"application_id":"1183190493240578048","type":1,"event":{"type":"APPLICATION_DEAUTHORIZED","timestamp":"2026-12-01T22:00:00.000000","data":{"user":{"id":"` +
		discordUser + `","username":"mason","discriminator":"0"}}}}`)
	sg, err = testevent.Sign("discord", s.edge+discord.path(), deauth, "application/json", discord.cred, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := s.send(sg); code != 204 {
		t.Fatalf("APPLICATION_DEAUTHORIZED: %d %s", code, reason)
	}
	t.Logf("discord APPLICATION_DEAUTHORIZED accepted -> the edge refuses: %s", s.waitRevokedAtEdge(discord, time.Now()).Round(time.Millisecond))

	// 4. GitHub: the App is uninstalled from the account.
	ghBody, err := os.ReadFile("../provider/github/testdata/installation_deleted.json")
	if err != nil {
		t.Fatal(err)
	}
	sg, err = testevent.Sign("github", s.edge+github.path(), ghBody, "application/json", github.cred, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sg.Headers = append(sg.Headers, [2]string{"X-GitHub-Event", "installation"}, [2]string{"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-" + randHex(6)})
	if code, reason := s.send(sg); code != 200 {
		t.Fatalf("installation deleted: %d %s", code, reason)
	}
	t.Logf("github installation deleted accepted -> the edge refuses: %s", s.waitRevokedAtEdge(github, time.Now()).Round(time.Millisecond))

	// 5. Messenger: Meta's deauthorize callback, a signed_request verified
	// by the edge with the app secret.
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"algorithm":"HMAC-SHA256","expires":0,"issued_at":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"user_id":"6934012343346218"}`))
	mac := hmac.New(sha256.New, []byte(metaSecret))
	mac.Write([]byte(payload))
	form := "signed_request=" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + payload
	// A forged one is refused by the edge and revokes nothing.
	forged := "signed_request=" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + "." + payload
	ct := [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}}
	if code, reason := post(t, s.edge+messenger.path(), ct, []byte(forged)); code != 401 && code != 403 {
		t.Fatalf("forged deauthorize callback: %d %s", code, reason)
	}
	if code, reason := post(t, s.edge+messenger.path(), ct, []byte(form)); code != 200 {
		t.Fatalf("deauthorize callback: %d %s", code, reason)
	}
	t.Logf("messenger deauthorize accepted -> the edge refuses: %s", s.waitRevokedAtEdge(messenger, time.Now()).Round(time.Millisecond))

	// The audit log holds each revocation with the provider's reason.
	wantReasons := map[string]string{slack.id: "app_uninstalled", discord.id: "APPLICATION_DEAUTHORIZED",
		github.id: "installation.deleted", messenger.id: "deauthorize"}
	got := map[string]string{}
	chatRevoked := false
	for _, ev := range s.auditEvents(org) {
		d := map[string]any{}
		json.Unmarshal([]byte(ev["detail"].(string)), &d)
		switch ev["action"] {
		case "installation.revoke":
			if ev["actor"] == "provider:"+d["provider"].(string) {
				got[ev["target"].(string)], _ = d["reason"].(string)
			}
		case "conversation.revoke":
			chatRevoked = chatRevoked || (ev["target"] == telegram.id && d["conversation"] == blockedChat && d["reason"] == "my_chat_member.kicked")
		}
	}
	for id, want := range wantReasons {
		if got[id] != want {
			t.Errorf("installation %s: audited revocation reason %q, want %q (all: %v)", id, got[id], want, got)
		}
	}
	if !chatRevoked {
		t.Error("no conversation.revoke audit event for the blocked Telegram chat")
	}
	// The blocked chat's message never reached the agent, and the bot was
	// not revoked as a whole.
	s.waitDrained(20 * time.Second)
	for _, d := range s.received() {
		if strings.Contains(d.Envelope.Text, "after the block in "+blockedChat) {
			t.Fatalf("the blocked chat's message was delivered: %+v", d.Envelope)
		}
		if d.Envelope.InstallationID == slack.id && strings.Contains(d.Envelope.Text, "queued before") {
			t.Fatal("the queued Slack event was delivered after the uninstall")
		}
	}
	if code, reason := s.send(s.signed(s.edge, telegram, telegram.event("bot still serves its other chats"), telegram.cred)); code != 200 {
		t.Fatalf("telegram after the block: %d %s", code, reason)
	}
	s.checkLogsHoldNoSecret()
}

// waitRevokedAtEdge sends in's signed events until the edge itself refuses
// them as revoked (its own counter moves: until the configuration push,
// the edge forwards them and ingest refuses them from the store) and
// returns how long that took after the revocation was accepted.
func (s *stack) waitRevokedAtEdge(in install, since time.Time) time.Duration {
	s.t.Helper()
	before := s.edgeCounter(in.provider, "reject", "revoked")
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		code, reason := s.send(s.signed(s.edge, in, in.event("after revocation "+strconv.Itoa(i)), in.cred))
		if code == 403 && reason == "revoked" && s.edgeCounter(in.provider, "reject", "revoked") > before {
			return time.Since(since)
		}
		if code < 300 {
			// (Ingest refuses it from the store until the push: revoked,
			// or malformed for a GitHub body without its event header.)
			s.t.Fatalf("%s: after the revocation was accepted the stack accepted an event: %d", in.provider, code)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: the edge itself does not refuse the installation 20 s after the revocation", in.provider)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGitHubAccepted sends a signed issue comment with GitHub's event
// headers until the edge and ingest accept it (the installation reached
// the edge).
func (s *stack) waitGitHubAccepted(in install) {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		body, ct, err := testevent.Body(in.event("probe github"))
		if err != nil {
			s.t.Fatal(err)
		}
		sg, err := testevent.Sign("github", s.edge+in.path(), body, ct, in.cred, time.Now())
		if err != nil {
			s.t.Fatal(err)
		}
		sg.Headers = append(sg.Headers, [2]string{"X-GitHub-Event", "issue_comment"}, [2]string{"X-GitHub-Delivery", "probe-" + randHex(8)})
		code, reason := s.send(sg)
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("github: edge never accepted: %d %s", code, reason)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDeadLetter polls the shard queues' dead letters for the event's task.
func (s *stack) waitDeadLetter(installation, eventID, want string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dl, err := worker.DeadLetters(context.Background(), s.rdb, shards)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, d := range dl {
			if d.InstallationID == installation && d.EventID == eventID {
				if !strings.Contains(d.LastError, want) {
					s.t.Fatalf("dead letter of %s: %q, want it to name %q", eventID, d.LastError, want)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no dead letter for event %s after 30 s: %+v", eventID, dl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// auditEvents lists the org's audit events through the API.
func (s *stack) auditEvents(org string) []map[string]any {
	s.t.Helper()
	page := s.call("GET", "/v1/audit?limit=1000&org_id="+org, nil, 200)
	items, _ := page["items"].([]any)
	var out []map[string]any
	for _, it := range items {
		ev, _ := it.(map[string]any)
		if ds, ok := ev["detail"].(map[string]any); ok {
			b, _ := json.Marshal(ds)
			ev["detail"] = string(b)
		}
		if _, ok := ev["detail"].(string); !ok {
			ev["detail"] = "{}"
		}
		out = append(out, ev)
	}
	return out
}
