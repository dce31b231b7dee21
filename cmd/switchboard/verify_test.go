package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
)

var updateVerifyTestdata = flag.Bool("update-verify", false, "regenerate testdata/verify/config.json (sealed under testdata/verify/edge.key)")

const verifyDir = "testdata/verify"

// verifyTestConfig is the configuration behind testdata/verify/config.json.
// Its secrets are the providers' published examples where one exists.
func verifyTestConfig(t *testing.T, edgeKey []byte) []byte {
	t.Helper()
	sealed := func(ingress, id, plain string) filter.Secret {
		s, err := filter.Seal(edgeKey, []byte(plain), filter.SealAAD(ingress, id))
		if err != nil {
			t.Fatal(err)
		}
		return filter.Secret{ID: id, Purpose: filter.PurposeSigning, Sealed: s}
	}
	org := func(ingress, provider string, scheme filter.Scheme, secrets ...filter.Secret) filter.Installation {
		return filter.Installation{IngressID: ingress, Provider: provider, Scheme: scheme, OrgID: "org_verify",
			InstallationID: "inst_" + provider + "_" + ingress[:4], ProfileID: "prof_" + provider, Secrets: secrets}
	}
	const (
		slack   = "11111111111111111111111111111111"
		revoked = "22222222222222222222222222222222"
		meta    = "33333333333333333333333333333333"
		github  = "44444444444444444444444444444444"
		sw      = "55555555555555555555555555555555"
		expired = "66666666666666666666666666666666"
	)
	rev := org(revoked, "slack", filter.SchemeSlackV0, sealed(revoked, "sec_r", "8f742231b10e8888abcd99yyyzzz85a5"))
	rev.Revoked = true
	exp := sealed(expired, "sec_x", "8f742231b10e8888abcd99yyyzzz85a5")
	exp.NotAfter = 1500000000
	cfg := filter.Config{Version: "verify-testdata", Installations: []filter.Installation{
		org(slack, "slack", filter.SchemeSlackV0, sealed(slack, "sec_slack", "8f742231b10e8888abcd99yyyzzz85a5")),
		rev,
		org(meta, "whatsapp", filter.SchemeMetaSHA256, sealed(meta, "sec_meta", "meta-app-secret"),
			filter.Secret{ID: "sec_vt", Purpose: filter.PurposeVerifyToken, Fingerprint: filter.Fingerprint(edgeKey, "verify-me")}),
		org(github, "github", filter.SchemeGitHubSHA256, sealed(github, "sec_gh", "It's a Secret to Everybody")),
		org(sw, "standardwebhooks", filter.SchemeStandardWebhooks, sealed(sw, "sec_sw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
		org(expired, "slack", filter.SchemeSlackV0, exp),
	}}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func testEdgeKeyText(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(verifyDir, "edge.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestVerifyTestdataConfig(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(testEdgeKeyText(t))
	path := filepath.Join(verifyDir, "config.json")
	if *updateVerifyTestdata {
		if err := os.WriteFile(path, verifyTestConfig(t, key), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVerifyTestdataConfig -update-verify)", err)
	}
	if _, err := filter.Load(data, key); err != nil {
		t.Fatalf("committed config no longer loads: %v", err)
	}
}

func TestVerifyCommand(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_EDGE_KEY": testEdgeKeyText(t)}
	getenv := func(k string) string { return env[k] }
	cfg := filepath.Join(verifyDir, "config.json")
	req := func(name string) string { return filepath.Join(verifyDir, name) }
	cases := []struct {
		name   string
		args   []string
		code   int
		out    string // exact stdout
		stderr string // substring of stderr
	}{
		{"slack published example", []string{"--request", req("slack-docs.http"), "--now", "1531420618"}, 0,
			`{"decision":"accept","reason":"","installation":"inst_slack_1111","ingress":"11111111111111111111111111111111","status":0}`, ""},
		{"slack example, LF line endings, no Content-Length", []string{"--request", req("slack-docs-lf.http"), "--now", "2018-07-12T18:36:58Z"}, 0,
			`{"decision":"accept","reason":"","installation":"inst_slack_1111","ingress":"11111111111111111111111111111111","status":0}`, ""},
		{"slack example ten minutes later", []string{"--request", req("slack-docs.http"), "--now", "2018-07-12T18:46:58Z"}, 1,
			`{"decision":"reject","reason":"stale_timestamp","installation":"inst_slack_1111","ingress":"11111111111111111111111111111111","status":401}`, "--now"},
		{"slack forged", []string{"--request", req("slack-forged.http"), "--now", "1531420618"}, 1,
			`{"decision":"reject","reason":"bad_signature","installation":"inst_slack_1111","ingress":"11111111111111111111111111111111","status":401}`, "byte-for-byte"},
		{"slack with spoofed trusted headers", []string{"--request", req("slack-spoofed-headers.http"), "--now", "1531420618"}, 0,
			`{"decision":"accept","reason":"","installation":"inst_slack_1111","ingress":"11111111111111111111111111111111","status":0}`, ""},
		{"revoked", []string{"--request", req("slack-revoked.http"), "--now", "1531420618"}, 1,
			`{"decision":"reject","reason":"revoked","installation":"inst_slack_2222","ingress":"22222222222222222222222222222222","status":403}`, ""},
		{"expired secret", []string{"--request", req("slack-expired.http"), "--now", "1531420618"}, 1,
			`{"decision":"reject","reason":"no_valid_secret","installation":"inst_slack_6666","ingress":"66666666666666666666666666666666","status":401}`, "not_after"},
		{"unknown ingress", []string{"--request", req("unknown.http"), "--now", "1531420618"}, 1,
			`{"decision":"reject","reason":"unknown_ingress","installation":"","ingress":"","status":404}`, "/v1/hooks/"},
		{"meta handshake", []string{"--request", req("meta-handshake.http")}, 0,
			`{"decision":"respond","reason":"","installation":"inst_whatsapp_3333","ingress":"33333333333333333333333333333333","status":200}`, ""},
		{"meta handshake, wrong token", []string{"--request", req("meta-handshake-bad-token.http")}, 1,
			`{"decision":"reject","reason":"bad_verify_token","installation":"inst_whatsapp_3333","ingress":"33333333333333333333333333333333","status":403}`, ""},
		{"meta escaped non-ASCII", []string{"--request", req("meta-unicode.http")}, 0,
			`{"decision":"accept","reason":"","installation":"inst_whatsapp_3333","ingress":"33333333333333333333333333333333","status":0}`, ""},
		{"github published example", []string{"--request", req("github-docs.http")}, 0,
			`{"decision":"accept","reason":"","installation":"inst_github_4444","ingress":"44444444444444444444444444444444","status":0}`, ""},
		{"standard webhooks published example", []string{"--request", req("standardwebhooks-docs.http"), "--now", "1614265330"}, 0,
			`{"decision":"accept","reason":"","installation":"inst_standardwebhooks_5555","ingress":"55555555555555555555555555555555","status":0}`, ""},
		{"content-length shorter than body", []string{"--request", req("bad-length.http")}, 2, "", "Content-Length"},
		{"not a request", []string{"--request", req("not-http.http")}, 2, "", "not an HTTP/1.1 request"},
		{"bad --now", []string{"--request", req("github-docs.http"), "--now", "yesterday"}, 2, "", "RFC 3339"},
		{"missing request", []string{"--request", req("nope.http")}, 2, "", "read request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runVerify(append([]string{"--config", cfg}, c.args...), &stdout, &stderr, getenv)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, c.code, stdout.String(), stderr.String())
			}
			if got := strings.TrimSuffix(stdout.String(), "\n"); got != c.out {
				t.Fatalf("stdout\n got %s\nwant %s", got, c.out)
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), c.stderr)
			}
		})
	}
}

func TestVerifyUsageAndKeys(t *testing.T) {
	cfg := filepath.Join(verifyDir, "config.json")
	req := filepath.Join(verifyDir, "github-docs.http")
	none := func(string) string { return "" }
	run := func(getenv func(string) string, args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := runVerify(args, &stdout, &stderr, getenv)
		return code, stderr.String()
	}
	if code, msg := run(none, "--config", cfg, "--request", req); code != 2 || !strings.Contains(msg, "SWITCHBOARD_EDGE_KEY") {
		t.Fatalf("no key: %d %q", code, msg)
	}
	if code, _ := run(none, "--config", cfg, "--request", req, "--edge-key-file", filepath.Join(verifyDir, "edge.key")); code != 0 {
		t.Fatalf("--edge-key-file: exit %d", code)
	}
	wrongKey := func(string) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) }
	if code, msg := run(wrongKey, "--config", cfg, "--request", req); code != 2 || !strings.Contains(msg, "sealed") {
		t.Fatalf("wrong key: %d %q", code, msg)
	}
	shortKey := func(string) string { return "c2hvcnQ=" }
	if code, msg := run(shortKey, "--config", cfg, "--request", req); code != 2 || !strings.Contains(msg, "want 32") {
		t.Fatalf("short key: %d %q", code, msg)
	}
	if code, msg := run(none, "--request", req); code != 2 || !strings.Contains(msg, "required") {
		t.Fatalf("usage: %d %q", code, msg)
	}
	if code, _ := run(none, "--bogus"); code != 2 {
		t.Fatalf("unknown flag: %d", code)
	}
	if code, msg := run(none, "--config", filepath.Join(verifyDir, "slack-docs.http"), "--request", req, "--edge-key-file", filepath.Join(verifyDir, "edge.key")); code != 2 || !strings.Contains(msg, "invalid JSON") {
		t.Fatalf("bad config: %d %q", code, msg)
	}
}

func TestParseRawRequestBodies(t *testing.T) {
	const head = "POST /v1/hooks/github/x?a=1 HTTP/1.1\r\nHost: edge.example.com\r\n"
	cases := []struct {
		name, raw, body, err string
	}{
		{"content-length", head + "Content-Length: 2\r\n\r\nhi", "hi", ""},
		{"content-length, final line break", head + "Content-Length: 2\r\n\r\nhi\r\n", "hi", ""},
		{"no length: rest of file", head + "\r\nhello\n", "hello\n", ""},
		{"chunked", head + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "hi", ""},
		{"content-length too short", head + "Content-Length: 1\r\n\r\nhi", "", "Content-Length (1)"},
		{"content-length zero with a body", head + "Content-Length: 0\r\n\r\nhidden", "", "Content-Length (0)"},
		{"data after chunked body", head + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nextra", "", "chunked body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := parseRawRequest([]byte(c.raw), "https")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Body) != c.body || req.Path != "/v1/hooks/github/x?a=1" || req.Host != "edge.example.com" || req.Method != "POST" {
				t.Fatalf("got %+v", req)
			}
		})
	}
}

// FuzzParseRawRequest: an operator's request file never panics the parser,
// and a parsed request keeps the request line as given.
func FuzzParseRawRequest(f *testing.F) {
	for _, name := range []string{"slack-docs.http", "meta-handshake.http", "bad-length.http", "not-http.http"} {
		if b, err := os.ReadFile(filepath.Join(verifyDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("POST /v1/hooks/x/y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := parseRawRequest(raw, "https")
		if err != nil {
			return
		}
		if req.Method == "" || req.Path == "" {
			t.Fatalf("parsed a request without method or path: %+v", req)
		}
	})
}
