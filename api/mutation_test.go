package api_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/store"
)

// TestSecretsWriteOnly: secrets go in sealed (AAD = secret id) and come out
// only as fingerprints, in no response, audit event, log line or database byte.
func TestSecretsWriteOnly(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	tgProf := id(h.create("/v1/profiles", f.orgTok, map[string]any{"org_id": a1.id, "provider": "telegram", "name": "bot"}))
	inst := h.create("/v1/installations", f.orgTok, map[string]any{"org_id": a1.id, "profile_id": tgProf, "provider": "telegram", "external_id": "123456",
		"secrets": map[string]string{"secret_token": telegramToken, "bot_token": telegramBot}})
	if p := inst["webhook_path"].(string); p != "/v1/hooks/telegram/"+inst["ingress_id"].(string) || len(inst["ingress_id"].(string)) != 32 {
		t.Fatalf("webhook path %q, ingress %q", p, inst["ingress_id"])
	}
	agent := h.create("/v1/agents", f.orgTok, map[string]any{"org_id": a1.id, "name": "bot agent", "url": "https://agent.example/hook"})
	agentSecret, _ := agent["signing_secret"].(string)
	if !strings.HasPrefix(agentSecret, "whsec_") {
		t.Fatalf("agent creation did not return its generated secret once: %v", agent)
	}
	rot := func() map[string]any {
		_, out := h.call("POST", "/v1/installations/"+id(inst)+"/secrets/secret_token/rotate", f.orgTok, map[string]any{"value": "rotated_Token-2", "previous_valid_until": rotateUntil})
		return out
	}()
	plain := []string{telegramToken, telegramBot, agentSecret, "rotated_Token-2", slackSigning, slackBot}

	// Fingerprints match the keyring's Fingerprint of the values.
	fps := map[string]string{}
	for _, s := range inst["secrets"].([]any) {
		m := s.(map[string]any)
		fps[m["purpose"].(string)] = m["fingerprint"].(string)
	}
	if fps["secret_token"] != h.keys.Fingerprint([]byte(telegramToken)) || fps["bot_token"] != h.keys.Fingerprint([]byte(telegramBot)) {
		t.Fatalf("fingerprints %v", fps)
	}

	var bodies [][]byte
	bodies = append(bodies, mustJSON(t, rot))
	for _, path := range []string{"/v1/installations/" + id(inst), "/v1/installations", "/v1/agents/" + id(agent), "/v1/agents", "/v1/profiles", "/v1/audit?limit=1000"} {
		_, raw := h.callRaw("GET", path, h.admin, nil)
		bodies = append(bodies, raw)
	}
	_, raw := h.callRaw("GET", "/v1/agents/"+id(agent), f.orgTok, nil)
	if bytes.Contains(raw, []byte("signing_secret")) {
		t.Fatal("agent secret returned after creation")
	}
	bodies = append(bodies, h.logs.Bytes())
	for _, b := range bodies {
		for _, p := range plain {
			if bytes.Contains(b, []byte(p)) {
				t.Fatalf("plaintext secret %q... found in an answer or log: %.200s", p[:6], b)
			}
		}
	}

	// Stored sealed: opens with the keyring under its own id only.
	ss, err := h.raw.ListSecrets(context.Background(), store.OwnerInstallation, id(inst))
	if err != nil || len(ss) != 3 {
		t.Fatalf("secrets: %d %v", len(ss), err)
	}
	for _, s := range ss {
		pt, err := h.keys.Open(s.KeyID, s.Ciphertext, s.ID)
		if err != nil {
			t.Fatalf("open %s: %v", s.ID, err)
		}
		if h.keys.Fingerprint(pt) != s.Fingerprint {
			t.Errorf("secret %s: fingerprint does not match its plaintext", s.ID)
		}
		if _, err := h.keys.Open(s.KeyID, s.Ciphertext, "sec_other"); err == nil {
			t.Errorf("secret %s opens under another id", s.ID)
		}
	}
	// No plaintext in the database files.
	h.raw.Close()
	for _, suffix := range []string{"", "-wal"} {
		db, err := os.ReadFile(h.dbPath + suffix)
		if err != nil && suffix == "" {
			t.Fatal(err)
		}
		for _, p := range plain {
			if bytes.Contains(db, []byte(p)) {
				t.Fatalf("plaintext secret in database file %s", h.dbPath+suffix)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotation: the previous secret stays valid until previous_valid_until,
// the new one from now; both in one transaction with one audit event.
func TestRotation(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	ctx := context.Background()
	inst := h.create("/v1/installations", f.orgTok, map[string]any{"org_id": a1.id, "profile_id": a1.prof, "external_id": "TROT", "secrets": map[string]string{"signing": slackSigning}})
	status, out := h.call("POST", "/v1/installations/"+id(inst)+"/secrets/signing/rotate", f.orgTok, map[string]any{"value": slackSigning2, "previous_valid_until": rotateUntil})
	if status != 200 {
		t.Fatalf("rotate: %d %v", status, out)
	}
	if out["secret"].(map[string]any)["fingerprint"] != h.keys.Fingerprint([]byte(slackSigning2)) || len(out["secrets"].([]any)) != 2 {
		t.Fatalf("rotate answer %v", out)
	}
	ss, err := h.raw.ListSecrets(ctx, store.OwnerInstallation, id(inst))
	if err != nil {
		t.Fatal(err)
	}
	until, _ := time.Parse(time.RFC3339, rotateUntil)
	var old, cur *store.Secret
	for i := range ss {
		switch ss[i].Fingerprint {
		case h.keys.Fingerprint([]byte(slackSigning)):
			old = &ss[i]
		case h.keys.Fingerprint([]byte(slackSigning2)):
			cur = &ss[i]
		}
	}
	if old == nil || cur == nil {
		t.Fatalf("secrets after rotation: %+v", ss)
	}
	if old.NotAfter == nil || !old.NotAfter.Equal(until) {
		t.Errorf("previous secret valid until %v, want %v", old.NotAfter, until)
	}
	if cur.NotAfter != nil || !cur.NotBefore.Equal(testNow) {
		t.Errorf("new secret window %v..%v", cur.NotBefore, cur.NotAfter)
	}
	ev := lastAudit(t, h)
	if ev.Action != "secret.rotate" || ev.Target != id(inst) || ev.OrgID != a1.id || !strings.Contains(ev.Detail, rotateUntil) || strings.Contains(ev.Detail, slackSigning2) {
		t.Errorf("audit %+v", ev)
	}
	// A second rotation leaves the first window alone and ends the second.
	if status, out := h.call("POST", "/v1/installations/"+id(inst)+"/secrets/signing/rotate", f.orgTok, map[string]any{"value": strings.Repeat("c", 32), "previous_valid_until": "2030-01-03T00:00:00Z"}); status != 200 {
		t.Fatalf("second rotate: %d %v", status, out)
	}
	ss, _ = h.raw.ListSecrets(ctx, store.OwnerInstallation, id(inst))
	live := 0
	for _, s := range ss {
		if s.NotAfter == nil {
			live++
		}
		if s.ID == old.ID && !s.NotAfter.Equal(until) {
			t.Errorf("first rotated-out secret's window changed to %v", s.NotAfter)
		}
	}
	if live != 1 || len(ss) != 3 {
		t.Errorf("after two rotations: %d secrets, %d without end", len(ss), live)
	}
	// Agent secrets rotate with a generated value returned once.
	status, out = h.call("POST", "/v1/agents/"+a1.agent+"/secrets/signing/rotate", f.orgTok, map[string]any{"previous_valid_until": rotateUntil})
	if v, _ := out["value"].(string); status != 200 || !strings.HasPrefix(v, "whsec_") {
		t.Fatalf("agent rotate: %d %v", status, out)
	}
}

func lastAudit(t *testing.T, h *harness) store.AuditEvent {
	t.Helper()
	evs, err := h.raw.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil || len(evs) == 0 {
		t.Fatalf("audit: %v", err)
	}
	return evs[len(evs)-1]
}

// faultyStore fails one Queries method inside transactions (a real SQLite
// store underneath), to prove a failing mutation leaves nothing behind.
type faultyStore struct {
	store.Store
	fail string
}

func (f *faultyStore) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return f.Store.InTx(ctx, func(q store.Queries) error { return fn(faultyQueries{q, f.fail}) })
}

type faultyQueries struct {
	store.Queries
	fail string
}

var errInjected = errors.New("injected failure")

func (q faultyQueries) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	if q.fail == "AppendAudit" {
		return 0, errInjected
	}
	return q.Queries.AppendAudit(ctx, e)
}

func (q faultyQueries) CreateSecret(ctx context.Context, s store.Secret) error {
	if q.fail == "CreateSecret" && s.Purpose == store.PurposeBotToken {
		return errInjected
	}
	return q.Queries.CreateSecret(ctx, s)
}

func (q faultyQueries) ExpireSecrets(ctx context.Context, kind, id, purpose string, at time.Time) error {
	if err := q.Queries.ExpireSecrets(ctx, kind, id, purpose, at); err != nil {
		return err
	}
	if q.fail == "AfterExpire" {
		return errInjected
	}
	return nil
}

func (q faultyQueries) RevokeBinding(ctx context.Context, id string, at time.Time) error {
	if q.fail == "RevokeBinding" {
		return errInjected
	}
	return q.Queries.RevokeBinding(ctx, id, at)
}

func TestFailedMutationLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		fail, method string
		path         func(f *fixture) string
		body         func(f *fixture) any
	}{
		{"AppendAudit", "POST", func(*fixture) string { return "/v1/installations" }, func(f *fixture) any {
			return map[string]any{"org_id": f.org["A1"].id, "profile_id": f.org["A1"].prof, "external_id": "TFAIL", "secrets": map[string]string{"signing": slackSigning2}}
		}},
		{"CreateSecret", "POST", func(*fixture) string { return "/v1/installations" }, func(f *fixture) any {
			return map[string]any{"org_id": f.org["A1"].id, "profile_id": f.org["A1"].prof, "external_id": "TFAIL", "secrets": map[string]string{"signing": slackSigning2, "bot_token": slackBot}}
		}},
		{"AppendAudit", "POST", func(*fixture) string { return "/v1/orgs" }, func(f *fixture) any { return map[string]any{"name": "never"} }},
		{"AppendAudit", "POST", func(*fixture) string { return "/v1/agents" }, func(f *fixture) any {
			return map[string]any{"org_id": f.org["A1"].id, "name": "never", "url": "https://x/"}
		}},
		{"AfterExpire", "POST", func(f *fixture) string { return "/v1/installations/" + f.org["A1"].inst + "/secrets/bot_token/rotate" }, func(f *fixture) any {
			return map[string]any{"value": "xoxb-never", "previous_valid_until": rotateUntil}
		}},
		{"RevokeBinding", "POST", func(f *fixture) string { return "/v1/orgs/" + f.org["A1"].id + "/revoke" }, nil},
		{"AppendAudit", "PUT", func(*fixture) string { return "/v1/providers/slack/stage" }, func(*fixture) any { return map[string]any{"stage": "off"} }},
	} {
		t.Run(tc.fail+"/"+tc.method, func(t *testing.T) {
			var fs *faultyStore
			h := newHarness(t, func(s store.Store) store.Store { fs = &faultyStore{Store: s}; return fs })
			f := h.fixture()
			before := snapshot(t, h)
			fs.fail = tc.fail
			var body any
			if tc.body != nil {
				body = tc.body(f)
			}
			status, out := h.call(tc.method, tc.path(f), h.admin, body)
			if status != 500 || out["error"].(map[string]any)["code"] != "internal" {
				t.Fatalf("status %d %v, want 500 internal", status, out)
			}
			if strings.Contains(mustString(out), "injected") {
				t.Errorf("internal error detail answered: %v", out)
			}
			if after := snapshot(t, h); after != before {
				t.Errorf("store changed by a failed mutation:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func mustString(v any) string { b, _ := jsonMarshal(v); return string(b) }

// snapshot summarises every table the API writes.
func snapshot(t *testing.T, h *harness) string {
	t.Helper()
	ctx := context.Background()
	q := h.raw
	var b strings.Builder
	orgs, _ := q.ListOrgs(ctx, "")
	insts, _ := q.ListInstallations(ctx, "")
	secs, _ := q.ListAllSecrets(ctx)
	agents, _ := q.ListAgents(ctx, "")
	binds, _ := q.ListBindings(ctx, "")
	stages, _ := q.ListStages(ctx)
	audit, _ := q.ListAudit(ctx, store.AuditFilter{})
	gen, _ := q.Generation(ctx)
	for _, o := range orgs {
		b.WriteString(o.ID + revokedMark(o.RevokedAt))
	}
	for _, i := range insts {
		b.WriteString(i.ID + revokedMark(i.RevokedAt))
	}
	for _, s := range secs {
		b.WriteString(s.ID)
		if s.NotAfter != nil {
			b.WriteString("~" + s.NotAfter.String())
		}
	}
	for _, a := range agents {
		b.WriteString(a.ID + revokedMark(a.RevokedAt))
	}
	for _, x := range binds {
		b.WriteString(x.ID + revokedMark(x.RevokedAt))
	}
	for _, s := range stages {
		b.WriteString(s.Provider + s.Stage)
	}
	return b.String() + " audit=" + itoa(len(audit)) + " gen=" + itoa(int(gen))
}

func revokedMark(t *time.Time) string {
	if t != nil {
		return "(r)"
	}
	return ""
}

func TestEnsureAdminToken(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	tok := "a-bootstrap-admin-token-value"
	id1, created, err := api.EnsureAdminToken(ctx, h.raw, tok)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	id2, created, err := api.EnsureAdminToken(ctx, h.raw, tok)
	if err != nil || created || id2 != id1 {
		t.Fatalf("second: %s %v %v", id2, created, err)
	}
	if s, _ := h.call("GET", "/v1/whoami", tok, nil); s != 200 {
		t.Fatalf("bootstrap token refused: %d", s)
	}
	if _, _, err := api.EnsureAdminToken(ctx, h.raw, "short"); err == nil {
		t.Fatal("short admin token accepted")
	}
	if s, _ := h.call("POST", "/v1/tokens/"+id1+"/revoke", h.admin, nil); s != 200 {
		t.Fatalf("revoke: %d", s)
	}
	if _, _, err := api.EnsureAdminToken(ctx, h.raw, tok); !errors.Is(err, api.ErrAdminTokenRevoked) {
		t.Fatalf("revoked admin token brought back: %v", err)
	}
	// Only the hash is stored.
	if _, err := h.raw.GetTokenByHash(ctx, api.HashToken(tok)); err != nil {
		t.Fatal(err)
	}
}

func TestStagesAndAudit(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1, b1 := f.org["A1"], f.org["B1"]
	_, out := h.call("GET", "/v1/providers/slack/stage", f.orgTok, nil)
	if out["stage"] != "off" || out["unset"] != true {
		t.Fatalf("unset stage (not served): %v", out)
	}
	status, out := h.call("PUT", "/v1/providers/slack/stage", h.admin, map[string]any{"stage": "canary", "canary_orgs": []string{b1.id, a1.id}})
	if status != 200 || out["stage"] != "canary" || len(out["canary_orgs"].([]any)) != 2 {
		t.Fatalf("set canary: %d %v", status, out)
	}
	// Tenants see the stage but only their own org in the canary list.
	_, out = h.call("GET", "/v1/providers/slack/stage", f.orgTok, nil)
	if c := out["canary_orgs"].([]any); out["stage"] != "canary" || len(c) != 1 || c[0] != a1.id {
		t.Fatalf("org view of stage: %v", out)
	}
	st, err := h.raw.GetStage(context.Background(), "slack")
	if err != nil || st.Stage != "canary" || len(st.CanaryOrgs) != 2 {
		t.Fatalf("stored stage %+v %v", st, err)
	}
	ev := lastAudit(t, h)
	if ev.Action != "stage.set" || ev.Target != "slack" || !strings.Contains(ev.Detail, `"previous":""`) {
		t.Fatalf("stage audit %+v", ev)
	}

	// Audit: an org token sees only its org's events; paging by after/limit.
	status, out = h.call("GET", "/v1/audit?limit=2", f.orgTok, nil)
	items := out["items"].([]any)
	if status != 200 || len(items) != 2 {
		t.Fatalf("audit page: %d %v", status, out)
	}
	seen := map[float64]bool{}
	after := out["next_after"].(float64)
	for {
		for _, it := range items {
			m := it.(map[string]any)
			if m["org_id"] != a1.id {
				t.Fatalf("org token sees event of %v: %v", m["org_id"], m)
			}
			if seen[m["id"].(float64)] {
				t.Fatalf("event %v twice", m["id"])
			}
			seen[m["id"].(float64)] = true
		}
		_, out = h.call("GET", "/v1/audit?limit=2&after="+itoa(int(after)), f.orgTok, nil)
		items = out["items"].([]any)
		if len(items) == 0 {
			break
		}
		after = out["next_after"].(float64)
	}
	// org A1: org.create, profile.create, installation.create, agent.create, binding.create, token.create
	if len(seen) != 6 {
		t.Errorf("org A1 sees %d events, want 6", len(seen))
	}
	_, out = h.call("GET", "/v1/audit?limit=1000", f.agencyTok, nil)
	for _, it := range out["items"].([]any) {
		if o := it.(map[string]any)["org_id"]; o != a1.id && o != f.org["A2"].id {
			t.Fatalf("agency sees event of %v", o)
		}
	}
}

func TestRevokeCascades(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	ctx := context.Background()
	// Revoking an agent revokes its bindings.
	if s, _ := h.call("POST", "/v1/agents/"+a1.agent+"/revoke", f.orgTok, nil); s != 200 {
		t.Fatal(s)
	}
	b, _ := h.raw.GetBinding(ctx, a1.bind)
	if b.RevokedAt == nil {
		t.Fatal("binding of revoked agent still live")
	}
	// Revoking is idempotent and writes one audit event.
	g := h.generation()
	if s, _ := h.call("POST", "/v1/agents/"+a1.agent+"/revoke", f.orgTok, nil); s != 200 || h.generation() != g {
		t.Fatalf("second revoke: %d, generation %d -> %d", s, g, h.generation())
	}
	// A revoked installation takes no bindings.
	if s, _ := h.call("POST", "/v1/installations/"+a1.inst+"/revoke", f.orgTok, nil); s != 200 {
		t.Fatal(s)
	}
	agent := id(h.create("/v1/agents", f.orgTok, map[string]any{"org_id": a1.id, "name": "n", "url": "https://x/"}))
	if s, out := h.call("POST", "/v1/bindings", f.orgTok, map[string]any{"installation_id": a1.inst, "agent_id": agent}); s != 409 {
		t.Fatalf("bind revoked installation: %d %v", s, out)
	}
	// Revoking an org revokes everything of it; nothing new can be added.
	b2 := f.org["B1"]
	if s, _ := h.call("POST", "/v1/orgs/"+b2.id+"/revoke", h.admin, nil); s != 200 {
		t.Fatal(s)
	}
	i, _ := h.raw.GetInstallation(ctx, b2.inst)
	p, _ := h.raw.GetProfile(ctx, b2.prof)
	a, _ := h.raw.GetAgent(ctx, b2.agent)
	bb, _ := h.raw.GetBinding(ctx, b2.bind)
	if i.RevokedAt == nil || p.RevokedAt == nil || a.RevokedAt == nil || bb.RevokedAt == nil {
		t.Fatalf("org revoke did not cascade: %v %v %v %v", i.RevokedAt, p.RevokedAt, a.RevokedAt, bb.RevokedAt)
	}
	if s, _ := h.call("POST", "/v1/agents", h.admin, map[string]any{"org_id": b2.id, "name": "n", "url": "https://x/"}); s != 409 {
		t.Fatalf("agent in revoked org: %d", s)
	}
	// Revoking a profile revokes its installations.
	inst := id(h.create("/v1/installations", h.admin, map[string]any{"org_id": a1.id, "profile_id": f.platformProf, "external_id": "TP"}))
	if s, _ := h.call("POST", "/v1/profiles/"+f.platformProf+"/revoke", h.admin, nil); s != 200 {
		t.Fatal(s)
	}
	if i, _ := h.raw.GetInstallation(ctx, inst); i.RevokedAt == nil {
		t.Fatal("installation of revoked profile still live")
	}
}

func TestRevokeAgency(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	if s, _ := h.call("POST", "/v1/agencies/"+f.agencyA+"/revoke", f.agencyTok, nil); s != 403 {
		t.Fatalf("agency revokes itself: %d, want 403", s)
	}
	if s, _ := h.call("POST", "/v1/agencies/"+f.agencyB+"/revoke", f.agencyTok, nil); s != 404 {
		t.Fatalf("agency revokes another: %d, want 404", s)
	}
	if s, _ := h.call("POST", "/v1/agencies/"+f.agencyA+"/revoke", f.orgTok, nil); s != 404 {
		t.Fatalf("org revokes its agency: %d, want 404", s)
	}
	s, out := h.call("POST", "/v1/agencies/"+f.agencyA+"/revoke", h.admin, nil)
	if s != 200 || out["revoked_at"] == nil {
		t.Fatalf("revoke agency: %d %v", s, out)
	}
	if s, _ := h.call("GET", "/v1/whoami", f.agencyTok, nil); s != 401 {
		t.Fatalf("token of revoked agency: %d, want 401", s)
	}
	if s, _ := h.call("GET", "/v1/whoami", f.orgTok, nil); s != 200 {
		t.Fatalf("client org token after its agency was revoked: %d, want 200", s)
	}
}

// An installation that verifies with its profile's secret must not get a
// secret of that purpose by rotation: its own would replace the profile's at
// the edge at once, ignoring previous_valid_until. The API refuses, names the
// profile route, and writes nothing.
func TestRotationOfInheritedSecretRefused(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"] // its installation has a bot_token; signing is the profile's
	ctx := context.Background()
	before, err := h.raw.ListSecrets(ctx, store.OwnerInstallation, a1.inst)
	if err != nil {
		t.Fatal(err)
	}
	status, out := h.call("POST", "/v1/installations/"+a1.inst+"/secrets/signing/rotate", f.orgTok, map[string]any{"value": slackSigning2, "previous_valid_until": rotateUntil})
	e, _ := out["error"].(map[string]any)
	if status != 409 || e["code"] != "conflict" || !strings.Contains(e["message"].(string), "/v1/profiles/"+a1.prof+"/secrets/signing/rotate") {
		t.Fatalf("rotate inherited signing: %d %v", status, out)
	}
	after, err := h.raw.ListSecrets(ctx, store.OwnerInstallation, a1.inst)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("refused rotation wrote secrets: %d before, %d after", len(before), len(after))
	}
	// Its own secret rotates as before; so does the profile's.
	if status, out := h.call("POST", "/v1/installations/"+a1.inst+"/secrets/bot_token/rotate", f.orgTok, map[string]any{"value": "xoxb-rotated-value", "previous_valid_until": rotateUntil}); status != 200 {
		t.Fatalf("rotate own bot_token: %d %v", status, out)
	}
	if status, out := h.call("POST", "/v1/profiles/"+a1.prof+"/secrets/signing/rotate", f.orgTok, map[string]any{"value": slackSigning2, "previous_valid_until": rotateUntil}); status != 200 {
		t.Fatalf("rotate profile signing: %d %v", status, out)
	}
}
