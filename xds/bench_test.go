package xds

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
)

// benchState is n Slack installations of n orgs, each with one sealed
// signing secret on its own profile.
func benchState(n int) *State {
	st := &State{Stages: []store.RolloutStage{{Provider: "slack", Stage: store.StageOn}, {Provider: "telegram", Stage: store.StageOn}}}
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
// after the state is loaded: translation, sealing, the check that the filter
// core loads the configuration (which unseals every secret again) and the
// snapshot. Loading the state is BenchmarkOpenSecrets (decryption) plus
// store reads, not included here.
//
//   - cold: a new controller each time (first build after start: every
//     secret sealed);
//   - unchanged: the same state again (nothing sealed or encoded again);
//   - revoke-one: one installation's revocation flips each time (the
//     common change: one entry encoded again, and one secret sealed again
//     when it is un-revoked).
func BenchmarkControllerBuild(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, mode := range []string{"cold", "unchanged", "revoke-one"} {
			b.Run(fmt.Sprintf("installations=%d/%s", n, mode), func(b *testing.B) {
				st := benchState(n)
				newC := func() *Controller {
					return &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: testOpts}}
				}
				c := newC()
				if mode != "cold" {
					if _, err := c.Build(st, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				now := time.Now()
				revoked := now
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					switch mode {
					case "cold":
						c = newC()
					case "revoke-one":
						in := &st.Installations[n/2]
						if in.RevokedAt == nil {
							in.RevokedAt = &revoked
						} else {
							in.RevokedAt = nil
						}
					}
					if _, err := c.Build(st, now); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/installation")
			})
		}
	}
}

// BenchmarkOpenSecrets is the decryption part of LoadState: every
// verification secret opened with the master keyring, directly (as every
// load did before the cache) and through the controller's open cache when
// nothing changed since the previous load.
func BenchmarkOpenSecrets(b *testing.B) {
	kr, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10_000, 100_000} {
		rows := make([]store.Secret, n)
		for i := range rows {
			id := fmt.Sprintf("sec_%08d", i)
			keyID, ct, err := kr.Seal([]byte("0123456789abcdef0123456789abcdef"), id)
			if err != nil {
				b.Fatal(err)
			}
			rows[i] = store.Secret{ID: id, OwnerKind: store.OwnerProfile, OwnerID: fmt.Sprintf("prof_%08d", i),
				Purpose: store.PurposeSigning, KeyID: keyID, Ciphertext: ct}
		}
		b.Run(fmt.Sprintf("installations=%d/keyring", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := openSecrets(rows, kr); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/installation")
		})
		b.Run(fmt.Sprintf("installations=%d/cached", n), func(b *testing.B) {
			oc := newOpenCache(kr)
			if _, err := openSecrets(rows, oc); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				oc.begin()
				if _, err := openSecrets(rows, oc); err != nil {
					b.Fatal(err)
				}
				oc.sweep()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/installation")
		})
	}
}

// BenchmarkShardedBuild is item 5's measure: a controller build with the
// configuration split into K shards (ResourceOptions.Shards).
//
//   - cold: a new controller each time (first build after start: every
//     secret sealed, every shard encoded and checked);
//   - revoke-one: one installation's revocation flips each time (one
//     shard encoded, checked and marshalled again).
//
// Reported beside time and allocations: bytes-per-change, the ECDS
// response one node is sent for the change (the changed shards, encoded as
// on the wire), and shards-built per build.
//
// SWITCHBOARD_XDS_BENCH_1M=1 adds 1,000,000 installations (several GB of
// memory and minutes: not part of a plain bench run).
func BenchmarkShardedBuild(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if os.Getenv("SWITCHBOARD_XDS_BENCH_1M") == "1" {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		ks := []int{DefaultShards}
		if n >= 1_000_000 {
			ks = append(ks, 8192)
		}
		for _, k := range ks {
			for _, mode := range []string{"cold", "revoke-one"} {
				b.Run(fmt.Sprintf("installations=%d/shards=%d/%s", n, k, mode), func(b *testing.B) {
					st := benchState(n)
					opts := testOpts
					opts.Shards = k
					newC := func() *Controller {
						return &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: opts}}
					}
					c := newC()
					prev, err := c.Build(st, time.Now())
					if err != nil {
						b.Fatal(err)
					}
					now := time.Now()
					revoked := now
					var changed, built int
					var cpu time.Duration
					runtime.GC()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						cpu0 := processCPU()
						before := 0
						switch mode {
						case "cold":
							c = newC()
						case "revoke-one":
							before = c.shards.builds
							in := &st.Installations[n/2]
							if in.RevokedAt == nil {
								in.RevokedAt = &revoked
							} else {
								in.RevokedAt = nil
							}
						}
						next, err := c.Build(st, now)
						if err != nil {
							b.Fatal(err)
						}
						cpu += processCPU() - cpu0
						b.StopTimer()
						built += c.shards.builds - before
						changed += changeBytes(prev.ecds, next.ecds)
						prev = next
						b.StartTimer()
					}
					b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
					b.ReportMetric(float64(changed)/float64(b.N), "bytes-per-change")
					// What the process holds with the state, the controller's
					// caches and the last build live (after a collection).
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
					runtime.KeepAlive(st)
					runtime.KeepAlive(c)
					runtime.KeepAlive(prev)
					b.ReportMetric(float64(built)/float64(b.N), "shards-built")
				})
			}
		}
	}
}

// changeBytes is the size of the SotW ECDS response that brings a node
// from set a to set b: the resources whose version differs.
func changeBytes(a, b *ecdsSet) int {
	resp := &discovery.DiscoveryResponse{VersionInfo: b.version, TypeUrl: resource.ExtensionConfigType, Nonce: "1"}
	for name, r := range b.res {
		if a == nil || a.res[name] == nil || a.res[name].version != r.version {
			resp.Resources = append(resp.Resources, r.any)
		}
	}
	return proto.Size(resp)
}

// processCPU is the process's user + system CPU time (getrusage): with the
// machine shared, CPU per build is steadier than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
