package filter

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"sync/atomic"
)

// Reason is why a request was refused ("" on accept). The same values name
// the refusal in responses, metrics, logs and the API.
type Reason string

const (
	ReasonNone             Reason = ""
	ReasonNoConfig         Reason = "no_config"          // 503: no (usable) configuration loaded
	ReasonUnknownIngress   Reason = "unknown_ingress"    // 404: path is not /v1/hooks/<provider>/<known ingress id>
	ReasonProviderMismatch Reason = "provider_mismatch"  // 404: ingress id exists under another provider
	ReasonRevoked          Reason = "revoked"            // 403: installation revoked
	ReasonMethodNotAllowed Reason = "method_not_allowed" // 405: not POST (GET only for the Meta handshake)
	ReasonBodyTooLarge     Reason = "body_too_large"     // 413: body over the installation's limit
	ReasonMissingSignature Reason = "missing_signature"  // 401: signature (or timestamp) header absent
	ReasonBadSignature     Reason = "bad_signature"      // 401: signature malformed or does not verify
	ReasonStaleTimestamp   Reason = "stale_timestamp"    // 401: timestamp outside the window (past or future)
	ReasonBadTimestamp     Reason = "bad_timestamp"      // 401: timestamp header not unix seconds
	ReasonNoValidSecret    Reason = "no_valid_secret"    // 401: no secret of the installation is valid now (fail closed)
	ReasonBadVerifyToken   Reason = "bad_verify_token"   // 403: Meta handshake token missing or wrong
	ReasonMalformedRequest Reason = "malformed_request"  // 400: duplicate security header, bad form/query, bad handshake
	ReasonQuarantined      Reason = "quarantined"        // 429: the ingress id drew too many refusals (the native edge's forged-flood quarantine)
	ReasonShardNotLoaded   Reason = "shard_not_loaded"   // 503: the configuration shard holding the path's ingress id is not loaded (fail closed)
)

// Reasons lists every refusal reason (for metrics pre-registration and docs).
var Reasons = []Reason{
	ReasonNoConfig, ReasonUnknownIngress, ReasonProviderMismatch, ReasonRevoked,
	ReasonMethodNotAllowed, ReasonBodyTooLarge, ReasonMissingSignature, ReasonBadSignature,
	ReasonStaleTimestamp, ReasonBadTimestamp, ReasonNoValidSecret, ReasonBadVerifyToken,
	ReasonMalformedRequest, ReasonQuarantined, ReasonShardNotLoaded,
}

// Status is the HTTP status a refusal with this reason is answered with.
func (r Reason) Status() int {
	switch r {
	case ReasonNone:
		return 200
	case ReasonNoConfig, ReasonShardNotLoaded:
		return 503
	case ReasonUnknownIngress, ReasonProviderMismatch:
		return 404
	case ReasonRevoked, ReasonBadVerifyToken:
		return 403
	case ReasonMethodNotAllowed:
		return 405
	case ReasonBodyTooLarge:
		return 413
	case ReasonMalformedRequest:
		return 400
	case ReasonQuarantined:
		return 429
	default:
		return 401
	}
}

// HooksPrefix is the path prefix of every ingress: /v1/hooks/<provider>/<ingress-id>.
const HooksPrefix = "/v1/hooks/"

// Decision is the outcome for one request.
type Decision struct {
	Accept      bool
	Reason      Reason
	Status      int         // HTTP status to answer with on reject or Respond
	Identity    Identity    // filled when the installation is known
	Respond     bool        // the edge answers itself (Meta GET handshake, Slack ssl_check); not forwarded
	Body        []byte      // response body for Respond or reject (short JSON: {"error":reason})
	ContentType string      // of Body
	Headers     [][2]string // on accept: identity + attestation headers to ADD after StripTrusted
}

// JSONLine renders the decision as one JSON object (no newline):
// {"decision":"accept"|"reject"|"respond","reason":"...","installation":"...","ingress":"...","status":N}.
func (d Decision) JSONLine() []byte {
	kind := "reject"
	switch {
	case d.Accept:
		kind = "accept"
	case d.Respond:
		kind = "respond"
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"decision":`...)
	b = appendJSONString(b, kind)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, string(d.Reason))
	b = append(b, `,"installation":`...)
	b = appendJSONString(b, d.Identity.Installation)
	b = append(b, `,"ingress":`...)
	b = appendJSONString(b, d.Identity.IngressID)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.Status), 10)
	b = append(b, '}')
	return b
}

func appendJSONString(b []byte, s string) []byte {
	const hexdigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func reject(r Reason, id Identity) Decision {
	b := make([]byte, 0, 40)
	b = append(b, `{"error":`...)
	b = appendJSONString(b, string(r))
	b = append(b, '}')
	return Decision{Reason: r, Status: r.Status(), Identity: id, Body: b, ContentType: "application/json"}
}

// Reject builds the refusal decision for a reason outside Decide (hosts use
// it for e.g. no configuration yet, or a body over the limit while streaming).
func Reject(r Reason) Decision { return reject(r, Identity{}) }

// RejectFor is Reject with the installation's identity (from Route.Identity),
// so a host's own refusals (e.g. body over the limit) count per provider.
func RejectFor(r Reason, id Identity) Decision { return reject(r, id) }

// Route is what Lookup finds from the request line alone.
type Route struct {
	Installation *Installation
	MaxBodyBytes int
	Identity     Identity
}

// Edge is a loaded configuration, ready to decide. Safe for concurrent
// Decide calls once loaded (it is never mutated after SetAttestationKey).
type Edge struct {
	version  string
	shard    int  // which shard (when shards > 0)
	shards   int  // K; 0: a whole configuration
	manifest bool // a manifest: no entries, it names K
	entries  map[string]*entry
	fpKey    []byte
	attester *Attester
}

type entry struct {
	inst    Installation
	id      Identity
	maxBody int
	tol     int64
	secrets []material
}

// material is one unsealed secret.
type material struct {
	id        string
	purpose   string
	key       []byte                   // signing: HMAC key
	hash      func() hash.Hash         // signing: the scheme's HMAC hash
	mac       atomic.Pointer[keyedMAC] // signing: pooled keyed HMAC states, made on first use (keyed)
	pub       ed25519.PublicKey        // public_key
	fp        []byte                   // verify_token / secret_token: fingerprint MAC
	notBefore int64
	notAfter  int64
}

func (m *material) validAt(now int64) bool {
	return (m.notBefore == 0 || now >= m.notBefore) && (m.notAfter == 0 || now < m.notAfter)
}

// Load parses the configuration and unseals every sealed secret with the
// edge key. Any failure is an error (fail closed): a host keeps its previous
// Edge (or refuses everything) rather than run with part of a configuration.
// The returned Edge still needs SetAttestationKey before Decide accepts.
func Load(data []byte, edgeKey []byte) (*Edge, error) {
	if len(edgeKey) != EdgeKeySize {
		return nil, ErrEdgeKey
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	aead, err := sealAEAD(edgeKey)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		version: cfg.Version,
		shard:   cfg.Shard, shards: cfg.Shards, manifest: cfg.Manifest,
		entries: make(map[string]*entry, len(cfg.Installations)),
		fpKey:   deriveKey(edgeKey, labelFingerprint),
	}
	for i := range cfg.Installations {
		in := cfg.Installations[i]
		ent := &entry{
			inst: in,
			id: Identity{Org: in.OrgID, Installation: in.InstallationID, Profile: in.ProfileID,
				Provider: in.Provider, IngressID: in.IngressID, Platform: in.Platform},
			maxBody: in.MaxBodyBytes,
			tol:     in.ToleranceSeconds,
		}
		if ent.maxBody == 0 {
			ent.maxBody = DefaultMaxBodyBytes
		}
		if ent.tol == 0 {
			ent.tol = DefaultToleranceSeconds
		}
		ent.secrets = make([]material, len(in.Secrets))
		for k := range in.Secrets {
			s := &in.Secrets[k]
			field := func() string { return "installations[" + strconv.Itoa(i) + "].secrets[" + strconv.Itoa(k) + "].sealed" }
			m := &ent.secrets[k] // filled in place: a material is never copied (its keyed MAC is shared)
			m.id, m.purpose, m.notBefore, m.notAfter = s.ID, s.Purpose, s.NotBefore, s.NotAfter
			if s.Sealed != "" {
				pt, err := unsealWith(aead, s.Sealed, SealAAD(in.IngressID, s.ID))
				if err != nil {
					return nil, cfgErr(field(), err.Error())
				}
				if err := m.setPlaintext(in.Scheme, pt); err != nil {
					return nil, cfgErr(field(), err.Error())
				}
			} else {
				m.fp, _ = hex.DecodeString(s.Fingerprint[len(fingerprintPrefix):])
			}
			m.hash = hashFor(in.Scheme)
		}
		e.entries[in.IngressID] = ent
	}
	return e, nil
}

type materialError string

func (e materialError) Error() string { return string(e) }

// setPlaintext turns an unsealed secret into key material for its scheme.
func (m *material) setPlaintext(s Scheme, pt []byte) error {
	switch {
	case m.purpose == PurposePublicKey:
		switch {
		case len(pt) == 2*ed25519.PublicKeySize:
			k, err := hex.DecodeString(string(pt))
			if err != nil {
				return materialError("public key is not hex")
			}
			m.pub = ed25519.PublicKey(k)
		case len(pt) == ed25519.PublicKeySize:
			m.pub = ed25519.PublicKey(append([]byte(nil), pt...))
		default:
			return materialError("public key must be 64 hex characters (or 32 raw bytes)")
		}
	case s == SchemeStandardWebhooks:
		// Standard Webhooks: "whsec_" + base64; the key is the decoded bytes
		// (unlike Stripe, which uses the whole string as the key).
		b64 := strings.TrimPrefix(string(pt), "whsec_")
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(k) == 0 {
			return materialError("standard webhooks secret must be whsec_ followed by base64")
		}
		m.key = k
	default:
		if len(pt) == 0 {
			return materialError("signing secret is empty")
		}
		m.key = pt
	}
	return nil
}

// SetAttestationKey sets the key the attestation header is made with (the
// SWITCHBOARD_ATTESTATION_KEY shared with ingest). Without it Decide refuses
// everything with no_config: an accepted request must carry an attestation.
// Call it before the Edge is shared between goroutines.
// Each call draws a new attester instance (its own derived key and nonce
// counter); if no randomness is available the Edge keeps refusing.
func (e *Edge) SetAttestationKey(key []byte) {
	e.attester, _ = NewAttester(key)
}

// Version is the configuration's version string.
func (e *Edge) Version() string {
	if e == nil {
		return ""
	}
	return e.version
}

// Len is the number of ingress entries.
func (e *Edge) Len() int {
	if e == nil {
		return 0
	}
	return len(e.entries)
}

// Lookup runs on the request line alone (before the body): it finds the
// installation for /v1/hooks/<provider>/<ingress-id>, checks the provider,
// revocation and method; on refusal it returns a non-nil reject Decision.
func (e *Edge) Lookup(method, path string) (Route, *Decision) {
	ent, d := e.lookup(method, path)
	if d != nil {
		return Route{}, d
	}
	return Route{Installation: &ent.inst, MaxBodyBytes: ent.maxBody, Identity: ent.id}, nil
}

func (e *Edge) lookup(method, target string) (*entry, *Decision) {
	if e == nil {
		d := reject(ReasonNoConfig, Identity{})
		return nil, &d
	}
	path, _, _ := splitPathQuery(target)
	unknown := func() (*entry, *Decision) {
		d := reject(ReasonUnknownIngress, Identity{})
		return nil, &d
	}
	if !strings.HasPrefix(path, HooksPrefix) {
		return unknown()
	}
	rest := path[len(HooksPrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 {
		return unknown()
	}
	provider, id := rest[:slash], rest[slash+1:]
	ent := e.entries[id] // a trailing slash or deeper path simply does not match
	if ent == nil {
		return unknown()
	}
	if provider != ent.inst.Provider {
		// Identity left empty: the path's owner is not established.
		d := reject(ReasonProviderMismatch, Identity{})
		return nil, &d
	}
	if ent.inst.Revoked {
		d := reject(ReasonRevoked, ent.id)
		return nil, &d
	}
	if method != "POST" && !(method == "GET" && ent.inst.Scheme == SchemeMetaSHA256) {
		d := reject(ReasonMethodNotAllowed, ent.id)
		return nil, &d
	}
	return ent, nil
}

// Decide verifies one request completely (path, method, size, scheme) at
// time now (unix seconds) and returns the decision. A nil Edge, or one
// without an attestation key, refuses with no_config.
func (e *Edge) Decide(req *Request, now int64) Decision {
	if e == nil || e.attester == nil {
		return reject(ReasonNoConfig, Identity{})
	}
	ent, d := e.lookup(req.Method, req.Path)
	if d != nil {
		return *d
	}
	if len(req.Body) > ent.maxBody {
		return reject(ReasonBodyTooLarge, ent.id)
	}
	var r Reason
	var resp *Decision
	switch ent.inst.Scheme {
	case SchemeSlackV0:
		r, resp = e.verifySlack(ent, req, now)
	case SchemeMetaSHA256:
		if req.Method == "GET" {
			r, resp = e.metaHandshake(ent, req, now)
		} else {
			r = verifyMeta(ent, req, now)
		}
	case SchemeGitHubSHA256:
		r = verifyHubSHA256(ent, req, now)
	case SchemeTelegramToken:
		r = e.verifyTelegram(ent, req, now)
	case SchemeDiscordEd25519:
		r = verifyDiscord(ent, req, now)
	case SchemeTwilioSHA1:
		r = verifyTwilio(ent, req, now)
	case SchemeLINE:
		r = verifyLINE(ent, req, now)
	case SchemeStandardWebhooks:
		r = verifyStandardWebhooks(ent, req, now)
	default:
		r = ReasonNoConfig // unreachable: ParseConfig refuses unknown schemes
	}
	if resp != nil {
		resp.Identity = ent.id
		return *resp
	}
	if r != ReasonNone {
		return reject(r, ent.id)
	}
	return Decision{Accept: true, Identity: ent.id, Headers: e.attester.Attest(ent.id, req.Body, now)}
}
