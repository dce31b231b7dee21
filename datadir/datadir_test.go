package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAgentSecretShared: processes creating the same agent secret at once
// all end up with one value, written complete, 0600.
func TestAgentSecretShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "agent.secret")
	const n = 8
	got := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, c, err := LoadOrCreateAgentSecret(path)
			if err != nil {
				t.Error(err)
			}
			got[i], created[i] = v, c
		}(i)
	}
	wg.Wait()
	nCreated := 0
	for i := range got {
		if got[i] != got[0] || !strings.HasPrefix(got[i], "whsec_") {
			t.Fatalf("secret %d differs or is not whsec_: %d bytes vs %d", i, len(got[i]), len(got[0]))
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d callers say they created the secret, want 1", nCreated)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestRuntimeFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadRuntime(dir); err != ErrNoRuntime {
		t.Fatalf("no file: %v", err)
	}
	rt := Runtime{API: "http://127.0.0.1:8080", Edge: "http://127.0.0.1:8443", Redis: "127.0.0.1:6390", PID: 42}
	if err := WriteRuntime(dir, rt); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRuntime(dir); err != nil || got != rt {
		t.Fatalf("read %+v, %v", got, err)
	}
	RemoveRuntime(dir, 7) // another up's pid: kept
	if _, err := ReadRuntime(dir); err != nil {
		t.Fatalf("removed by another pid: %v", err)
	}
	RemoveRuntime(dir, 42)
	if _, err := ReadRuntime(dir); err != ErrNoRuntime {
		t.Fatalf("not removed: %v", err)
	}
	os.WriteFile(filepath.Join(dir, RuntimeFile), []byte("{"), 0o600)
	if _, err := ReadRuntime(dir); err == nil || err == ErrNoRuntime {
		t.Fatalf("corrupt file: %v", err)
	}
}

func TestDir(t *testing.T) {
	if d := Dir(func(string) string { return "" }); d != Default {
		t.Fatal(d)
	}
	if d := Dir(func(k string) string { return map[string]string{Env: "/x"}[k] }); d != "/x" {
		t.Fatal(d)
	}
}
