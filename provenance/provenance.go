// Package provenance seals a task's envelope where it enters the queue
// (ingest) and verifies the seal where it leaves it (worker), so a task that
// anyone else wrote into Redis — a leaked Redis password, a compromised host
// beside it — is refused instead of delivered.
//
// A seal is HMAC-SHA256, under a provenance key the ingest and worker
// processes hold (SWITCHBOARD_PROVENANCE_KEYS or _FILE, "id:base64,…"; the
// first seals, all verify, so keys rotate like the master keys), over:
//
//	"sb-provenance-v1" | key id | org | installation | provider | agent |
//	persona | binding | session key | task id | seq | body digest
//
// each field length-prefixed, where the body digest is SHA-256 of the
// envelope's canonical JSON without its seal. Changing any byte of the
// envelope, or moving it to another task id or sequence number, breaks it.
package provenance

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/envelope"
)

// Reason is why a task's provenance is refused. The same values label the
// worker's refused-task metric, its log lines and the audit event.
type Reason string

const (
	ReasonUnsealed   Reason = "unsealed"        // the envelope carries no seal
	ReasonUnknownKey Reason = "unknown_key"     // sealed under a key id this process does not hold
	ReasonBadSeal    Reason = "bad_seal"        // the MAC does not verify: forged or altered
	ReasonBadDigest  Reason = "body_mismatch"   // the envelope's contents are not those sealed
	ReasonMalformed  Reason = "malformed_seal"  // the seal's fields are not of their form
	ReasonUndecoded  Reason = "undecodable"     // the task payload is not an envelope
	ReasonWrongType  Reason = "wrong_task_type" // not a delivery task
)

// Reasons lists every Reason (metrics pre-create their series).
var Reasons = []Reason{ReasonUnsealed, ReasonUnknownKey, ReasonBadSeal, ReasonBadDigest, ReasonMalformed, ReasonUndecoded, ReasonWrongType}

// Refusal is a verification failure with its Reason.
type Refusal struct {
	Reason Reason
	Detail string // no key material, no envelope contents
}

func (r *Refusal) Error() string {
	if r.Detail == "" {
		return "provenance: " + string(r.Reason)
	}
	return "provenance: " + string(r.Reason) + ": " + r.Detail
}

// ReasonOf is err's Reason ("" when err is no Refusal).
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// KeySize is the size of a provenance key.
const KeySize = 32

// Keys seals with the primary key and verifies with any.
type Keys struct {
	primary string
	keys    map[string][]byte
}

// Primary is the id of the sealing key.
func (k *Keys) Primary() string { return k.primary }

// ParseKeys reads "id1:base64,id2:base64" (the first seals).
func ParseKeys(spec string) (*Keys, error) {
	var entries []string
	for _, e := range strings.Split(spec, ",") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	return parse(entries)
}

// ParseKeyFile reads one "id:base64" per line (blank and # lines skipped).
func ParseKeyFile(data []byte) (*Keys, error) {
	var entries []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			entries = append(entries, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return parse(entries)
}

// LoadFile reads a key file (ParseKeyFile).
func LoadFile(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("provenance key file: %w", err)
	}
	k, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("provenance key file %s: %w", path, err)
	}
	return k, nil
}

func parse(entries []string) (*Keys, error) {
	if len(entries) == 0 {
		return nil, errors.New("no provenance keys")
	}
	k := &Keys{keys: map[string][]byte{}}
	for i, e := range entries {
		id, b64, ok := strings.Cut(e, ":")
		if !ok || !validID(id) {
			return nil, fmt.Errorf("provenance key %d: want id:base64 with an id of 1-32 letters, digits, - or _", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("provenance key %d (%s): want base64 of %d bytes", i+1, id, KeySize)
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("provenance key %d: id %s given twice", i+1, id)
		}
		k.keys[id] = key
		if i == 0 {
			k.primary = id
		}
	}
	return k, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Generate returns a new key file line "id:base64" with a random key.
func Generate(id string) string {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key)
	return id + ":" + base64.StdEncoding.EncodeToString(key)
}

// Digest is the body digest of env: SHA-256 (hex) of its canonical JSON
// without a seal. Canonical: encoded, decoded and encoded again, so what the
// worker recomputes from the task payload is what ingest sealed (encoding
// replaces invalid UTF-8 and compacts raw JSON once).
func Digest(env envelope.Envelope) (string, error) {
	env.Seal = nil
	b, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("provenance: encode envelope: %w", err)
	}
	var again envelope.Envelope
	if err := json.Unmarshal(b, &again); err != nil {
		return "", fmt.Errorf("provenance: decode envelope: %w", err)
	}
	if b, err = json.Marshal(again); err != nil {
		return "", fmt.Errorf("provenance: encode envelope: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func mac(key []byte, kid, digest string, env envelope.Envelope) []byte {
	m := hmac.New(sha256.New, key)
	var n [4]byte
	for _, f := range []string{"sb-provenance-v1", kid, env.OrgID, env.InstallationID, env.Provider, env.AgentID,
		env.Persona, env.BindingID, env.SessionKey, env.ID, strconv.FormatInt(env.Seq, 10), digest} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

// Seal returns env with its seal under the primary key. Call it last: after
// the envelope's sequence number is assigned.
func (k *Keys) Seal(env envelope.Envelope) (envelope.Envelope, error) {
	d, err := Digest(env)
	if err != nil {
		return env, err
	}
	env.Seal = &envelope.Seal{KeyID: k.primary, BodyDigest: d,
		MAC: base64.RawURLEncoding.EncodeToString(mac(k.keys[k.primary], k.primary, d, env))}
	return env, nil
}

// Verify checks env's seal; a failure is a *Refusal.
func (k *Keys) Verify(env envelope.Envelope) error {
	s := env.Seal
	if s == nil {
		return &Refusal{Reason: ReasonUnsealed}
	}
	key, ok := k.keys[s.KeyID]
	if !ok {
		if !validID(s.KeyID) {
			return &Refusal{Reason: ReasonMalformed, Detail: "key id"}
		}
		return &Refusal{Reason: ReasonUnknownKey, Detail: "key " + s.KeyID}
	}
	got, err := base64.RawURLEncoding.DecodeString(s.MAC)
	if err != nil || len(got) != sha256.Size || len(s.BodyDigest) != 2*sha256.Size {
		return &Refusal{Reason: ReasonMalformed, Detail: "mac or digest"}
	}
	if !hmac.Equal(got, mac(key, s.KeyID, s.BodyDigest, env)) {
		return &Refusal{Reason: ReasonBadSeal}
	}
	d, err := Digest(env)
	if err != nil {
		return &Refusal{Reason: ReasonUndecoded, Detail: err.Error()}
	}
	if !hmac.Equal([]byte(d), []byte(s.BodyDigest)) {
		return &Refusal{Reason: ReasonBadDigest}
	}
	return nil
}
