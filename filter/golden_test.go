package filter

import (
	"encoding/base64"
	"os"
	"testing"
)

// testdata/example-config.json is the configuration documented in
// docs/edge-config.md (a copy of cmd/switchboard/testdata/verify/config.json),
// sealed under the edge key below. It pins the file format: a change that
// stops it loading breaks every deployed configuration.
const exampleEdgeKey = "dmVyaWZ5LXRlc3RkYXRhLWVkZ2Uta2V5LTMyYnl0ZXM="

func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/example-config.json")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(exampleEdgeKey)
	e, err := Load(data, key)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version() != "verify-testdata" || e.Len() != 6 {
		t.Fatalf("version %q, %d entries", e.Version(), e.Len())
	}
	e.SetAttestationKey(testAttestKey)
	req := post("/v1/hooks/github/44444444444444444444444444444444", "Hello, World!",
		"X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	if d := e.Decide(req, T0); !d.Accept || d.Identity.Installation != "inst_github_4444" {
		t.Fatalf("%s", d.JSONLine())
	}
}
