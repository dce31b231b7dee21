package line

import (
	"testing"

	"github.com/switchboard-dev/switchboard/provider/providertest"
)

// BenchmarkParse: the golden inputs, parsed in turn.
func BenchmarkParse(b *testing.B) { providertest.Bench(b, Inbound{}, "testdata") }
