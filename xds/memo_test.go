package xds

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

// openedOf is the plaintext of every sealed value of cfg (by ingress and
// secret id), and every fingerprint.
func openedOf(t *testing.T, cfg filter.Config) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, in := range cfg.Installations {
		for _, s := range in.Secrets {
			v := s.Fingerprint
			if s.Sealed != "" {
				pt, err := filter.Unseal(testEdgeKey, s.Sealed, filter.SealAAD(in.IngressID, s.ID))
				if err != nil {
					t.Fatalf("unseal %s of %s: %v", s.ID, in.IngressID, err)
				}
				v = "sealed:" + string(pt)
			}
			m[in.IngressID+"/"+s.ID] = v
		}
	}
	return m
}

// cloneState is a deep copy of st (a state as LoadState makes it: new rows,
// times and plaintexts).
func cloneState(st *State) *State {
	cp := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := *t
		return &v
	}
	out := &State{Generation: st.Generation,
		Orgs: slices.Clone(st.Orgs), Profiles: slices.Clone(st.Profiles),
		Installations: slices.Clone(st.Installations), Secrets: slices.Clone(st.Secrets), Stages: cloneStages(st.Stages)}
	for i := range out.Orgs {
		out.Orgs[i].RevokedAt = cp(out.Orgs[i].RevokedAt)
	}
	for i := range out.Profiles {
		out.Profiles[i].RevokedAt = cp(out.Profiles[i].RevokedAt)
	}
	for i := range out.Installations {
		out.Installations[i].RevokedAt = cp(out.Installations[i].RevokedAt)
	}
	for i := range out.Secrets {
		out.Secrets[i].NotAfter = cp(out.Secrets[i].NotAfter)
		out.Secrets[i].Plaintext = bytes.Clone(out.Secrets[i].Plaintext)
	}
	return out
}

func findInst(st *State, id string) *store.Installation {
	for i := range st.Installations {
		if st.Installations[i].ID == id {
			return &st.Installations[i]
		}
	}
	panic("no installation " + id)
}

func findProfile(st *State, id string) *store.AppProfile {
	for i := range st.Profiles {
		if st.Profiles[i].ID == id {
			return &st.Profiles[i]
		}
	}
	panic("no profile " + id)
}

func findSecret(st *State, id string) *Secret {
	for i := range st.Secrets {
		if st.Secrets[i].ID == id {
			return &st.Secrets[i]
		}
	}
	panic("no secret " + id)
}

func findStage(st *State, provider string) *store.RolloutStage {
	for i := range st.Stages {
		if st.Stages[i].Provider == provider {
			return &st.Stages[i]
		}
	}
	panic("no stage " + provider)
}

// TestMemoizedBuildEqualsFullBuild applies every kind of input change, one
// after the other, to the state of a controller that keeps its previous
// translation (memo.go), and compares each build with a build of a new
// controller from scratch: the same version, the same configuration, the
// same resource versions, the same error. incremental says whether the
// change must be built from the previous translation (the others need a
// full one and must fall back to it).
func TestMemoizedBuildEqualsFullBuild(t *testing.T) {
	future2 := fixedNow.Add(3 * time.Hour)
	steps := []struct {
		name        string
		change      func(st *State)
		later       time.Duration // the build's time after fixedNow
		incremental bool
		wantErr     string
	}{
		{"revoke installation", func(st *State) { findInst(st, "inst_a_slack").RevokedAt = tp(fixedNow) }, 0, true, ""},
		{"unrevoke installation", func(st *State) { findInst(st, "inst_a_slack").RevokedAt = nil }, 0, true, ""},
		{"revoke org", func(st *State) { st.Orgs[0].RevokedAt = tp(fixedNow) }, 0, true, ""},
		{"unrevoke org", func(st *State) { st.Orgs[0].RevokedAt = nil }, 0, true, ""},
		{"unrevoke other org", func(st *State) { st.Orgs[1].RevokedAt = nil }, 0, true, ""},
		{"revoke org profile", func(st *State) { findProfile(st, "prof_a_slack").RevokedAt = tp(fixedNow) }, 0, true, ""},
		{"unrevoke org profile", func(st *State) { findProfile(st, "prof_a_slack").RevokedAt = nil }, 0, true, ""},
		{"revoke platform profile", func(st *State) { findProfile(st, "prof_plat_slack").RevokedAt = tp(fixedNow) }, 0, true, ""},
		{"unrevoke platform profile", func(st *State) { findProfile(st, "prof_plat_slack").RevokedAt = nil }, 0, true, ""},
		{"profile secret replaced", func(st *State) { findSecret(st, "sec_a_slack_cur").Plaintext = []byte("slack-new-PLAINTEXT") }, 0, true, ""},
		{"platform secret replaced", func(st *State) { findSecret(st, "sec_plat").Plaintext = []byte("platform-new-PLAINTEXT") }, 0, true, ""},
		{"installation token replaced", func(st *State) { findSecret(st, "sec_a_tg").Plaintext = []byte("tg-new-PLAINTEXT") }, 0, true, ""},
		{"verify token replaced", func(st *State) { findSecret(st, "sec_a_wa_vt").Plaintext = []byte("wa-new-PLAINTEXT") }, 0, true, ""},
		{"rotation window set", func(st *State) { findSecret(st, "sec_a_slack_cur").NotAfter = tp(future2) }, 0, true, ""},
		{"not yet valid moved", func(st *State) { findSecret(st, "sec_a_dc").NotBefore = fixedNow.Add(time.Minute) }, 0, true, ""},
		{"time passes an end", func(st *State) {}, 2 * time.Hour, true, ""},
		{"time passes the next end", func(st *State) {}, 4 * time.Hour, true, ""},
		{"time goes back", func(st *State) {}, 0, true, ""},
		{"rotation window cleared", func(st *State) { findSecret(st, "sec_a_slack_cur").NotAfter = nil }, 0, true, ""},
		{"installation moves to another profile", func(st *State) { findInst(st, "inst_a_cross").ProfileID = "prof_a_slack" }, 0, true, ""},
		{"installation moves to another org", func(st *State) { findInst(st, "inst_a_cross").OrgID = "org_c" }, 0, true, ""},
		{"profile changes owner", func(st *State) { findProfile(st, "prof_c_slack").OwnerOrgID = "org_a" }, 0, true, ""},
		{"installation leaves the canary", func(st *State) { findInst(st, "inst_a_dc").OrgID = "org_c" }, 0, false, ""},
		{"canary org added", func(st *State) {
			s := findStage(st, "discord")
			s.CanaryOrgs = append(slices.Clone(s.CanaryOrgs), "org_c")
		}, 0, false, ""},
		{"probe org added", func(st *State) {
			s := findStage(st, "line")
			s.Stage, s.ProbeOrgs = store.StageCanary, []string{"org_a"}
		}, 0, false, ""},
		{"stage on", func(st *State) { findStage(st, "discord").Stage = store.StageOn }, 0, false, ""},
		{"stage off", func(st *State) { findStage(st, "slack").Stage = store.StageOff }, 0, false, ""},
		{"stage back on", func(st *State) { findStage(st, "slack").Stage = store.StageOn }, 0, false, ""},
		{"ingress id changed", func(st *State) { findInst(st, "inst_a_slack").IngressID = "000000000000000000000000000000d1" }, 0, false, ""},
		{"nothing changed", func(st *State) {}, 0, true, ""},
		{"installation added", func(st *State) {
			st.Installations = append(st.Installations, store.Installation{ID: "inst_z", OrgID: "org_c", ProfileID: "prof_c_slack",
				Provider: "slack", IngressID: "000000000000000000000000000000e1"})
		}, 0, false, ""},
		{"secret added", func(st *State) {
			st.Secrets = append(st.Secrets, Secret{Secret: store.Secret{ID: "sec_z", OwnerKind: store.OwnerInstallation, OwnerID: "inst_z",
				Purpose: store.PurposeSigning, NotBefore: fixedNow.Add(-time.Hour)}, Plaintext: []byte("z-PLAINTEXT")})
		}, 0, false, ""},
		{"added installation's secret replaced", func(st *State) { findSecret(st, "sec_z").Plaintext = []byte("z2-PLAINTEXT") }, 0, true, ""},
		{"secret changes purpose", func(st *State) { findSecret(st, "sec_a_slack_bot").Purpose = store.PurposeSigning }, 0, false, ""},
		{"platform profile loses its ingress id", func(st *State) { findProfile(st, "prof_plat_slack").IngressID = "" }, 0, false, ""},
		{"installation removed", func(st *State) { st.Installations = st.Installations[:len(st.Installations)-1] }, 0, false, ""},
		{"empty ingress id", func(st *State) { findInst(st, "inst_a_wa").IngressID = "" }, 0, true, "empty ingress id"},
		{"after an error", func(st *State) { findInst(st, "inst_a_wa").IngressID = "000000000000000000000000000000a8" }, 0, false, ""},
		{"duplicate ingress id", func(st *State) { findInst(st, "inst_a_cross").IngressID = findInst(st, "inst_a_wa").IngressID }, 0, false, "also used by"},
		{"duplicate fixed", func(st *State) { findInst(st, "inst_a_cross").IngressID = "000000000000000000000000000000a7" }, 0, false, ""},
		{"duplicate profile id", func(st *State) {
			p := *findProfile(st, "prof_plat_slack")
			p.IngressID = "0000000000000000000000000000f009"
			st.Profiles = append(st.Profiles, p)
		}, 0, false, ""},
		{"secret of the duplicated profile replaced", func(st *State) { findSecret(st, "sec_plat").Plaintext = []byte("platform-3-PLAINTEXT") }, 0, false, ""},
		{"duplicate profile removed", func(st *State) { st.Profiles = st.Profiles[:len(st.Profiles)-1] }, 0, false, ""},
		{"revoke after a full build", func(st *State) { findInst(st, "inst_a_wa").RevokedAt = tp(fixedNow) }, 0, true, ""},
	}
	for _, k := range []int{0, 4} {
		opts := testOpts
		opts.Shards = k
		newC := func() *Controller { return &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: opts}} }
		st := fixture()
		for i := range st.Secrets {
			if st.Secrets[i].Purpose == store.PurposePublicKey {
				st.Secrets[i].Plaintext = []byte(strings.Repeat(st.Secrets[i].ID[len(st.Secrets[i].ID)-1:], 64))
			}
		}
		memo := newC()
		if _, err := memo.Build(st, fixedNow); err != nil {
			t.Fatal(err)
		}
		for i, s := range steps {
			if i%2 == 1 {
				st = cloneState(st) // a fresh load
			}
			s.change(st)
			now := fixedNow.Add(s.later)
			before := memo.incremental
			got, gerr := memo.Build(st, now)
			want, werr := newC().Build(st, now)
			if s.wantErr != "" {
				if gerr == nil || werr == nil || !strings.Contains(gerr.Error(), s.wantErr) || gerr.Error() != werr.Error() {
					t.Fatalf("shards=%d %s: errors %v and %v, want both %q", k, s.name, gerr, werr, s.wantErr)
				}
				continue
			}
			if gerr != nil || werr != nil {
				t.Fatalf("shards=%d %s: %v / %v", k, s.name, gerr, werr)
			}
			if inc := memo.incremental > before; inc != s.incremental {
				t.Errorf("shards=%d %s: built from the previous translation %v, want %v", k, s.name, inc, s.incremental)
			}
			if got.version != want.version {
				t.Errorf("shards=%d %s: version %s, from scratch %s", k, s.name, got.version, want.version)
			}
			if g, w := mustJSON(t, canonical(got.config())), mustJSON(t, canonical(want.config())); !bytes.Equal(g, w) {
				t.Errorf("shards=%d %s: configuration\n%s\nfrom scratch\n%s", k, s.name, g, w)
			}
			if len(got.ecds.res) != len(want.ecds.res) {
				t.Errorf("shards=%d %s: %d resources, from scratch %d", k, s.name, len(got.ecds.res), len(want.ecds.res))
			}
			for name, r := range want.ecds.res {
				if g := got.ecds.res[name]; g == nil || g.version != r.version {
					t.Errorf("shards=%d %s: resource %s differs from scratch", k, s.name, name)
				}
			}
			// Every sealed value of the memoized build opens, under its own
			// ingress id, to the plaintext the scratch build sealed.
			if g, w := openedOf(t, got.config()), openedOf(t, want.config()); !maps.Equal(g, w) {
				t.Errorf("shards=%d %s: sealed values open to other plaintexts than from scratch", k, s.name)
			}
			if err := memo.loads(mustJSON(t, got.config())); err != nil {
				t.Errorf("shards=%d %s: memoized configuration does not load: %v", k, s.name, err)
			}
		}
	}
}
