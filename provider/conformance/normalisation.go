package conformance

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

// Normalisation is the kit interface of requirement "normalisation": the
// folder of the provider's golden files (providertest's layout), with at
// least one input that parses into events and one bad_* input.
type Normalisation interface {
	GoldenDir() string
}

// Testdata is the testdata folder beside the kit's provider package: a kit
// in provider/<p>/kit calls Testdata() from its own source file.
func Testdata() string {
	_, file, _, ok := runtime.Caller(1)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

func checkNormalisation(t *testing.T, k Kit) {
	n, ok := k.(Normalisation)
	if !ok {
		lacks(t, k, "conformance.Normalisation (golden files)")
	}
	p, ok := provider.Get(k.Provider())
	if !ok {
		t.Fatalf("%s has a kit but no registered inbound adapter", k.Provider())
	}
	dir := n.GoldenDir()
	var events, bad int
	for _, in := range providertest.Inputs(t, dir) {
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		if _, err := os.Stat(strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"); err != nil {
			t.Errorf("%s: no golden file", name)
		}
		if strings.HasPrefix(name, "bad_") {
			bad++
			continue
		}
		if res, err := provider.Parse(p, providertest.Request(t, in)); err == nil && len(res.Events) > 0 {
			events++
		}
	}
	if events == 0 || bad == 0 {
		t.Fatalf("%s: %d inputs with events and %d bad_* inputs in %s; want at least one of each", k.Provider(), events, bad, dir)
	}
	providertest.Golden(t, p, dir)
}
