// Package importer adopts existing deployments into the binding store:
// provider-only "legacy" configurations (instance-wide secrets per provider,
// bindings keyed by provider and channel) and OpenClaw gateway configurations.
//
// Parsing turns a file into a Source (what it declares, in Switchboard terms,
// with where each row came from). Plan is pure: a Source and the store's State
// in, one Row per object (create, unchanged, conflict, unsupported) out.
// Run is the thin adapter: it reads the State and applies the creates of a
// plan in one store transaction, each created object recorded with its import
// key and audited with the run id.
package importer

import "github.com/switchboard-dev/switchboard/store"

// Identities an account of a source can resolve to.
const (
	IdentityPlatform = "platform" // the platform's shared app (a platform profile)
	IdentityOrg      = "org"      // the organisation's own app (BYOA): its own profile
)

// Source is a parsed input file.
type Source struct {
	Format   string // "legacy" or "openclaw"
	File     string
	Accounts []Account
	Agents   []Agent
	Bindings []Binding
	// Rows the file has that cannot be imported: no counterpart
	// (Unsupported) or refused while parsing (Refused).
	Unsupported []Item
	Refused     []Item
}

// Account is one provider app identity of the source: a profile (the
// platform's, or the org's own) and its installation(s).
type Account struct {
	Key      string // import key prefix, e.g. "telegram/default"
	Where    string // source location, e.g. "channels.telegram.accounts.ops"
	Provider string // Switchboard provider name
	Name     string
	// Identity asserted by the file ("" = resolve from the secrets).
	Identity      string
	ProfileID     string // a platform profile the file names
	ExternalAppID string
	Secrets       map[string]string // purpose -> value
	// MissingSecret explains where the verify secret would have come from
	// when the file has none (refusal text).
	MissingSecret string
}

// Agent is an agent endpoint the bindings route to.
type Agent struct {
	Key     string // import key, e.g. "agent/support"
	Where   string
	Name    string
	URL     string
	Secret  string // given signing secret; "" generates one
	NoURL   string // why there is no URL (refusal text)
	Default bool
}

// Binding routes traffic of an account to an agent.
type Binding struct {
	Key     string
	Where   string
	Account string // Account.Key
	// Tenant is the provider-side id a shared app tells tenants apart by
	// (Slack team, Discord guild, WhatsApp phone_number_id, LINE destination):
	// the installation's external id on a platform profile.
	Tenant string
	// EveryTenant: the binding applies to every installation of the account
	// (OpenClaw's default agent).
	EveryTenant bool
	Selector    store.Selector
	Agent       string // Agent.Key
	Persona     string
	Priority    int
}

// Item is a source row that is not imported, with the reason.
type Item struct {
	Kind   string // channel, account, binding, agent, setting
	Key    string
	Where  string
	Reason Reason
	Detail string
}
