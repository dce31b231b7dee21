// Package filter is the edge verification core: the edge configuration format,
// ingress-id lookup, the signature schemes and the accept/reject decision.
// It is pure (no I/O, no goroutines, no reflection on the hot path) and must
// compile with TinyGo 0.33 for the Envoy Wasm plugin as well as with Go.
package filter

// Scheme names a verification scheme. Verification is by scheme, not provider.
type Scheme string

const (
	SchemeSlackV0          Scheme = "slack_v0"
	SchemeMetaSHA256       Scheme = "meta_sha256" // WhatsApp, Messenger, Instagram
	SchemeTelegramToken    Scheme = "telegram_token"
	SchemeDiscordEd25519   Scheme = "discord_ed25519"
	SchemeTwilioSHA1       Scheme = "twilio_sha1"
	SchemeLINE             Scheme = "line"
	SchemeStandardWebhooks Scheme = "standard_webhooks"
	SchemeGitHubSHA256     Scheme = "github_sha256"
)

// Config is the edge configuration the control plane pushes (as JSON, inside
// the ECDS TypedExtensionConfig) and `switchboard verify --config` reads.
// Secret material in it is sealed under the edge key; equality-only tokens are
// carried as keyed fingerprints.
type Config struct {
	Version string `json:"version"`
	// Sharding (docs/edge-config.md, "Shards"): a whole configuration sets
	// none of the three. A shard (Shards > 0) holds exactly the
	// installations whose ShardOf(ingress id, Shards) is Shard. A manifest
	// (Manifest, Shards > 0) holds no installation: it tells a host how many
	// shards there are, so that a request whose shard is not loaded is
	// refused (shard_not_loaded), never passed.
	Manifest      bool           `json:"manifest,omitempty"`
	Shard         int            `json:"shard,omitempty"`
	Shards        int            `json:"shards,omitempty"`
	Installations []Installation `json:"installations"`
}

// Installation is one ingress id: an org's installation, or a platform
// profile's shared ingress (Platform true, OrgID "").
type Installation struct {
	IngressID      string `json:"ingress_id"`
	Provider       string `json:"provider"`
	Scheme         Scheme `json:"scheme"`
	OrgID          string `json:"org_id,omitempty"`
	InstallationID string `json:"installation_id,omitempty"`
	ProfileID      string `json:"profile_id"`
	Platform       bool   `json:"platform,omitempty"`
	Revoked        bool   `json:"revoked,omitempty"`
	// MaxBodyBytes bounds the buffered body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int `json:"max_body_bytes,omitempty"`
	// ToleranceSeconds is the timestamp window for schemes that carry one;
	// 0 means DefaultToleranceSeconds (300).
	ToleranceSeconds int64 `json:"tolerance_seconds,omitempty"`
	// PublicURL is the URL the provider calls (Twilio signs it); empty means
	// rebuilt from the request's scheme, host and path.
	PublicURL string   `json:"public_url,omitempty"`
	Secrets   []Secret `json:"secrets"`
}

// Secret is one verification secret with its validity window. Exactly one of
// Sealed (AEAD under the edge key, see Seal) and Fingerprint (keyed HMAC of an
// equality-only token, see Fingerprint) is set.
type Secret struct {
	ID          string `json:"id"`
	Purpose     string `json:"purpose"` // signing, public_key, verify_token, secret_token
	Sealed      string `json:"sealed,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	NotBefore   int64  `json:"not_before,omitempty"` // unix seconds; 0 = always
	NotAfter    int64  `json:"not_after,omitempty"`  // unix seconds; 0 = no end
}

const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultToleranceSeconds = 300
)
