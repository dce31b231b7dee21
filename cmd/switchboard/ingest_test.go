package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

func TestReadAttestationKey(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if _, err := readAttestationKey(env("")); err == nil || !strings.Contains(err.Error(), envAttestationKey) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := readAttestationKey(env("!!notbase64")); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Fatalf("bad key: %v", err)
	}
	if _, err := readAttestationKey(env(base64.StdEncoding.EncodeToString([]byte("short")))); err == nil || !strings.Contains(err.Error(), "want 32") {
		t.Fatalf("short key: %v", err)
	}
	k, err := readAttestationKey(env(" " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n"))
	if err != nil || len(k) != 32 {
		t.Fatalf("good key: %v", err)
	}
}

func TestIngestCommandMissingKey(t *testing.T) {
	err := runIngest(context.Background(), []string{"--store", filepath.Join(t.TempDir(), "x.db")}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), envAttestationKey) {
		t.Fatalf("want a clear missing-key error, got %v", err)
	}
}

// TestIngestCommandServes runs the command against a real store and Redis and
// sends it one attested Telegram update.
func TestIngestCommandServes(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "sb.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC()
	for _, step := range []error{
		st.CreateOrg(ctx, store.Org{ID: "org_a", Name: "a", CreatedAt: t0}),
		st.SetStage(ctx, store.RolloutStage{Provider: "telegram", Stage: store.StageOn, UpdatedAt: t0}),
		st.CreateProfile(ctx, store.AppProfile{ID: "prof_a", OwnerOrgID: "org_a", Provider: "telegram", Name: "bot", CreatedAt: t0}),
		st.CreateInstallation(ctx, store.Installation{ID: "inst_a", OrgID: "org_a", ProfileID: "prof_a", Provider: "telegram", IngressID: "ing_a", CreatedAt: t0}),
		st.CreateAgent(ctx, store.Agent{ID: "agt_a", OrgID: "org_a", Name: "a", URL: "http://127.0.0.1:1/", CreatedAt: t0}),
		st.CreateBinding(ctx, store.Binding{ID: "bind_a", OrgID: "org_a", InstallationID: "inst_a", AgentID: "agt_a", CreatedAt: t0}),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	st.Close()

	r := servicetest.StartRedis(t)
	key := bytes.Repeat([]byte{9}, 32)
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runIngest(runCtx, []string{"--listen", addr, "--store", "sqlite:" + dbPath, "--redis", r.Addr, "--shards", "2", "--metrics-listen", "127.0.0.1:0"},
			func(k string) string {
				switch k {
				case envAttestationKey:
					return base64.StdEncoding.EncodeToString(key)
				case envProvenanceKeys:
					return testProvenanceKeys
				}
				return ""
			}, io.Discard, io.Discard)
	}()
	if err := servicetest.WaitTCP(addr, 10*time.Second); err != nil {
		cancel()
		t.Fatal(err, <-done)
	}

	if code := postAttestedTelegram(t, addr, key); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	// Unattested: refused.
	resp, err := http.Post("http://"+addr+"/v1/hooks/telegram/ing_a", "application/json", strings.NewReader(telegramUpdate))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unattested status %d", resp.StatusCode)
	}

	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	defer insp.Close()
	n := 0
	for s := 0; s < 2; s++ {
		tasks, _ := insp.ListPendingTasks(queue.QueueName(s))
		n += len(tasks)
	}
	if n != 1 {
		t.Fatalf("%d tasks in Redis, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ingest exited: %v", err)
	}
}

// telegramUpdate is a Telegram update for installation inst_a (ingress ing_a).
const telegramUpdate = `{"update_id":42,"message":{"message_id":1,"from":{"id":7,"is_bot":false},"chat":{"id":7,"type":"private"},"text":"hi"}}`

// postAttestedTelegram posts telegramUpdate to ingest at addr as the edge
// would (attested under key for org_a/inst_a) and returns the status.
func postAttestedTelegram(t *testing.T, addr string, key []byte) int {
	t.Helper()
	body := []byte(telegramUpdate)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/hooks/telegram/ing_a", bytes.NewReader(body))
	id := filter.Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "telegram", IngressID: "ing_a"}
	for _, kv := range filter.Attest(key, id, body, time.Now().Unix()) {
		req.Header.Set(kv[0], kv[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
