package filter

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// allowedImports is the explicit list of packages the filter core (non-test
// files of this directory) may import: standard library crypto, encoding and
// basics that TinyGo 0.33 compiles without reflection-heavy paths. Growing it
// is a deliberate decision: edit this list in the same change and say why.
var allowedImports = map[string]bool{
	"crypto/aes":      true,
	"crypto/cipher":   true,
	"crypto/ed25519":  true,
	"crypto/hmac":     true,
	"crypto/rand":     true,
	"crypto/sha1":     true, // Twilio
	"crypto/sha256":   true,
	"crypto/subtle":   true,
	"encoding/base64": true,
	"encoding/hex":    true,
	"errors":          true,
	"hash":            true,
	"sort":            true, // sort.Sort only (no sort.Slice: reflection)
	"strconv":         true,
	"strings":         true,
	"sync":            true, // sync.Pool of keyed HMAC states and attestation scratch (TinyGo implements it)
	"sync/atomic":     true, // Attester's nonce counter (TinyGo implements it)
	"unicode/utf8":    true,
}

func TestImportAllowList(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			seen[p] = true
			if !allowedImports[p] {
				t.Errorf("%s imports %q, which is not in the filter's allow-list (imports_test.go)", f, p)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no imports found: is the test running in the filter directory?")
	}
}

// The transitive closure must contain no net package and no encoding/json,
// whatever the standard library pulls in underneath.
func TestNoNetworkDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	// The whole module (core, signer, plugin): issue 3 allows no net package in it.
	cmd := exec.Command(goTool, "list", "-deps", ".", "./sign", "./wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	var bad []string
	for _, p := range strings.Fields(string(out)) {
		if p == "net" || strings.HasPrefix(p, "net/") || p == "encoding/json" || p == "os/exec" {
			bad = append(bad, p)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("filter depends on %v", bad)
	}
}
