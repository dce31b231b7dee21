package importer_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/importer"
	"github.com/switchboard-dev/switchboard/store"
)

// BenchmarkImport10k: one legacy file of 10,000 bindings (100 workspaces of
// the platform's Slack app, 10 agents) imported into an empty organisation,
// then rerun (nothing to change). Run with -benchtime=1x.
func BenchmarkImport10k(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		b.Run(tc.name+"/first", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st, k := tc.open(b), newKeys(b)
				seed(b, st, k)
				src := parseFile(b, bigLegacy(b, 10000))
				b.StartTimer()
				res, err := importer.Run(ctx, st, k, src, importer.Options{OrgID: orgAcme})
				if err != nil || res.Created != 10110 {
					b.Fatalf("created %d: %v", res.Created, err)
				}
			}
		})
		b.Run(tc.name+"/rerun", func(b *testing.B) {
			st, k := tc.open(b), newKeys(b)
			seed(b, st, k)
			src := parseFile(b, bigLegacy(b, 10000))
			if _, err := importer.Run(ctx, st, k, src, importer.Options{OrgID: orgAcme}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := importer.Run(ctx, st, k, src, importer.Options{OrgID: orgAcme})
				if err != nil || res.Created != 0 {
					b.Fatalf("rerun created %d: %v", res.Created, err)
				}
			}
		})
	}
}
