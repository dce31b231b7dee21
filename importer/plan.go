package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/store"
)

// Action is what a run does with a row.
type Action string

const (
	Create      Action = "create"
	Unchanged   Action = "unchanged"
	Conflict    Action = "conflict"
	Unsupported Action = "unsupported"
)

// Reason is why a row is a conflict or unsupported (typed, for scripts).
type Reason string

const (
	ReasonNoCounterpart    Reason = "no_counterpart"             // nothing in Switchboard does this
	ReasonDisabled         Reason = "disabled"                   // switched off in the source
	ReasonShadowed         Reason = "shadowed"                   // never routes in the source either
	ReasonDuplicate        Reason = "duplicate_row"              // two rows with one key
	ReasonInvalid          Reason = "invalid_value"              // refused while parsing
	ReasonUnknownAgent     Reason = "unknown_agent"              // binding names no agent of the file
	ReasonUnknownAccount   Reason = "unknown_account"            // binding names no account of the file
	ReasonMissingSecret    Reason = "missing_secret"             // the org's own app without its verify secret
	ReasonSecretMismatch   Reason = "secret_mismatch"            // the secret contradicts the identity
	ReasonAmbiguousProfile Reason = "ambiguous_platform_profile" // several platform profiles could be meant
	ReasonNoPlatform       Reason = "no_platform_profile"        // identity platform, but no such profile
	ReasonOtherOrg         Reason = "other_org_claims"           // another organisation has it
	ReasonNoTenant         Reason = "no_tenant_id"               // a shared app row without the id that tells tenants apart
	ReasonChanged          Reason = "changed_since_import"       // the source row differs from what was imported
	ReasonRevoked          Reason = "revoked_since_import"       // the imported object was revoked
	ReasonNoAgentURL       Reason = "agent_without_url"
	ReasonDependency       Reason = "depends_on_refused" // its installation or agent is not imported
	ReasonOrgMissing       Reason = "org_missing"
	ReasonExists           Reason = "exists_outside_import" // the org already has it, not from an import
)

// Row is one line of a plan.
type Row struct {
	Kind     string `json:"kind"` // profile, installation, agent, binding, channel, account, setting
	Key      string `json:"key"`
	Where    string `json:"where"` // location in the source file
	Action   Action `json:"action"`
	Reason   Reason `json:"reason,omitempty"`
	Identity string `json:"identity,omitempty"` // platform / org (profile and installation rows)
	ObjectID string `json:"object_id,omitempty"`
	Detail   string `json:"detail,omitempty"`

	op *op // what Create does; nil otherwise
}

// Plan is the outcome of planning: every row of the source, in apply order
// (profiles, installations, agents, bindings, then what is not imported).
type Plan struct {
	Org    string `json:"org"`
	Format string `json:"format"`
	File   string `json:"file"`
	Rows   []Row  `json:"rows"`
}

// Counts per action.
func (p *Plan) Counts() map[Action]int {
	c := map[Action]int{}
	for _, r := range p.Rows {
		c[r.Action]++
	}
	return c
}

// op is a create, with references to other rows by import key (resolved to
// ids when applied) or to existing objects by id.
type op struct {
	kind   string
	digest string
	// profile
	provider, name, externalAppID string
	secrets                       map[string]string // purpose -> plaintext
	// installation
	profileID, profileKey, externalID string
	// agent
	url, agentSecret string
	// binding
	instKey, agentKey string
	selector          store.Selector
	persona           string
	priority          int
}

// ProfileState is a profile with the current fingerprints of its live secrets.
type ProfileState struct {
	store.AppProfile
	Secrets map[string]string // purpose -> fingerprint
}

// Claim is a live secret of an organisation's profile or installation: who
// already owns an app's credentials.
type Claim struct {
	Provider, Purpose, Fingerprint string
	OrgID, OwnerKind, OwnerID      string
}

// State is what planning needs of the store.
type State struct {
	OrgID            string
	OrgLive          bool
	PlatformProfiles []ProfileState             // live platform profiles
	Claims           []Claim                    // live secrets of org-owned profiles and installations
	Installations    []store.Installation       // live installations of every org
	Keys             map[string]store.ImportKey // this org's import keys
	Live             map[string]bool            // this org's object id -> not revoked
	ObjectSecrets    map[string]map[string]string
}

// Fingerprinter computes a secret's fingerprint the way the store's were
// (recomputed with the current key, so both sides compare).
type Fingerprinter func(secret string) string

// BuildPlan resolves every row of src against the store state. It is pure.
func BuildPlan(src *Source, st *State, fp Fingerprinter) *Plan {
	pl := &Plan{Org: st.OrgID, Format: src.Format, File: src.File}
	pb := &planner{src: src, st: st, fp: fp, plan: pl, status: map[string]Action{}, accounts: map[string]*accountPlan{}}
	if !st.OrgLive {
		pl.Rows = append(pl.Rows, Row{Kind: "org", Key: st.OrgID, Action: Conflict, Reason: ReasonOrgMissing,
			Detail: "organisation does not exist or is revoked"})
	}
	for _, a := range src.Accounts {
		pb.account(a)
	}
	pb.installations()
	for _, a := range src.Agents {
		pb.agent(a)
	}
	for _, b := range src.Bindings {
		pb.binding(b)
	}
	for _, it := range src.Refused {
		pl.Rows = append(pl.Rows, Row{Kind: it.Kind, Key: it.Key, Where: it.Where, Action: Conflict, Reason: it.Reason, Detail: it.Detail})
	}
	for _, it := range src.Unsupported {
		pl.Rows = append(pl.Rows, Row{Kind: it.Kind, Key: it.Key, Where: it.Where, Action: Unsupported, Reason: it.Reason, Detail: it.Detail})
	}
	if !st.OrgLive { // nothing can be written into a missing organisation
		for i := range pl.Rows {
			if pl.Rows[i].Action == Create {
				pl.Rows[i].Action, pl.Rows[i].Reason, pl.Rows[i].op = Conflict, ReasonOrgMissing, nil
			}
		}
	}
	return pl
}

type accountPlan struct {
	acc       Account
	ok        bool
	identity  string
	profileID string // existing profile (platform)
	profile   *ProfileState
	instKeys  []string          // installation keys, in order
	tenants   map[string]string // tenant (external id) -> installation key
}

type planner struct {
	src      *Source
	st       *State
	fp       Fingerprinter
	plan     *Plan
	status   map[string]Action // row key -> action
	accounts map[string]*accountPlan
	pending  []Row // installation rows, added after profiles
}

func digest(v any) string {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:16])
}

func (pb *planner) add(r Row) {
	pb.status[r.Key] = r.Action
	pb.plan.Rows = append(pb.plan.Rows, r)
}

// existing decides create / unchanged / conflict for an object with an
// import key; secrets are compared by fingerprint.
func (pb *planner) existing(r Row, d string, secrets map[string]string) Row {
	k, ok := pb.st.Keys[r.Key]
	if !ok {
		return r
	}
	r.ObjectID = k.ObjectID
	r.op = nil
	switch {
	case !pb.st.Live[k.ObjectID]:
		r.Action, r.Reason = Conflict, ReasonRevoked
		r.Detail = fmt.Sprintf("%s %s imported by run %s was revoked since; remove its import key to import it again", k.Kind, k.ObjectID, k.RunID)
	case k.Digest != d || !pb.sameSecrets(k.ObjectID, secrets):
		r.Action, r.Reason = Conflict, ReasonChanged
		r.Detail = fmt.Sprintf("%s %s was imported by run %s from a different row; change it through the API, or revoke it to import the new row", k.Kind, k.ObjectID, k.RunID)
	default:
		r.Action = Unchanged
		r.Detail = fmt.Sprintf("imported by run %s", k.RunID)
	}
	return r
}

func (pb *planner) sameSecrets(objectID string, secrets map[string]string) bool {
	have := pb.st.ObjectSecrets[objectID]
	for purpose, v := range secrets {
		if have[purpose] != pb.fp(v) {
			return false
		}
	}
	return true
}

func (pb *planner) fps(secrets map[string]string) map[string]string {
	out := make(map[string]string, len(secrets))
	for p, v := range secrets {
		out[p] = pb.fp(v)
	}
	return out
}

// account resolves an account's identity and plans its profile row.
func (pb *planner) account(a Account) {
	ap := &accountPlan{acc: a, tenants: map[string]string{}}
	pb.accounts[a.Key] = ap
	key := a.Key + "/profile"
	row := Row{Kind: "profile", Key: key, Where: a.Where}
	refuse := func(reason Reason, format string, args ...any) {
		row.Action, row.Reason, row.Detail = Conflict, reason, fmt.Sprintf(format, args...)
		pb.add(row)
	}
	fps := pb.fps(a.Secrets)
	// Platform profiles of the provider whose secrets equal the given ones.
	var candidates, matches []*ProfileState
	for i := range pb.st.PlatformProfiles {
		pp := &pb.st.PlatformProfiles[i]
		if pp.Provider != a.Provider {
			continue
		}
		candidates = append(candidates, pp)
		for purpose, f := range fps {
			if pp.Secrets[purpose] == f {
				matches = append(matches, pp)
				break
			}
		}
	}
	identity := a.Identity
	var profile *ProfileState
	switch identity {
	case IdentityPlatform:
		switch {
		case a.ProfileID != "":
			for _, c := range candidates {
				if c.ID == a.ProfileID {
					profile = c
				}
			}
			if profile == nil {
				refuse(ReasonNoPlatform, "profile %s is not a live platform profile of provider %s", a.ProfileID, a.Provider)
				return
			}
		case len(fps) > 0 && len(matches) == 1:
			profile = matches[0]
		case len(fps) > 0 && len(matches) > 1:
			refuse(ReasonAmbiguousProfile, "the secrets match %d platform profiles (%s): name one with profile_id", len(matches), profileIDs(matches))
			return
		case len(fps) > 0:
			refuse(ReasonSecretMismatch, "identity platform, but the secrets given are not those of any platform %s profile", a.Provider)
			return
		case len(candidates) == 1:
			profile = candidates[0]
		case len(candidates) == 0:
			refuse(ReasonNoPlatform, "identity platform, but the platform has no live %s profile", a.Provider)
			return
		default:
			refuse(ReasonAmbiguousProfile, "%d platform %s profiles (%s): name one with profile_id", len(candidates), a.Provider, profileIDs(candidates))
			return
		}
		for _, purpose := range sortedKeys(fps) {
			if have, ok := profile.Secrets[purpose]; ok && have != fps[purpose] && purpose != store.PurposeBotToken {
				refuse(ReasonSecretMismatch, "the %s secret given differs from platform profile %s's: it is not the platform's shared app", purpose, profile.ID)
				return
			}
		}
	case IdentityOrg:
		if len(matches) > 0 {
			refuse(ReasonSecretMismatch, "identity org, but the secrets are platform profile %s's (the platform's shared app): an org profile with them would impersonate it", matches[0].ID)
			return
		}
	default:
		switch {
		case len(matches) == 1:
			identity, profile = IdentityPlatform, matches[0]
		case len(matches) > 1:
			refuse(ReasonAmbiguousProfile, "the secrets match %d platform profiles (%s)", len(matches), profileIDs(matches))
			return
		case len(fps) > 0:
			identity = IdentityOrg
		default:
			refuse(ReasonMissingSecret, "no secrets: the platform's shared app and the organisation's own cannot be told apart (%s, or say identity: platform)", a.MissingSecret)
			return
		}
	}
	ap.identity = identity
	row.Identity = identity
	if identity == IdentityPlatform {
		ap.ok, ap.profile, ap.profileID = true, profile, profile.ID
		row.Action, row.ObjectID = Unchanged, profile.ID
		row.Detail = fmt.Sprintf("the platform's shared %s app: platform profile %s %q (its secrets stay the platform's; nothing created)", a.Provider, profile.ID, profile.Name)
		pb.add(row)
		return
	}
	// The organisation's own app: its verify secret must be in the file.
	verify := api.VerifyPurpose(a.Provider)
	if _, ok := a.Secrets[verify]; !ok {
		refuse(ReasonMissingSecret, "the organisation's own %s app needs its %s secret, never the platform's: %s", a.Provider, verify, a.MissingSecret)
		return
	}
	imported := map[string]bool{}
	for _, k := range pb.st.Keys {
		imported[k.ObjectID] = true
	}
	for _, purpose := range sortedKeys(fps) {
		f := fps[purpose]
		for _, c := range pb.st.Claims {
			if c.Provider != a.Provider || c.Purpose != purpose || c.Fingerprint != f {
				continue
			}
			if c.OrgID != pb.st.OrgID {
				refuse(ReasonOtherOrg, "organisation %s already holds this %s secret (%s %s): two organisations cannot claim one app", c.OrgID, purpose, c.OwnerKind, c.OwnerID)
				return
			}
			if !imported[c.OwnerID] {
				refuse(ReasonExists, "the organisation already has this %s secret on %s %s (not created by an import): a second profile would split one app; bind to the existing one through the API", purpose, c.OwnerKind, c.OwnerID)
				return
			}
		}
	}
	profSecrets := map[string]string{}
	for purpose, v := range a.Secrets {
		if purpose != store.PurposeBotToken {
			profSecrets[purpose] = v
		}
	}
	d := digest([]any{"profile", a.Provider, a.Name, a.ExternalAppID})
	row.Action = Create
	row.Detail = fmt.Sprintf("the organisation's own %s app (verified with the %s secret from the file)", a.Provider, verify)
	row.op = &op{kind: store.ImportProfile, digest: d, provider: a.Provider, name: a.Name, externalAppID: a.ExternalAppID, secrets: profSecrets}
	row = pb.existing(row, d, profSecrets)
	ap.ok = row.Action != Conflict
	pb.add(row)
}

func profileIDs(ps []*ProfileState) string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// tenantOf is the installation external id of a binding's account:
// Telegram's bot id; on a platform profile the binding's tenant id; "" for an
// organisation's own app of another provider (one installation).
func (pb *planner) tenantOf(ap *accountPlan, tenant string) string {
	if ap.acc.Provider == "telegram" {
		if ap.acc.ExternalAppID != "" {
			return ap.acc.ExternalAppID
		}
		if ap.profile != nil {
			return ap.profile.ExternalAppID
		}
		return ""
	}
	if ap.identity == IdentityPlatform {
		return tenant
	}
	return ""
}

// installations plans one installation per (account, tenant) the bindings use.
func (pb *planner) installations() {
	for _, b := range pb.src.Bindings {
		ap := pb.accounts[b.Account]
		if ap == nil || !ap.ok || b.EveryTenant {
			continue
		}
		ext := pb.tenantOf(ap, b.Tenant)
		if ext == "" && ap.identity == IdentityPlatform {
			continue // refused with the binding
		}
		if _, done := ap.tenants[ext]; done {
			continue
		}
		ap.tenants[ext] = pb.installation(ap, ext)
	}
	// An account with no tenant-specific binding still gets its installation
	// (the default agent's binding goes there), where its tenant is known.
	for _, a := range pb.src.Accounts {
		ap := pb.accounts[a.Key]
		if !ap.ok || len(ap.tenants) > 0 {
			continue
		}
		ext := pb.tenantOf(ap, "")
		if ext == "" && ap.identity == IdentityPlatform {
			continue
		}
		ap.tenants[ext] = pb.installation(ap, ext)
	}
}

func (pb *planner) installation(ap *accountPlan, ext string) string {
	a := ap.acc
	key := a.Key + "/installation"
	if ext != "" {
		key += "/" + keyPart(ext)
	}
	ap.instKeys = append(ap.instKeys, key)
	row := Row{Kind: "installation", Key: key, Where: a.Where, Identity: ap.identity}
	var secrets map[string]string
	if tok, ok := a.Secrets[store.PurposeBotToken]; ok {
		if ap.profile == nil || ap.profile.Secrets[store.PurposeBotToken] != pb.fp(tok) {
			secrets = map[string]string{store.PurposeBotToken: tok}
		}
	}
	// Who else has this provider-side id.
	for _, in := range pb.st.Installations {
		if ext == "" || in.ExternalID != ext || in.Provider != a.Provider {
			continue
		}
		samePlatform := ap.identity == IdentityPlatform && in.ProfileID == ap.profileID
		if in.OrgID != pb.st.OrgID && (samePlatform || a.Provider == "telegram") {
			row.Action, row.Reason, row.ObjectID = Conflict, ReasonOtherOrg, in.ID
			row.Detail = fmt.Sprintf("organisation %s already has installation %s for %s %q: two organisations cannot claim one %s", in.OrgID, in.ID, a.Provider, ext, tenantWord(a.Provider))
			pb.add(row)
			return key
		}
		if k, imported := pb.st.Keys[key]; imported && k.ObjectID == in.ID {
			break // recognised below through its import key
		}
		if !samePlatform && in.OrgID == pb.st.OrgID && a.Provider == "telegram" {
			row.Action, row.Reason, row.ObjectID = Conflict, ReasonExists, in.ID
			row.Detail = fmt.Sprintf("the organisation already has installation %s for Telegram bot %s (not created by an import): a second one would split the bot", in.ID, ext)
			pb.add(row)
			return key
		}
		if samePlatform {
			row.Action, row.ObjectID = Unchanged, in.ID
			row.Detail = fmt.Sprintf("the organisation already has installation %s of platform profile %s for %q (not created by an import); used as it is", in.ID, ap.profileID, ext)
			pb.add(row)
			return key
		}
	}
	profRef := ap.profileID
	d := digest([]any{"installation", a.Provider, a.Key + "/profile", profRef, ext})
	row.Action = Create
	if ap.identity == IdentityPlatform {
		row.Detail = fmt.Sprintf("installation of platform profile %s for %q; sends only with its own bot token (platform credentials stay off)", ap.profileID, ext)
	} else {
		row.Detail = "installation of the organisation's own app"
	}
	row.op = &op{kind: store.ImportInstallation, digest: d, provider: a.Provider, profileID: profRef, profileKey: a.Key + "/profile", externalID: ext, secrets: secrets}
	row = pb.existing(row, d, secrets)
	pb.add(row)
	return key
}

func tenantWord(provider string) string {
	switch provider {
	case "slack":
		return "workspace"
	case "telegram":
		return "bot (and its chats)"
	case "discord":
		return "guild"
	}
	return "account"
}

func (pb *planner) agent(a Agent) {
	row := Row{Kind: "agent", Key: a.Key, Where: a.Where}
	if a.URL == "" {
		row.Action, row.Reason, row.Detail = Conflict, ReasonNoAgentURL, a.NoURL
		pb.add(row)
		return
	}
	var secrets map[string]string
	if a.Secret != "" {
		secrets = map[string]string{store.PurposeSigning: a.Secret}
	}
	d := digest([]any{"agent", a.Name, a.URL})
	row.Action = Create
	row.Detail = fmt.Sprintf("agent %q at %s", a.Name, a.URL)
	if a.Secret == "" {
		row.Detail += " (a new signing secret is generated)"
	}
	row.op = &op{kind: store.ImportAgent, digest: d, name: a.Name, url: a.URL, agentSecret: a.Secret}
	pb.add(pb.existing(row, d, secrets))
}

func (pb *planner) binding(b Binding) {
	ap := pb.accounts[b.Account]
	base := Row{Kind: "binding", Key: b.Key, Where: b.Where}
	refuse := func(reason Reason, format string, args ...any) {
		r := base
		r.Action, r.Reason, r.Detail = Conflict, reason, fmt.Sprintf(format, args...)
		pb.add(r)
	}
	if ap == nil {
		refuse(ReasonUnknownAccount, "account %s is not in the file", b.Account)
		return
	}
	if !ap.ok {
		refuse(ReasonDependency, "its profile %s is not imported (see that row)", b.Account+"/profile")
		return
	}
	agentAction, known := pb.status[b.Agent]
	if !known {
		refuse(ReasonUnknownAgent, "agent %s is not in the file", strings.TrimPrefix(b.Agent, "agent/"))
		return
	}
	if agentAction == Conflict {
		refuse(ReasonDependency, "its agent %s is not imported (see that row)", b.Agent)
		return
	}
	var insts []string
	if b.EveryTenant {
		insts = ap.instKeys
		if len(insts) == 0 {
			refuse(ReasonNoTenant, "the platform's shared %s app tells tenants apart by %s id and no binding of this account names one", ap.acc.Provider, tenantWord(ap.acc.Provider))
			return
		}
	} else {
		ext := pb.tenantOf(ap, b.Tenant)
		key, ok := ap.tenants[ext]
		if !ok {
			refuse(ReasonNoTenant, "the platform's shared %s app tells tenants apart by %s id: this binding names none", ap.acc.Provider, tenantWord(ap.acc.Provider))
			return
		}
		insts = []string{key}
	}
	for _, instKey := range insts {
		r := base
		if b.EveryTenant && ap.identity == IdentityPlatform && ap.acc.Provider != "telegram" {
			r.Key = b.Key + "@" + strings.TrimPrefix(instKey, ap.acc.Key+"/installation/")
		}
		instAction := pb.status[instKey]
		if instAction == Conflict {
			r.Action, r.Reason, r.Detail = Conflict, ReasonDependency, fmt.Sprintf("its installation %s is not imported (see that row)", instKey)
			pb.add(r)
			continue
		}
		d := digest([]any{"binding", instKey, b.Selector, b.Agent, b.Persona, b.Priority})
		r.Action = Create
		r.Detail = describeBinding(b)
		r.op = &op{kind: store.ImportBinding, digest: d, instKey: instKey, agentKey: b.Agent,
			selector: b.Selector, persona: b.Persona, priority: b.Priority}
		pb.add(pb.existing(r, d, nil))
	}
}

func describeBinding(b Binding) string {
	var parts []string
	s := b.Selector
	for _, f := range []struct{ n, v string }{{"account", s.Account}, {"channel", s.Channel}, {"peer", s.Peer}, {"mention", s.Mention}} {
		if f.v != "" {
			parts = append(parts, f.n+"="+f.v)
		}
	}
	sel := "everything"
	if len(parts) > 0 {
		sel = strings.Join(parts, " ")
	}
	out := fmt.Sprintf("%s -> %s (priority %d)", sel, strings.TrimPrefix(b.Agent, "agent/"), b.Priority)
	if b.Persona != "" {
		out += " persona " + b.Persona
	}
	if s.Peer != "" && b.Priority == tierPeer-1 {
		out += "; note: a Switchboard peer selector also matches this user in shared channels, not only in direct messages"
	}
	return out
}
