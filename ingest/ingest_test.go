package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

var (
	ctx     = context.Background()
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	attKey  = []byte("0123456789abcdef0123456789abcdef")
	testNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
)

// Identities the edge would attest.
var (
	idSlackA = filter.Identity{Org: "org_a", Installation: "inst_slack_a", Profile: "prof_slack_a", Provider: "slack", IngressID: "ing_slack_a"}
	idSlackP = filter.Identity{Profile: "prof_slack_plat", Provider: "slack", IngressID: "ing_slack_plat", Platform: true}
	idTgA    = filter.Identity{Org: "org_a", Installation: "inst_tg_a", Profile: "prof_tg_a", Provider: "telegram", IngressID: "ing_tg_a"}
	idWaP    = filter.Identity{Profile: "prof_wa_plat", Provider: "whatsapp", IngressID: "ing_wa_plat", Platform: true}
	idDcA    = filter.Identity{Org: "org_a", Installation: "inst_dc_a", Profile: "prof_dc_a", Provider: "discord", IngressID: "ing_dc_a"}
)

type harness struct {
	t     testing.TB
	st    store.Store
	redis *servicetest.Redis
	q     *queue.Client
	h     *Handler
	logs  *bytes.Buffer
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed(t, st)
	r := servicetest.StartRedis(t)
	q := queue.NewClient(r.Addr, 4)
	t.Cleanup(func() { q.Close() })
	logs := &bytes.Buffer{}
	h, err := New(Config{
		Store: st, Queue: q, AttestationKey: attKey,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, st: st, redis: r, q: q, h: h, logs: logs}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seed(t testing.TB, s store.Store) {
	// Stages are explicit (no row: not served): every provider starts on.
	for _, p := range []string{"slack", "telegram", "whatsapp", "messenger", "instagram", "discord", "twilio", "line", "standardwebhooks", "github"} {
		must(t, s.SetStage(ctx, store.RolloutStage{Provider: p, Stage: store.StageOn, UpdatedAt: t0}))
	}
	for _, o := range []string{"org_a", "org_b"} {
		must(t, s.CreateOrg(ctx, store.Org{ID: o, Name: o, CreatedAt: t0}))
	}
	for _, p := range []store.AppProfile{
		{ID: "prof_slack_a", OwnerOrgID: "org_a", Provider: "slack", Name: "a", ExternalAppID: "A0001"},
		{ID: "prof_slack_plat", Provider: "slack", Name: "plat", ExternalAppID: "APLAT", IngressID: "ing_slack_plat"},
		{ID: "prof_tg_a", OwnerOrgID: "org_a", Provider: "telegram", Name: "tg"},
		{ID: "prof_wa_plat", Provider: "whatsapp", Name: "wa", IngressID: "ing_wa_plat"},
		{ID: "prof_dc_a", OwnerOrgID: "org_a", Provider: "discord", Name: "dc", ExternalAppID: "1183190493240578048"},
	} {
		p.CreatedAt = t0
		must(t, s.CreateProfile(ctx, p))
	}
	for _, i := range []store.Installation{
		{ID: "inst_slack_a", OrgID: "org_a", ProfileID: "prof_slack_a", Provider: "slack", ExternalID: "T0001", IngressID: "ing_slack_a"},
		{ID: "inst_slack_pa", OrgID: "org_a", ProfileID: "prof_slack_plat", Provider: "slack", ExternalID: "T0001", IngressID: "ing_slack_pa"},
		{ID: "inst_slack_pb", OrgID: "org_b", ProfileID: "prof_slack_plat", Provider: "slack", ExternalID: "T0002", IngressID: "ing_slack_pb"},
		{ID: "inst_tg_a", OrgID: "org_a", ProfileID: "prof_tg_a", Provider: "telegram", ExternalID: "555", IngressID: "ing_tg_a"},
		{ID: "inst_wa_b", OrgID: "org_b", ProfileID: "prof_wa_plat", Provider: "whatsapp", ExternalID: "106540352242922", IngressID: "ing_wa_b"},
		{ID: "inst_dc_a", OrgID: "org_a", ProfileID: "prof_dc_a", Provider: "discord", ExternalID: "613425648685547541", IngressID: "ing_dc_a"},
	} {
		i.CreatedAt = t0
		must(t, s.CreateInstallation(ctx, i))
	}
	for _, a := range []store.Agent{{ID: "agt_a1", OrgID: "org_a"}, {ID: "agt_a2", OrgID: "org_a"}, {ID: "agt_b1", OrgID: "org_b"}} {
		a.Name, a.URL, a.CreatedAt = a.ID, "http://127.0.0.1:1/"+a.ID, t0
		must(t, s.CreateAgent(ctx, a))
	}
	for _, b := range []store.Binding{
		{ID: "bind_slack_a_default", OrgID: "org_a", InstallationID: "inst_slack_a", AgentID: "agt_a1", Persona: "default"},
		{ID: "bind_slack_a_support", OrgID: "org_a", InstallationID: "inst_slack_a", AgentID: "agt_a1", Persona: "support",
			Selector: store.Selector{Channel: "C2147483705", Mention: "@support"}},
		{ID: "bind_slack_a_billing", OrgID: "org_a", InstallationID: "inst_slack_a", AgentID: "agt_a2", Persona: "billing",
			Selector: store.Selector{Channel: "C2147483705", Mention: "@billing"}},
		{ID: "bind_slack_pb", OrgID: "org_b", InstallationID: "inst_slack_pb", AgentID: "agt_b1", Persona: "shared"},
		{ID: "bind_tg", OrgID: "org_a", InstallationID: "inst_tg_a", AgentID: "agt_a2", Persona: "tg"},
		{ID: "bind_wa", OrgID: "org_b", InstallationID: "inst_wa_b", AgentID: "agt_b1", Persona: "wa"},
		{ID: "bind_dc", OrgID: "org_a", InstallationID: "inst_dc_a", AgentID: "agt_a1", Persona: "dc",
			Selector: store.Selector{Account: "613425648685547541"}},
	} {
		b.CreatedAt = t0
		must(t, s.CreateBinding(ctx, b))
	}
}

func path(id filter.Identity) string { return "/v1/hooks/" + id.Provider + "/" + id.IngressID }

type reqOpt func(r *http.Request)

func withCT(ct string) reqOpt { return func(r *http.Request) { r.Header.Set("Content-Type", ct) } }

// post sends body to the handler, attested for id (nil: no attestation).
func (h *harness) post(p string, id *filter.Identity, body []byte, opts ...reqOpt) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, p, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if id != nil {
		for _, kv := range filter.Attest(attKey, *id, body, testNow.Unix()) {
			r.Header.Set(kv[0], kv[1])
		}
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	return w
}

// tasks returns every envelope in the shard queues, by task id.
func (h *harness) tasks(t testing.TB) map[string]envelope.Envelope {
	t.Helper()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: h.redis.Addr})
	defer insp.Close()
	out := map[string]envelope.Envelope{}
	for s := 0; s < h.q.Shards(); s++ {
		tis, err := insp.ListPendingTasks(queue.QueueName(s))
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatalf("list %s: %v", queue.QueueName(s), err)
		}
		for _, ti := range tis {
			env, err := envelope.Decode(ti.Payload)
			if err != nil {
				t.Fatalf("task %s: %v", ti.ID, err)
			}
			if ti.ID != env.ID || ti.Queue != queue.QueueName(queue.Shard(env.SessionKey, h.q.Shards())) {
				t.Fatalf("task %s in %s does not match its envelope (id %s, session %s)", ti.ID, ti.Queue, env.ID, env.SessionKey)
			}
			out[ti.ID] = env
		}
	}
	return out
}

func sessionKeys(m map[string]envelope.Envelope) []string {
	var out []string
	for _, e := range m {
		out = append(out, e.SessionKey)
	}
	sort.Strings(out)
	return out
}

func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int, reason Reason) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if reason != "" {
		var got struct{ Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error != string(reason) {
			t.Fatalf("body %s, want error %q", w.Body, reason)
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) audits(action string) []store.AuditEvent {
	h.t.Helper()
	all, err := h.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

const slackMsg = `{"team_id":"T0001","api_app_id":"A0001","type":"event_callback","event_id":"EvPLAIN1","event":{"type":"message","channel":"C9","user":"U1","text":"hello","ts":"1.1"}}`

func TestAttestation(t *testing.T) {
	h := newHarness(t)
	body := []byte(slackMsg)

	t.Run("missing", func(t *testing.T) {
		wantStatus(t, h.post(path(idSlackA), nil, body), 401, ReasonAttestationMissing)
	})
	t.Run("wrong key", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, path(idSlackA), bytes.NewReader(body))
		for _, kv := range filter.Attest([]byte("another key of thirty-two bytes!"), idSlackA, body, testNow.Unix()) {
			r.Header.Set(kv[0], kv[1])
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		wantStatus(t, w, 401, ReasonAttestationInvalid)
	})
	t.Run("body changed after attestation", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, path(idSlackA), strings.NewReader(strings.Replace(slackMsg, "hello", "HELLO", 1)))
		for _, kv := range filter.Attest(attKey, idSlackA, body, testNow.Unix()) {
			r.Header.Set(kv[0], kv[1])
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		wantStatus(t, w, 401, ReasonAttestationInvalid)
	})
	t.Run("spoofed org header", func(t *testing.T) {
		w := h.post(path(idSlackA), &idSlackA, body, func(r *http.Request) { r.Header.Set(filter.HeaderOrg, "org_b") })
		wantStatus(t, w, 401, ReasonAttestationInvalid)
	})
	t.Run("stale", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, path(idSlackA), bytes.NewReader(body))
		for _, kv := range filter.Attest(attKey, idSlackA, body, testNow.Add(-10*time.Minute).Unix()) {
			r.Header.Set(kv[0], kv[1])
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		wantStatus(t, w, 401, ReasonAttestationInvalid)
	})
	t.Run("attested for another path", func(t *testing.T) {
		wantStatus(t, h.post("/v1/hooks/slack/ing_other", &idSlackA, body), 403, ReasonIdentityMismatch)
	})
	if n := len(h.tasks(t)); n != 0 {
		t.Fatalf("%d tasks enqueued by refused requests", n)
	}
	if n := len(h.audits("webhook.reject")); n != 6 {
		t.Fatalf("%d webhook.reject audit events, want 6", n)
	}
	if strings.Contains(h.logs.String(), string(attKey)) {
		t.Fatal("attestation key in logs")
	}
}

func TestProvidersEnqueueWithSessionKey(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name    string
		id      filter.Identity
		file    string
		ct      string
		ack     string
		keys    []string
		eventID string
	}{
		{"slack", idSlackA, "../provider/slack/testdata/event_thread_files.json", "application/json", "",
			[]string{"s1/org_a/slack/inst_slack_a/C2147483705/1355517523.000005/agt_a1/default"}, "Ev0PV52K22"},
		{"slack slash command", idSlackA, "../provider/slack/testdata/slash_command.form", "application/x-www-form-urlencoded", "",
			[]string{"s1/org_a/slack/inst_slack_a/C2147483705//agt_a1/default"}, "13345224609.738474920.8088930838d88f008e0"},
		{"slack interactivity", idSlackA, "../provider/slack/testdata/block_actions.form", "application/x-www-form-urlencoded", "",
			[]string{"s1/org_a/slack/inst_slack_a/C2147483705/1548261200.000100/agt_a1/default"}, "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3"},
		{"telegram", idTgA, "../provider/telegram/testdata/forum_topic_photo.json", "application/json", "",
			[]string{"s1/org_a/telegram/inst_tg_a/-1002222222/42/agt_a2/tg"}, "10001"},
		{"whatsapp shared app", idWaP, "../provider/whatsapp/testdata/text_message.json", "application/json", "",
			[]string{"s1/org_b/whatsapp/inst_wa_b/16505551234//agt_b1/wa"}, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="},
		{"discord", idDcA, "../provider/discord/testdata/command.json", "application/json", `{"type":5}`,
			[]string{"s1/org_a/discord/inst_dc_a/697138785317814292//agt_a1/dc"}, "1183201108930498580"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := readFile(t, c.file)
			w := h.post(path(c.id), &c.id, body, withCT(c.ct))
			wantStatus(t, w, 200, "")
			if w.Body.String() != c.ack {
				t.Fatalf("answer %q, want %q", w.Body, c.ack)
			}
			var got []envelope.Envelope
			for id, e := range h.tasks(t) {
				if !seen[id] {
					seen[id] = true
					got = append(got, e)
				}
			}
			if len(got) != len(c.keys) {
				t.Fatalf("%d new tasks, want %d", len(got), len(c.keys))
			}
			e := got[0]
			if e.SessionKey != c.keys[0] {
				t.Fatalf("session key %q, want %q", e.SessionKey, c.keys[0])
			}
			if e.EventID != c.eventID || e.Provider != c.id.Provider || e.Seq != 1 || !e.ReceivedAt.Equal(testNow) {
				t.Fatalf("envelope fields wrong: %+v", e)
			}
			if !json.Valid(e.Raw) {
				t.Fatal("raw is not JSON")
			}
			if strings.HasSuffix(c.file, ".form") {
				var form string
				if err := json.Unmarshal(e.Raw, &form); err != nil || form != string(body) {
					t.Fatalf("form body not carried as a JSON string: %s", e.Raw)
				}
			}
			// JSON encoding compacts a RawMessage: whitespace goes, escapes
			// (Meta's \uXXXX) and field order stay.
			var compact bytes.Buffer
			if strings.HasSuffix(c.file, ".json") && (json.Compact(&compact, body) != nil || !bytes.Equal(e.Raw, compact.Bytes())) {
				t.Fatalf("raw is not the body as received:\n%s", e.Raw)
			}
		})
	}
}

func TestDuplicateEventOneTask(t *testing.T) {
	h := newHarness(t)
	body := []byte(slackMsg)
	for i := 0; i < 3; i++ {
		wantStatus(t, h.post(path(idSlackA), &idSlackA, body), 200, "")
	}
	tasks := h.tasks(t)
	if len(tasks) != 1 {
		t.Fatalf("%d tasks after the same event three times, want 1", len(tasks))
	}
	for _, e := range tasks {
		if e.Seq != 1 {
			t.Fatalf("seq %d, want 1: duplicates burned sequence numbers", e.Seq)
		}
	}
}

func TestSharedChannelTwoAgentsTwoSessions(t *testing.T) {
	h := newHarness(t)
	body := readFile(t, "../provider/slack/testdata/event_message.json") // mentions @support and @billing
	wantStatus(t, h.post(path(idSlackA), &idSlackA, body), 200, "")
	tasks := h.tasks(t)
	want := []string{
		"s1/org_a/slack/inst_slack_a/C2147483705//agt_a1/support",
		"s1/org_a/slack/inst_slack_a/C2147483705//agt_a2/billing",
	}
	if got := sessionKeys(tasks); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("session keys %v, want %v", got, want)
	}
	for _, e := range tasks {
		if e.EventID != "Ev0PV52K21" {
			t.Fatalf("event id %q", e.EventID)
		}
	}
}

func TestRedisOutage(t *testing.T) {
	h := newHarness(t)
	first := []byte(slackMsg)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, first), 200, "")

	h.redis.Stop()
	second := readFile(t, "../provider/telegram/testdata/message_text.json")
	w := h.post(path(idTgA), &idTgA, second)
	wantStatus(t, w, 503, ReasonQueueUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	h.redis.Start()
	// The provider retries the refused event: accepted now.
	wantStatus(t, h.post(path(idTgA), &idTgA, second), 200, "")
	// A retry of the event acknowledged before the outage stays one task.
	wantStatus(t, h.post(path(idSlackA), &idSlackA, first), 200, "")
	tasks := h.tasks(t)
	var events []string
	for _, e := range tasks {
		events = append(events, e.Provider+":"+e.EventID)
	}
	sort.Strings(events)
	if strings.Join(events, ",") != "slack:EvPLAIN1,telegram:10000" {
		t.Fatalf("tasks after the outage: %v, want the acknowledged event and the retried one, once each", events)
	}
}

func TestHandshakes(t *testing.T) {
	h := newHarness(t)
	w := h.post(path(idSlackP), &idSlackP, readFile(t, "../provider/slack/testdata/url_verification.json"))
	wantStatus(t, w, 200, "")
	if w.Body.String() != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("url_verification answer %q", w.Body)
	}
	w = h.post(path(idDcA), &idDcA, readFile(t, "../provider/discord/testdata/ping.json"))
	wantStatus(t, w, 200, "")
	if w.Body.String() != `{"type":1}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("PING answer %q (%s)", w.Body, w.Header().Get("Content-Type"))
	}
	// A handshake without attestation is refused like anything else.
	wantStatus(t, h.post(path(idDcA), nil, readFile(t, "../provider/discord/testdata/ping.json")), 401, ReasonAttestationMissing)
	if n := len(h.tasks(t)); n != 0 {
		t.Fatalf("handshakes enqueued %d tasks", n)
	}
}

func slackBody(team, app, eventID string) []byte {
	return []byte(`{"team_id":"` + team + `","api_app_id":"` + app + `","type":"event_callback","event_id":"` + eventID +
		`","event":{"type":"message","channel":"C5","user":"U5","text":"hi","ts":"2.2"}}`)
}

func TestTenancy(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name   string
		id     filter.Identity
		body   []byte
		status int
		reason Reason
		key    string
	}{
		{"shared app resolves org b from team id", idSlackP, slackBody("T0002", "APLAT", "EvT1"), 200, "",
			"s1/org_b/slack/inst_slack_pb/C5//agt_b1/shared"},
		{"shared app, org a installation without binding", idSlackP, slackBody("T0001", "APLAT", "EvT2"), 200, "", ""},
		{"shared app, unknown team", idSlackP, slackBody("T9999", "APLAT", "EvT3"), 403, ReasonUnknownInstallation, ""},
		{"shared app, another app id in body", idSlackP, slackBody("T0002", "A0001", "EvT4"), 403, ReasonTenantMismatch, ""},
		{"byoa, body from another workspace", idSlackA, slackBody("T0002", "A0001", "EvT5"), 403, ReasonTenantMismatch, ""},
		{"byoa, body of another app", idSlackA, slackBody("T0001", "APLAT", "EvT6"), 403, ReasonTenantMismatch, ""},
		{"byoa identity naming another org's installation", filter.Identity{Org: "org_b", Installation: "inst_slack_a", Profile: "prof_slack_a", Provider: "slack", IngressID: "ing_slack_a"},
			slackBody("T0001", "A0001", "EvT7"), 403, ReasonTenantMismatch, ""},
		{"byoa identity naming a platform installation", filter.Identity{Org: "org_b", Installation: "inst_slack_pb", Profile: "prof_slack_plat", Provider: "slack", IngressID: "ing_slack_pb"},
			slackBody("T0002", "APLAT", "EvT8"), 403, ReasonTenantMismatch, ""},
		{"platform identity with an org profile", filter.Identity{Profile: "prof_slack_a", Provider: "slack", IngressID: "x", Platform: true},
			slackBody("T0001", "A0001", "EvT9"), 403, ReasonTenantMismatch, ""},
		{"unknown installation", filter.Identity{Org: "org_a", Installation: "inst_nope", Profile: "prof_slack_a", Provider: "slack", IngressID: "ing_nope"},
			slackBody("T0001", "A0001", "EvT10"), 403, ReasonUnknownInstallation, ""},
		{"shared whatsapp batch with an unknown phone number: refused whole", idWaP, readFile(t, "../provider/whatsapp/testdata/batch_media.json"), 403, ReasonUnknownInstallation, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(h.tasks(t))
			wantStatus(t, h.post(path(c.id), &c.id, c.body), c.status, c.reason)
			after := h.tasks(t)
			wantNew := 0
			if c.key != "" {
				wantNew = 1
			}
			if len(after)-before != wantNew {
				t.Fatalf("%d new tasks, want %d", len(after)-before, wantNew)
			}
			if c.key != "" {
				found := false
				for _, e := range after {
					found = found || e.SessionKey == c.key
				}
				if !found {
					t.Fatalf("no task with session key %s in %v", c.key, sessionKeys(after))
				}
			}
		})
	}
	if !strings.Contains(h.logs.String(), `"msg":"no_binding: event acknowledged without a target"`) {
		t.Error("no_binding not logged")
	}
	rejects := h.audits("webhook.reject")
	if len(rejects) != 9 {
		t.Fatalf("%d webhook.reject audits, want 9", len(rejects))
	}
	for _, a := range rejects {
		if a.Actor != "ingest" || !json.Valid([]byte(a.Detail)) || !strings.Contains(a.Detail, `"reason"`) {
			t.Fatalf("audit event %+v", a)
		}
	}
}

func TestRolloutStage(t *testing.T) {
	h := newHarness(t)
	set := func(stage string, orgs ...string) {
		must(t, h.st.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: stage, CanaryOrgs: orgs, UpdatedAt: t0}))
	}
	set(store.StageOff)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvS1")), 403, ReasonProviderOff)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, readFile(t, "../provider/slack/testdata/url_verification.json")), 403, ReasonProviderOff)
	set(store.StageCanary, "org_b")
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvS2")), 403, ReasonProviderCanary)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "EvS3")), 200, "")
	set(store.StageOn)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvS4")), 200, "")
	// Other providers are unaffected by slack's stage.
	if n := len(h.tasks(t)); n != 2 {
		t.Fatalf("%d tasks, want 2 (EvS3, EvS4)", n)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, []byte(`{"type":"event_callback"`)), 400, ReasonMalformedPayload)
	big := bytes.Repeat([]byte("a"), DefaultMaxBodyBytes+1)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, big), 413, ReasonBodyTooLarge)
	unknown := filter.Identity{Org: "org_a", Installation: "inst_x", Profile: "prof_x", Provider: "carrierpigeon", IngressID: "ing_x"}
	wantStatus(t, h.post(path(unknown), &unknown, []byte(`{}`)), 404, ReasonUnknownProvider)
	must(t, h.st.RevokeInstallation(ctx, "inst_tg_a", t0))
	wantStatus(t, h.post(path(idTgA), &idTgA, readFile(t, "../provider/telegram/testdata/document.json")), 403, ReasonRevoked)
	must(t, h.st.RevokeOrg(ctx, "org_a", t0))
	wantStatus(t, h.post(path(idDcA), &idDcA, readFile(t, "../provider/discord/testdata/component.json")), 403, ReasonRevoked)
	// The bot's own message and status updates are acknowledged, not refused.
	wantStatus(t, h.post(path(idWaP), &idWaP, readFile(t, "../provider/whatsapp/testdata/status_ignored.json")), 200, "")
	if n := len(h.tasks(t)); n != 0 {
		t.Fatalf("%d tasks enqueued by refused requests", n)
	}
	// GET is not a webhook.
	r := httptest.NewRequest(http.MethodGet, path(idSlackA), nil)
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", w.Code)
	}
	io.Copy(io.Discard, w.Body)
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

// TestRefusalAnswerCarriesDetail: a refusal answer carries the same short
// detail as its log line and audit event (never the payload or a secret).
func TestRefusalAnswerCarriesDetail(t *testing.T) {
	h := newHarness(t)
	w := h.post(path(idSlackA), &idSlackA, slackBody("T0002", "A0001", "EvD1"))
	var got struct{ Error, Detail string }
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error != string(ReasonTenantMismatch) || got.Detail == "" {
		t.Fatalf("answer %d %s: want tenant_mismatch with a detail", w.Code, w.Body)
	}
	rejects := h.audits("webhook.reject")
	if len(rejects) == 0 {
		t.Fatal("no webhook.reject audit event")
	}
	var ev struct{ Detail string }
	if err := json.Unmarshal([]byte(rejects[len(rejects)-1].Detail), &ev); err != nil || ev.Detail != got.Detail {
		t.Fatalf("answer detail %q, audit detail %q", got.Detail, ev.Detail)
	}
	if strings.Contains(got.Detail, `"event"`) || strings.Contains(got.Detail, "EvD1") {
		t.Fatalf("detail holds the payload: %q", got.Detail)
	}
	w = h.post(path(idSlackA), &idSlackA, []byte(`{"type":"event_callback"`))
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error != string(ReasonMalformedPayload) || got.Detail == "" {
		t.Fatalf("malformed payload answer %s: want a detail", w.Body)
	}
}
