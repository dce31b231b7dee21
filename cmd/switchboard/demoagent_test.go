package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoAgentPortClashNamesListen: a taken address is refused naming
// --listen, the flag that moves it.
func TestDemoAgentPortClashNamesListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out, errOut bytes.Buffer
	err = runDemoAgent(context.Background(), []string{"--listen", ln.Addr().String(), "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--listen "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("port clash: %v", err)
	}
}

// TestDemoAgentSecretFile: --secret-file generates the secret (0600) when
// the file is missing and reads it when it exists.
func TestDemoAgentSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.secret")
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDemoAgent(ctx, []string{"--listen", "127.0.0.1:0", "--secret-file", path}, out, errOut)
	}()
	var b []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ = os.ReadFile(path); len(b) > 0 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo agent: %v", err)
	}
	if !strings.HasPrefix(string(b), "whsec_") {
		t.Fatalf("secret file holds %d bytes, not a whsec_ secret", len(b))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", st.Mode())
	}
	if !strings.Contains(out.String(), "signing secret generated in "+path) || strings.Contains(out.String(), strings.TrimSpace(string(b))) {
		t.Fatalf("output:\n%s", out.String())
	}
}
