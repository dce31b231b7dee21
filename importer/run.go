package importer

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
)

// ErrConflicts: the plan has conflicts and SkipConflicts was not given, so
// nothing was written.
var ErrConflicts = errors.New("the plan has conflicts: nothing written (fix them, or --skip-conflicts to import the rest)")

// Actor is the audit actor of imported objects.
const Actor = "import"

// Options of a run.
type Options struct {
	OrgID         string
	DryRun        bool
	SkipConflicts bool
	RunID         string           // generated when empty
	Now           func() time.Time // time.Now when nil
	Progress      io.Writer        // progress lines while applying (nil: none)
	ProgressEvery int              // objects between progress lines (default 1000)
	// BeforeCommit runs inside the transaction after the plan is applied (to
	// hand over generated agent secrets); an error rolls everything back.
	BeforeCommit func(*Result) error
}

// Result of a run.
type Result struct {
	Plan    *Plan
	RunID   string
	Applied bool // the transaction committed
	Created int
	// AgentSecrets holds the signing secrets generated for created agents
	// (agent id -> secret); the caller hands them over once.
	AgentSecrets map[string]string
}

// Run plans src against the store and, unless DryRun, applies the plan's
// creates in one transaction: a failure part-way leaves nothing written, and
// a rerun (objects recognised by their import keys) creates only what is
// missing. The state is read inside that transaction, so the plan applied is
// the plan of the store as it is.
func Run(ctx context.Context, st store.Store, keys *secrets.Keyring, src *Source, o Options) (*Result, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	at := now().UTC()
	res := &Result{RunID: o.RunID, AgentSecrets: map[string]string{}}
	if res.RunID == "" {
		res.RunID = newID("imp")
	}
	fp := func(v string) string { return keys.Fingerprint([]byte(v)) }
	if o.DryRun {
		state, err := LoadState(ctx, st, keys, src, o.OrgID, at)
		if err != nil {
			return nil, err
		}
		res.Plan = BuildPlan(src, state, fp)
		return res, nil
	}
	err := st.InTx(ctx, func(q store.Queries) error {
		state, err := LoadState(ctx, q, keys, src, o.OrgID, at)
		if err != nil {
			return err
		}
		res.Plan = BuildPlan(src, state, fp)
		if res.Plan.Counts()[Conflict] > 0 && !o.SkipConflicts {
			return ErrConflicts
		}
		if res.Created, err = apply(ctx, q, keys, res.Plan, res, at, o); err != nil {
			return err
		}
		if o.BeforeCommit != nil {
			return o.BeforeCommit(res)
		}
		return nil
	})
	if err != nil {
		res.Created, res.AgentSecrets = 0, map[string]string{}
		return res, err
	}
	res.Applied = true
	return res, nil
}

// LoadState reads what planning needs. Live secrets of the providers the
// source uses (and of the organisation's own objects) are opened to compute
// their fingerprints with the current key.
func LoadState(ctx context.Context, q store.Queries, keys *secrets.Keyring, src *Source, orgID string, now time.Time) (*State, error) {
	ik, ok := q.(store.ImportKeys)
	if !ok {
		return nil, fmt.Errorf("import: store %T does not keep import keys", q)
	}
	st := &State{OrgID: orgID, Keys: map[string]store.ImportKey{}, Live: map[string]bool{}, ObjectSecrets: map[string]map[string]string{}}
	org, err := q.GetOrg(ctx, orgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("import: read org %s: %w", orgID, err)
	default:
		st.OrgLive = org.RevokedAt == nil
	}
	providers := map[string]bool{}
	for _, a := range src.Accounts {
		providers[a.Provider] = true
	}
	profiles, err := q.ListProfiles(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	profByID := map[string]store.AppProfile{}
	platIdx := map[string]int{}
	for _, p := range profiles {
		profByID[p.ID] = p
		if p.OwnerOrgID == orgID {
			st.Live[p.ID] = p.RevokedAt == nil
		}
		if p.OwnerOrgID == store.OwnerPlatform && p.RevokedAt == nil && providers[p.Provider] {
			platIdx[p.ID] = len(st.PlatformProfiles)
			st.PlatformProfiles = append(st.PlatformProfiles, ProfileState{AppProfile: p, Secrets: map[string]string{}})
		}
	}
	insts, err := q.ListInstallations(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	instByID := map[string]store.Installation{}
	for _, in := range insts {
		instByID[in.ID] = in
		if in.OrgID == orgID {
			st.Live[in.ID] = in.RevokedAt == nil
		}
		if in.RevokedAt == nil {
			st.Installations = append(st.Installations, in)
		}
	}
	agents, err := q.ListAgents(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, a := range agents {
		st.Live[a.ID] = a.RevokedAt == nil
	}
	binds, err := q.ListOrgBindings(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, b := range binds {
		st.Live[b.ID] = b.RevokedAt == nil
	}
	ks, err := ik.ListImportKeys(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, k := range ks {
		st.Keys[k.Key] = k
	}
	all, err := q.ListAllSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	for _, s := range all {
		if s.NotAfter != nil && !s.NotAfter.After(now) {
			continue
		}
		var provider, owner string
		switch s.OwnerKind {
		case store.OwnerProfile:
			p := profByID[s.OwnerID]
			if p.RevokedAt != nil {
				continue
			}
			provider, owner = p.Provider, p.OwnerOrgID
		case store.OwnerInstallation:
			in := instByID[s.OwnerID]
			if in.RevokedAt != nil {
				continue
			}
			provider, owner = in.Provider, in.OrgID
		case store.OwnerAgent:
			if _, ours := st.Live[s.OwnerID]; !ours {
				continue
			}
			owner = orgID
		}
		ours := owner == orgID && owner != ""
		if !providers[provider] && !ours {
			continue
		}
		plain, err := keys.Open(s.KeyID, s.Ciphertext, s.ID)
		if err != nil {
			return nil, fmt.Errorf("import: open secret %s of %s %s: %w", s.ID, s.OwnerKind, s.OwnerID, err)
		}
		f := keys.Fingerprint(plain)
		clear(plain)
		if i, ok := platIdx[s.OwnerID]; ok && s.OwnerKind == store.OwnerProfile {
			st.PlatformProfiles[i].Secrets[s.Purpose] = f
			continue
		}
		if owner != store.OwnerPlatform && s.OwnerKind != store.OwnerAgent {
			st.Claims = append(st.Claims, Claim{Provider: provider, Purpose: s.Purpose, Fingerprint: f, OrgID: owner, OwnerKind: s.OwnerKind, OwnerID: s.OwnerID})
		}
		if ours {
			if st.ObjectSecrets[s.OwnerID] == nil {
				st.ObjectSecrets[s.OwnerID] = map[string]string{}
			}
			st.ObjectSecrets[s.OwnerID][s.Purpose] = f
		}
	}
	return st, nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

func newIngressID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// apply creates the plan's create rows in order, each with its secrets, its
// import key and its audit event, then audits the run.
func apply(ctx context.Context, q store.Queries, keys *secrets.Keyring, pl *Plan, res *Result, now time.Time, o Options) (int, error) {
	ik := q.(store.ImportKeys)
	ids := map[string]string{}
	total := 0
	for _, r := range pl.Rows {
		if r.ObjectID != "" && r.Action == Unchanged {
			ids[r.Key] = r.ObjectID
		}
		if r.Action == Create {
			total++
		}
	}
	every := o.ProgressEvery
	if every <= 0 {
		every = 1000
	}
	audit := func(action, target string, detail map[string]any) error {
		detail["import_run"] = res.RunID
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("encode audit detail: %w", err)
		}
		if _, err := q.AppendAudit(ctx, store.AuditEvent{At: now, Actor: Actor, OrgID: pl.Org, Action: action, Target: target, Detail: string(b)}); err != nil {
			return fmt.Errorf("append audit %s: %w", action, err)
		}
		return nil
	}
	seal := func(kind, owner string, values map[string]string) (map[string]string, error) {
		fps := map[string]string{}
		for _, purpose := range sortedKeys(values) {
			id := newID("sec")
			keyID, ct, err := keys.Seal([]byte(values[purpose]), id)
			if err != nil {
				return nil, fmt.Errorf("seal %s secret of %s %s: %w", purpose, kind, owner, err)
			}
			sec := store.Secret{ID: id, OwnerKind: kind, OwnerID: owner, Purpose: purpose, KeyID: keyID, Ciphertext: ct,
				Fingerprint: keys.Fingerprint([]byte(values[purpose])), NotBefore: now, CreatedAt: now}
			if err := q.CreateSecret(ctx, sec); err != nil {
				return nil, fmt.Errorf("create %s secret of %s %s: %w", purpose, kind, owner, err)
			}
			fps[purpose] = sec.Fingerprint
		}
		return fps, nil
	}
	done := 0
	for i := range pl.Rows {
		r := &pl.Rows[i]
		if r.Action != Create || r.op == nil {
			continue
		}
		p := r.op
		var id string
		where := fmt.Sprintf("%s row %s (%s)", r.Kind, r.Key, r.Where)
		switch p.kind {
		case store.ImportProfile:
			id = newID("prof")
			pr := store.AppProfile{ID: id, OwnerOrgID: pl.Org, Provider: p.provider, Name: p.name, ExternalAppID: p.externalAppID, CreatedAt: now}
			if err := q.CreateProfile(ctx, pr); err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			fps, err := seal(store.OwnerProfile, id, p.secrets)
			if err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			if err := audit("profile.create", id, map[string]any{"provider": pr.Provider, "name": pr.Name,
				"external_app_id": pr.ExternalAppID, "secrets": fps, "import_key": r.Key}); err != nil {
				return done, err
			}
		case store.ImportInstallation:
			prof := p.profileID
			if prof == "" {
				prof = ids[p.profileKey]
			}
			if prof == "" {
				return done, fmt.Errorf("import %s: profile %s has no id (plan out of order)", where, p.profileKey)
			}
			id = newID("inst")
			in := store.Installation{ID: id, OrgID: pl.Org, ProfileID: prof, Provider: p.provider, ExternalID: p.externalID,
				IngressID: newIngressID(), CreatedAt: now}
			if err := q.CreateInstallation(ctx, in); err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			fps, err := seal(store.OwnerInstallation, id, p.secrets)
			if err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			if err := audit("installation.create", id, map[string]any{"provider": in.Provider, "profile_id": prof,
				"external_id": in.ExternalID, "ingress_id": in.IngressID, "secrets": fps, "platform_credentials": false, "import_key": r.Key}); err != nil {
				return done, err
			}
		case store.ImportAgent:
			id = newID("agt")
			a := store.Agent{ID: id, OrgID: pl.Org, Name: p.name, URL: p.url, CreatedAt: now}
			if err := q.CreateAgent(ctx, a); err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			secret := p.agentSecret
			if secret == "" {
				secret = api.NewAgentSecret()
				res.AgentSecrets[id] = secret
			}
			fps, err := seal(store.OwnerAgent, id, map[string]string{store.PurposeSigning: secret})
			if err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			if err := audit("agent.create", id, map[string]any{"name": a.Name, "url": a.URL, "secrets": fps, "import_key": r.Key}); err != nil {
				return done, err
			}
		case store.ImportBinding:
			inst, agent := ids[p.instKey], ids[p.agentKey]
			if inst == "" || agent == "" {
				return done, fmt.Errorf("import %s: installation %s or agent %s has no id (plan out of order)", where, p.instKey, p.agentKey)
			}
			id = newID("bind")
			b := store.Binding{ID: id, OrgID: pl.Org, InstallationID: inst, Selector: p.selector, AgentID: agent,
				Persona: p.persona, Priority: p.priority, CreatedAt: now}
			if err := q.CreateBinding(ctx, b); err != nil {
				return done, fmt.Errorf("import %s: %w", where, err)
			}
			if err := audit("binding.create", id, map[string]any{"installation_id": inst, "selector": b.Selector,
				"agent_id": agent, "persona": b.Persona, "priority": b.Priority, "import_key": r.Key}); err != nil {
				return done, err
			}
		default:
			return done, fmt.Errorf("import %s: unknown kind %q", where, p.kind)
		}
		if err := ik.CreateImportKey(ctx, store.ImportKey{OrgID: pl.Org, Key: r.Key, Kind: p.kind, ObjectID: id,
			Digest: p.digest, RunID: res.RunID, CreatedAt: now}); err != nil {
			return done, fmt.Errorf("import %s: %w", where, err)
		}
		ids[r.Key] = id
		r.ObjectID = id
		done++
		if o.Progress != nil && (done%every == 0 || done == total) {
			fmt.Fprintf(o.Progress, "applied %d/%d\n", done, total)
		}
	}
	if done == 0 {
		return 0, nil // a rerun that finds everything in place writes nothing
	}
	c := pl.Counts()
	if err := audit("import.run", res.RunID, map[string]any{"format": pl.Format, "file": filepath.Base(pl.File),
		"created": c[Create], "unchanged": c[Unchanged], "conflicts": c[Conflict], "unsupported": c[Unsupported]}); err != nil {
		return done, err
	}
	return done, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
