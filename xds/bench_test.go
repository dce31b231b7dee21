package xds

import (
	"fmt"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-dev/switchboard/store"
)

// benchState is n Slack installations of n orgs, each with one sealed
// signing secret on its own profile.
func benchState(n int) *State {
	st := &State{}
	for i := 0; i < n; i++ {
		org, prof, inst := fmt.Sprintf("org_%08d", i), fmt.Sprintf("prof_%08d", i), fmt.Sprintf("inst_%08d", i)
		st.Orgs = append(st.Orgs, store.Org{ID: org})
		st.Profiles = append(st.Profiles, store.AppProfile{ID: prof, OwnerOrgID: org, Provider: "slack"})
		st.Installations = append(st.Installations, store.Installation{ID: inst, OrgID: org, ProfileID: prof,
			Provider: "slack", IngressID: fmt.Sprintf("%032x", i+1)})
		st.Secrets = append(st.Secrets, Secret{Secret: store.Secret{ID: fmt.Sprintf("sec_%08d", i), OwnerKind: store.OwnerProfile,
			OwnerID: prof, Purpose: store.PurposeSigning}, Plaintext: []byte("0123456789abcdef0123456789abcdef")})
	}
	return st
}

// BenchmarkSnapshot measures building the snapshot (translation, sealing,
// resources, per-type digests) from an in-memory state, and reports time
// and ECDS bytes per installation.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("installations=%d", n), func(b *testing.B) {
			st := benchState(n)
			now := time.Now()
			var size int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cfg, err := EdgeConfig(st, testEdgeKey, now)
				if err != nil {
					b.Fatal(err)
				}
				snap, err := NewSnapshot(cfg, testOpts)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 {
					for _, r := range snap.GetResources(resource.ExtensionConfigType) {
						size += proto.Size(r)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/installation")
			b.ReportMetric(float64(size)/float64(n), "bytes/installation")
			b.ReportMetric(float64(size), "ecds-bytes")
		})
	}
}

// BenchmarkControllerBuild is what one store change costs the control plane
// after the state is loaded: BenchmarkSnapshot's work plus the check that the
// filter core loads the configuration (which unseals every secret again).
// Loading the state (store reads, master-key decryption) is not included.
func BenchmarkControllerBuild(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("installations=%d", n), func(b *testing.B) {
			st := benchState(n)
			c := &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: testOpts}}
			now := time.Now()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Build(st, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/installation")
		})
	}
}
