package xds

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

var (
	testEdgeKey = bytes.Repeat([]byte{7}, 32)
	fixedNow    = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
)

func tp(t time.Time) *time.Time { return &t }

// fixture covers every selection rule of EdgeConfig.
func fixture() *State {
	past := fixedNow.Add(-time.Hour)
	future := fixedNow.Add(time.Hour)
	sec := func(id, kind, owner, purpose, plain string, notAfter *time.Time) Secret {
		return Secret{Secret: store.Secret{ID: id, OwnerKind: kind, OwnerID: owner, Purpose: purpose,
			NotBefore: fixedNow.Add(-48 * time.Hour), NotAfter: notAfter}, Plaintext: []byte(plain)}
	}
	s := &State{
		Generation: 42,
		Orgs: []store.Org{
			{ID: "org_a", Name: "A"},
			{ID: "org_b", Name: "B", RevokedAt: tp(past)},
			{ID: "org_c", Name: "C"},
		},
		Profiles: []store.AppProfile{
			{ID: "prof_a_slack", OwnerOrgID: "org_a", Provider: "slack"},
			{ID: "prof_plat_slack", OwnerOrgID: store.OwnerPlatform, Provider: "slack", IngressID: "0000000000000000000000000000f001"},
			{ID: "prof_plat_old", OwnerOrgID: store.OwnerPlatform, Provider: "slack", IngressID: "0000000000000000000000000000f002", RevokedAt: tp(past)},
			{ID: "prof_c_slack", OwnerOrgID: "org_c", Provider: "slack"},
			{ID: "prof_a_wa", OwnerOrgID: "org_a", Provider: "whatsapp"},
		},
		Installations: []store.Installation{
			// uses its org profile's signing secret (one current, one rotated out, one in its window)
			{ID: "inst_a_slack", OrgID: "org_a", ProfileID: "prof_a_slack", Provider: "slack", IngressID: "000000000000000000000000000000a1"},
			// own secret token (fingerprinted)
			{ID: "inst_a_tg", OrgID: "org_a", ProfileID: "prof_a_tg", Provider: "telegram", IngressID: "000000000000000000000000000000a2"},
			// org installation of a platform profile: must not get platform secrets
			{ID: "inst_a_plat", OrgID: "org_a", ProfileID: "prof_plat_slack", Provider: "slack", IngressID: "000000000000000000000000000000a3"},
			// revoked org
			{ID: "inst_b_slack", OrgID: "org_b", ProfileID: "prof_b", Provider: "slack", IngressID: "000000000000000000000000000000b1"},
			// revoked installation
			{ID: "inst_a_gone", OrgID: "org_a", ProfileID: "prof_a_slack", Provider: "slack", IngressID: "000000000000000000000000000000a4", RevokedAt: tp(past)},
			// provider off
			{ID: "inst_a_line", OrgID: "org_a", ProfileID: "prof_x", Provider: "line", IngressID: "000000000000000000000000000000a5"},
			// discord canary: org_a is canary, org_c is not
			{ID: "inst_a_dc", OrgID: "org_a", ProfileID: "prof_x", Provider: "discord", IngressID: "000000000000000000000000000000a6"},
			{ID: "inst_c_dc", OrgID: "org_c", ProfileID: "prof_x", Provider: "discord", IngressID: "000000000000000000000000000000c1"},
			// installation of org_a pointing at org_c's profile: never another org's secrets
			{ID: "inst_a_cross", OrgID: "org_a", ProfileID: "prof_c_slack", Provider: "slack", IngressID: "000000000000000000000000000000a7"},
			// whatsapp: app secret from the profile, verify token of its own
			{ID: "inst_a_wa", OrgID: "org_a", ProfileID: "prof_a_wa", Provider: "whatsapp", IngressID: "000000000000000000000000000000a8"},
		},
		Secrets: []Secret{
			sec("sec_a_slack_old", store.OwnerProfile, "prof_a_slack", store.PurposeSigning, "slack-old-PLAINTEXT", tp(past)),
			sec("sec_a_slack_prev", store.OwnerProfile, "prof_a_slack", store.PurposeSigning, "slack-prev-PLAINTEXT", tp(future)),
			sec("sec_a_slack_cur", store.OwnerProfile, "prof_a_slack", store.PurposeSigning, "slack-cur-PLAINTEXT", nil),
			sec("sec_a_slack_bot", store.OwnerProfile, "prof_a_slack", store.PurposeBotToken, "xoxb-PLAINTEXT", nil),
			sec("sec_a_tg", store.OwnerInstallation, "inst_a_tg", store.PurposeSecretToken, "tg-token-PLAINTEXT", nil),
			sec("sec_plat", store.OwnerProfile, "prof_plat_slack", store.PurposeSigning, "platform-PLAINTEXT", nil),
			sec("sec_plat_old", store.OwnerProfile, "prof_plat_old", store.PurposeSigning, "platform-old-PLAINTEXT", nil),
			sec("sec_b", store.OwnerInstallation, "inst_b_slack", store.PurposeSigning, "orgb-PLAINTEXT", nil),
			sec("sec_a_dc", store.OwnerInstallation, "inst_a_dc", store.PurposePublicKey, "dc-a-PLAINTEXT", nil),
			sec("sec_c_dc", store.OwnerInstallation, "inst_c_dc", store.PurposePublicKey, "dc-c-PLAINTEXT", nil),
			sec("sec_c_slack", store.OwnerProfile, "prof_c_slack", store.PurposeSigning, "orgc-PLAINTEXT", nil),
			sec("sec_a_wa_app", store.OwnerProfile, "prof_a_wa", store.PurposeSigning, "wa-app-PLAINTEXT", nil),
			sec("sec_a_wa_vt", store.OwnerInstallation, "inst_a_wa", store.PurposeVerifyToken, "wa-verify-PLAINTEXT", nil),
		},
		Stages: []store.RolloutStage{
			{Provider: "line", Stage: store.StageOff},
			{Provider: "discord", Stage: store.StageCanary, CanaryOrgs: []string{"org_a"}},
			{Provider: "slack", Stage: store.StageOn},
			{Provider: "telegram", Stage: store.StageOn},
			{Provider: "whatsapp", Stage: store.StageOn},
		},
	}
	return s
}

func entry(t *testing.T, cfg filter.Config, ingress string) *filter.Installation {
	t.Helper()
	for i := range cfg.Installations {
		if cfg.Installations[i].IngressID == ingress {
			return &cfg.Installations[i]
		}
	}
	return nil
}

func secretIDs(in *filter.Installation) []string {
	var ids []string
	for _, s := range in.Secrets {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestEdgeConfigRules(t *testing.T) {
	cfg, err := EdgeConfig(fixture(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ingress  string
		present  bool
		revoked  bool
		secrets  string
		platform bool
	}{
		{"000000000000000000000000000000a1", true, false, "sec_a_slack_cur,sec_a_slack_prev", false}, // old dropped
		{"000000000000000000000000000000a2", true, false, "sec_a_tg", false},
		{"000000000000000000000000000000a3", true, false, "", false},  // platform profile: no secrets
		{"000000000000000000000000000000b1", true, true, "", false},   // org revoked
		{"000000000000000000000000000000a4", true, true, "", false},   // installation revoked
		{"000000000000000000000000000000a5", false, false, "", false}, // stage off
		{"000000000000000000000000000000a6", true, false, "sec_a_dc", false},
		{"000000000000000000000000000000c1", false, false, "", false}, // not a canary org
		{"000000000000000000000000000000a7", true, false, "", false},  // other org's profile
		{"000000000000000000000000000000a8", true, false, "sec_a_wa_app,sec_a_wa_vt", false},
		{"0000000000000000000000000000f001", true, false, "sec_plat", true},
		{"0000000000000000000000000000f002", true, true, "", true},
	}
	for _, c := range cases {
		e := entry(t, cfg, c.ingress)
		if (e != nil) != c.present {
			t.Errorf("%s: present=%v, want %v", c.ingress, e != nil, c.present)
			continue
		}
		if e == nil {
			continue
		}
		if e.Revoked != c.revoked || e.Platform != c.platform {
			t.Errorf("%s: revoked=%v platform=%v, want %v %v", c.ingress, e.Revoked, e.Platform, c.revoked, c.platform)
		}
		if got := strings.Join(secretIDs(e), ","); got != c.secrets {
			t.Errorf("%s: secrets %q, want %q", c.ingress, got, c.secrets)
		}
		for _, s := range e.Secrets {
			aad := filter.SealAAD(e.IngressID, s.ID)
			switch s.Purpose {
			case store.PurposeVerifyToken, store.PurposeSecretToken:
				if s.Sealed != "" || s.Fingerprint == "" {
					t.Errorf("%s/%s: equality token must be fingerprinted only", c.ingress, s.ID)
				}
			default:
				if s.Fingerprint != "" {
					t.Errorf("%s/%s: unexpected fingerprint", c.ingress, s.ID)
				}
				pt, err := filter.Unseal(testEdgeKey, s.Sealed, aad)
				if err != nil {
					t.Errorf("%s/%s: unseal: %v", c.ingress, s.ID, err)
				} else if !strings.HasSuffix(string(pt), "PLAINTEXT") {
					t.Errorf("%s/%s: unsealed %q", c.ingress, s.ID, pt)
				}
			}
		}
	}
	// The sealed output is accepted by the filter core.
	js, _ := json.Marshal(cfg)
	if _, err := filter.ParseConfig(js); err != nil {
		t.Fatalf("filter rejects translated config: %v", err)
	}
	// Same state, same version (sealing is random, the version is not).
	cfg2, err := EdgeConfig(fixture(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Version != cfg2.Version {
		t.Fatalf("version not deterministic: %s vs %s", cfg.Version, cfg2.Version)
	}
	// A revocation changes the version.
	st := fixture()
	st.Installations[0].RevokedAt = tp(fixedNow)
	cfg3, _ := EdgeConfig(st, testEdgeKey, fixedNow)
	if cfg3.Version == cfg.Version {
		t.Fatal("revocation did not change the version")
	}
	// Time passing the previous secret's window changes the version.
	cfg4, _ := EdgeConfig(fixture(), testEdgeKey, fixedNow.Add(2*time.Hour))
	if cfg4.Version == cfg.Version || strings.Join(secretIDs(entry(t, cfg4, "000000000000000000000000000000a1")), ",") != "sec_a_slack_cur" {
		t.Fatal("expired secret still present after its window")
	}
	if next, ok := NextExpiry(fixture(), fixedNow); !ok || !next.Equal(fixedNow.Add(time.Hour)) {
		t.Fatalf("NextExpiry = %v %v", next, ok)
	}
}

func TestEdgeConfigErrors(t *testing.T) {
	st := fixture()
	st.Installations[1].IngressID = st.Installations[0].IngressID
	if _, err := EdgeConfig(st, testEdgeKey, fixedNow); err == nil || !strings.Contains(err.Error(), "inst_a_slack") {
		t.Fatalf("duplicate ingress id: %v", err)
	}
	st = fixture()
	st.Installations[0].Provider = "myspace"
	st.Stages = append(st.Stages, store.RolloutStage{Provider: "myspace", Stage: store.StageOn})
	if _, err := EdgeConfig(st, testEdgeKey, fixedNow); err == nil || !strings.Contains(err.Error(), "myspace") {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := EdgeConfig(fixture(), nil, fixedNow); err == nil {
		t.Fatal("empty edge key accepted")
	}
}

var testOpts = ResourceOptions{IngestAddress: "127.0.0.1:8081", ListenPort: 10000, WasmPath: "/etc/envoy/filter.wasm"}

// canonical replaces sealed values (random nonces) by a marker so golden
// files are stable; callers check the real values unseal first.
func canonical(cfg filter.Config) filter.Config {
	out := cfg
	out.Installations = append([]filter.Installation(nil), cfg.Installations...)
	for i := range out.Installations {
		out.Installations[i].Secrets = append([]filter.Secret{}, out.Installations[i].Secrets...)
		for j := range out.Installations[i].Secrets {
			if out.Installations[i].Secrets[j].Sealed != "" {
				out.Installations[i].Secrets[j].Sealed = "<sealed>"
			}
		}
	}
	return out
}

func resourcesYAML(t *testing.T, res Resources) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, typ := range []string{resource.ClusterType, resource.ListenerType, resource.RouteType, resource.ExtensionConfigType} {
		for _, r := range res[typ] {
			y, err := ToYAML(r)
			if err != nil {
				t.Fatal(err)
			}
			buf.WriteString("# " + typ + "\n---\n")
			buf.Write(y)
		}
	}
	return buf.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run go test ./xds -run Golden -update and review the diff)\n--- got:\n%s", name, got)
	}
}

func TestResourcesGolden(t *testing.T) {
	for name, st := range map[string]*State{"fixture": fixture(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			cfg, err := EdgeConfig(st, testEdgeKey, fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			// the real (sealed) resources: valid and without any plaintext
			real, err := BuildResources(cfg, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			for _, rs := range real {
				for _, r := range rs {
					if err := StrictRoundTrip(r); err != nil {
						t.Error(err)
					}
					if err := DeepValidate(r); err != nil {
						t.Error(err)
					}
				}
			}
			y := resourcesYAML(t, real)
			for _, s := range st.Secrets {
				if bytes.Contains(y, s.Plaintext) {
					t.Errorf("plaintext of %s in the resources", s.ID)
				}
			}
			if bytes.Contains(y, testEdgeKey) {
				t.Error("edge key in the resources")
			}
			res, err := BuildResources(canonical(cfg), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, name+".golden.yaml", resourcesYAML(t, res))
		})
	}
}

func TestOnlyReferencedExtensionConfigs(t *testing.T) {
	res, err := BuildResources(filter.Config{Installations: []filter.Installation{}}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res[resource.ExtensionConfigType]); n != 1 {
		t.Fatalf("%d ECDS resources, want 1", n)
	}
	ext, err := ExtensionConfig(filter.Config{}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	stray := proto.Clone(ext).(*corev3.TypedExtensionConfig)
	stray.Name = "unreferenced"
	got, err := referencedOnly(res[resource.ListenerType], []types.Resource{stray, ext})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].(*corev3.TypedExtensionConfig).GetName() != FilterName {
		t.Fatalf("kept %v, want only the referenced %s", got, FilterName)
	}
	// No listener references nothing.
	if got, err := referencedOnly(nil, []types.Resource{ext}); err != nil || len(got) != 0 {
		t.Fatalf("ECDS kept without a referencing listener: %v %v", got, err)
	}
	// Something that is not a listener is an error, not a silent empty set
	// (which would leave every filter without configuration).
	if _, err := referencedOnly([]types.Resource{ext}, []types.Resource{ext}); err == nil {
		t.Fatal("non-listener accepted")
	}
}

// TestResourcesFailClosed states the fail-closed properties explicitly (the
// golden file shows them, but a regenerated golden file would not catch a
// regression): the verify filter comes only from ECDS with no default and no
// warming bypass, it runs before the router, a VM failure closes, keys come
// from Envoy's environment by name, and only /v1/hooks/ reaches ingest.
func TestResourcesFailClosed(t *testing.T) {
	cfg, err := EdgeConfig(fixture(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	res, err := BuildResources(cfg, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	lis := res[resource.ListenerType][0].(*listenerv3.Listener)
	var hcm hcmv3.HttpConnectionManager
	if err := lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	fs := hcm.GetHttpFilters()
	if len(fs) != 2 || fs[0].GetName() != FilterName || fs[1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("http filters %v: want the verify filter, then the router", fs)
	}
	if fs[0].GetDisabled() || fs[0].GetIsOptional() {
		t.Fatal("verify filter disabled or optional")
	}
	cd := fs[0].GetConfigDiscovery()
	if cd == nil || cd.GetDefaultConfig() != nil || cd.GetApplyDefaultConfigWithoutWarming() ||
		len(cd.GetTypeUrls()) != 1 || cd.GetTypeUrls()[0] != WasmTypeURL || cd.GetConfigSource().GetAds() == nil {
		t.Fatalf("config_discovery %v: want ADS, Wasm only, no default", cd)
	}
	if len(res[resource.ExtensionConfigType]) != 1 {
		t.Fatal("want exactly the one referenced ECDS resource")
	}
	var w wasmfilterv3.Wasm
	if err := res[resource.ExtensionConfigType][0].(*corev3.TypedExtensionConfig).GetTypedConfig().UnmarshalTo(&w); err != nil {
		t.Fatal(err)
	}
	pc := w.GetConfig()
	if pc.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED || pc.GetFailOpen() || !pc.GetAllowOnHeadersStopIteration().GetValue() {
		t.Fatalf("plugin config: failure_policy=%v fail_open=%v allow_on_headers_stop_iteration=%v",
			pc.GetFailurePolicy(), pc.GetFailOpen(), pc.GetAllowOnHeadersStopIteration())
	}
	env := pc.GetVmConfig().GetEnvironmentVariables()
	if len(env.GetKeyValues()) != 0 || strings.Join(env.GetHostEnvKeys(), ",") != EnvEdgeKey+","+EnvAttestationKey {
		t.Fatalf("vm environment %v: want the keys by name from the host only", env)
	}
	rc := res[resource.RouteType][0].(*routev3.RouteConfiguration)
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetRoute() != nil && (r.GetMatch().GetPrefix() != HooksPrefix || r.GetRoute().GetCluster() != IngestName) {
				t.Errorf("route %s forwards %v", r.GetName(), r.GetMatch())
			}
		}
	}
}

// TestDeepValidateCatchesNestedAny proves the recursion: a listener whose HCM
// (inside an Any) is invalid passes the generated ValidateAll but not
// DeepValidate.
func TestDeepValidateCatchesNestedAny(t *testing.T) {
	bad, _ := anypb.New(&hcmv3.HttpConnectionManager{}) // no stat_prefix, no route specifier
	l := &listenerv3.Listener{
		Name: "l",
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: bad},
		}}}},
	}
	if err := l.ValidateAll(); err != nil {
		t.Fatalf("precondition: generated validator already fails: %v", err)
	}
	err := DeepValidate(l)
	if err == nil || !strings.Contains(err.Error(), "StatPrefix") {
		t.Fatalf("DeepValidate = %v, want the HCM's StatPrefix error", err)
	}
	unknown := &anypb.Any{TypeUrl: "type.googleapis.com/does.not.Exist"}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: unknown}
	if err := DeepValidate(l); err == nil {
		t.Fatal("unresolvable Any accepted")
	}
}
