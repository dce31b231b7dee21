package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

// TestIngestOverMTLS: with --tls-cert/--tls-key/--tls-client-ca ingest
// serves HTTPS and takes only clients presenting an edge node certificate
// of the CA; the edge's attestation is still required on top.
func TestIngestOverMTLS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "sb.db")
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
	certs := filepath.Join(dir, "certs")
	for _, args := range [][]string{
		{"issue", "--data-dir", dir, "--server", "ingest", "--hosts", "127.0.0.1,localhost", "--out", certs},
		{"issue", "--data-dir", dir, "--node", "edge-1", "--out", certs},
		{"issue", "--data-dir", dir, "--server", "not-an-edge", "--hosts", "127.0.0.1", "--out", certs},
	} {
		if err := certsMain(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	r := servicetest.StartRedis(t)
	key := bytes.Repeat([]byte{9}, 32)
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runIngest(runCtx, []string{"--listen", addr, "--store", "sqlite:" + dbPath, "--redis", r.Addr, "--shards", "2", "--metrics-listen", "127.0.0.1:0",
			"--tls-cert", filepath.Join(certs, "ingest.crt"), "--tls-key", filepath.Join(certs, "ingest.key"), "--tls-client-ca", filepath.Join(certs, "ca.crt")},
			func(k string) string {
				return map[string]string{envAttestationKey: base64.StdEncoding.EncodeToString(key), envProvenanceKeys: testProvenanceKeys}[k]
			}, io.Discard, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	if err := servicetest.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pool, err := pki.LoadPool(filepath.Join(certs, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	client := func(name string) *http.Client {
		cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
		if name != "" {
			c, err := tls.LoadX509KeyPair(filepath.Join(certs, name+".crt"), filepath.Join(certs, name+".key"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	post := func(c *http.Client, scheme string, attested bool) (int, error) {
		body := []byte(telegramUpdate)
		req, _ := http.NewRequest(http.MethodPost, scheme+"://"+addr+"/v1/hooks/telegram/ing_a", bytes.NewReader(body))
		if attested {
			id := filter.Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "telegram", IngressID: "ing_a"}
			for _, kv := range filter.Attest(key, id, body, time.Now().Unix()) {
				req.Header.Set(kv[0], kv[1])
			}
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := post(http.DefaultClient, "http", true); err == nil && code != http.StatusBadRequest {
		t.Errorf("plaintext HTTP: %d", code) // Go's TLS server answers a plaintext request 400
	}
	if code, err := post(client(""), "https", true); err == nil {
		t.Errorf("client without a certificate: %d", code)
	}
	if code, err := post(client("not-an-edge"), "https", true); err == nil {
		t.Errorf("client certificate naming no edge node: %d", code)
	}
	if code, err := post(client("edge-1"), "https", false); err != nil || code != http.StatusUnauthorized {
		t.Errorf("edge certificate without attestation: %d %v, want 401", code, err)
	}
	if code, err := post(client("edge-1"), "https", true); err != nil || code != http.StatusOK {
		t.Fatalf("edge certificate and attestation: %d %v", code, err)
	}
}
