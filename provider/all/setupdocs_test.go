package all

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// TestSetupDocs: docs/setup/<provider>.md is the provider's packet, as
// generated (run with -update to rewrite), and every provider has one.
func TestSetupDocs(t *testing.T) {
	if got, want := setup.Providers(), provider.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("providers with a setup packet %v, registered providers %v", got, want)
	}
	dir := filepath.Join("..", "..", "docs", "setup")
	for _, p := range setup.Providers() {
		doc, err := setup.Doc(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, p+".md")
		if providertest.Updating() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./provider/all -run TestSetupDocs -update)", err)
		}
		if string(got) != doc {
			t.Errorf("%s is out of date with provider/%s/setup.go (run go test ./provider/all -run TestSetupDocs -update)", path, p)
		}
	}
}
