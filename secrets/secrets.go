// Package secrets seals secret material for the store with envelope
// encryption: every secret gets a fresh AES-256-GCM data key, and the data key
// is wrapped (AES-256-GCM) by a master key. The master key id is stored beside
// the ciphertext, so master keys rotate without downtime: every key in the
// keyring opens, the primary (first) seals, and Rewrap moves a secret to the
// primary by re-wrapping only its data key.
package secrets

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Environment variables holding master keys (see FromEnv).
const (
	EnvKeys    = "SWITCHBOARD_MASTER_KEYS"
	EnvKeyFile = "SWITCHBOARD_MASTER_KEY_FILE"
)

// KeySize is the master and data key length (AES-256).
const KeySize = 32

// ErrNoKeys means neither EnvKeys nor EnvKeyFile is set.
var ErrNoKeys = errors.New("no master keys: set " + EnvKeys + " (id:base64key,…) or " + EnvKeyFile)

// Keyring holds master keys by id; the primary seals, all open.
type Keyring struct {
	fpKey   []byte // fingerprint key, derived from the primary master key
	rootKey []byte // root of Derive, derived from the primary master key
	keys    map[string]cipher.AEAD
	ids     []string // in the order given; ids[0] is the primary
	primary string
}

// ParseKeys reads "id1:base64key,id2:base64key"; the first is the primary.
// Keys are base64 (standard encoding) of 32 bytes.
func ParseKeys(spec string) (*Keyring, error) {
	var entries []string
	for _, e := range strings.Split(spec, ",") {
		if e = strings.TrimSpace(e); e != "" {
			entries = append(entries, e)
		}
	}
	return parse(entries, func(i int) string { return fmt.Sprintf("entry %d", i+1) })
}

// ParseKeyFile reads one "id:base64key" per line (blank lines and lines
// starting with # are skipped); the first key is the primary.
func ParseKeyFile(data []byte) (*Keyring, error) {
	var entries []string
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		entries = append(entries, l)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return parse(entries, func(i int) string { return fmt.Sprintf("line %d", lines[i]) })
}

// LoadFile reads a key file (see ParseKeyFile).
func LoadFile(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	k, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// FromEnv loads the keyring from EnvKeys or EnvKeyFile (exactly one may be
// set); ErrNoKeys when neither is.
func FromEnv() (*Keyring, error) {
	spec, file := os.Getenv(EnvKeys), os.Getenv(EnvKeyFile)
	switch {
	case spec != "" && file != "":
		return nil, fmt.Errorf("both %s and %s are set: set only one", EnvKeys, EnvKeyFile)
	case spec != "":
		k, err := ParseKeys(spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeys, err)
		}
		return k, nil
	case file != "":
		k, err := LoadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeyFile, err)
		}
		return k, nil
	}
	return nil, ErrNoKeys
}

// NewKey returns a fresh random master key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return k
}

// FormatKey is the "id:base64key" form ParseKeys and ParseKeyFile read.
func FormatKey(id string, key []byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(key)
}

func parse(entries []string, where func(int) string) (*Keyring, error) {
	if len(entries) == 0 {
		return nil, errors.New("no master keys given (want id:base64key)")
	}
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for i, e := range entries {
		id, b64, ok := strings.Cut(e, ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		if !ok {
			return nil, fmt.Errorf("%s: want id:base64key, found no ':'", where(i))
		}
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("%s: %w", where(i), err)
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("%s: duplicate master key id %q", where(i), id)
		}
		// The key itself never appears in an error.
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%s: master key %q is not valid base64 (standard encoding)", where(i), id)
		}
		if len(raw) != KeySize {
			return nil, fmt.Errorf("%s: master key %q is %d bytes, want %d", where(i), id, len(raw), KeySize)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, err
		}
		k.keys[id] = aead
		k.ids = append(k.ids, id)
		if i == 0 {
			k.fpKey = deriveFingerprintKey(raw)
			m := hmac.New(sha256.New, raw)
			m.Write([]byte("switchboard derived key root v1"))
			k.rootKey = m.Sum(nil)
		}
	}
	k.primary = k.ids[0]
	return k, nil
}

func checkID(id string) error {
	if id == "" {
		return errors.New("empty master key id")
	}
	if len(id) > 64 {
		return fmt.Errorf("master key id %.16q… is longer than 64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("master key id %q: only letters, digits, '-', '_' and '.' are allowed", id)
		}
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Primary is the id of the key that seals.
func (k *Keyring) Primary() string { return k.primary }

// IDs lists the key ids, primary first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Has reports whether the keyring holds key id.
func (k *Keyring) Has(id string) bool { _, ok := k.keys[id]; return ok }

// Envelope layout (version 1):
//
//	0x01 | wrap nonce (12) | wrapped data key (32+16) | data nonce (12) | sealed plaintext (n+16)
//
// The wrap binds the master key id and the aad (the secret id), the data
// seal binds the aad: a ciphertext moved to another secret row, or a key id
// edited in the database, fails to open.
const (
	version    = 1
	nonceSize  = 12
	tagSize    = 16
	wrappedLen = KeySize + tagSize
	headerLen  = 1 + nonceSize + wrappedLen + nonceSize
)

func wrapAAD(keyID, aad string) []byte {
	return []byte("switchboard-dek-v1\x00" + keyID + "\x00" + aad)
}
func dataAAD(aad string) []byte { return []byte("switchboard-secret-v1\x00" + aad) }

// Seal encrypts plaintext under a fresh data key wrapped by the primary key.
// aad is the secret id.
func (k *Keyring) Seal(plaintext []byte, aad string) (string, []byte, error) {
	dek := NewKey()
	defer clear(dek)
	data, err := newAEAD(dek)
	if err != nil {
		return "", nil, fmt.Errorf("seal %s: %w", aad, err)
	}
	out := make([]byte, 0, headerLen+len(plaintext)+tagSize)
	out = append(out, version)
	out, err = k.wrap(out, k.primary, dek, aad)
	if err != nil {
		return "", nil, fmt.Errorf("seal %s: %w", aad, err)
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("seal %s: %w", aad, err)
	}
	out = append(out, nonce...)
	out = data.Seal(out, nonce, plaintext, dataAAD(aad))
	return k.primary, out, nil
}

func (k *Keyring) wrap(out []byte, keyID string, dek []byte, aad string) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return k.keys[keyID].Seal(out, nonce, dek, wrapAAD(keyID, aad)), nil
}

// unwrap returns the data key of an envelope sealed under keyID.
func (k *Keyring) unwrap(keyID string, ciphertext []byte, aad string) ([]byte, error) {
	master, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("unknown master key id %q (keyring has %s): add that key to %s to read this secret",
			keyID, strings.Join(sorted(k.ids), ", "), EnvKeys)
	}
	if len(ciphertext) < headerLen+tagSize {
		return nil, fmt.Errorf("ciphertext is %d bytes, shorter than an envelope", len(ciphertext))
	}
	if ciphertext[0] != version {
		return nil, fmt.Errorf("unknown envelope version %d", ciphertext[0])
	}
	nonce := ciphertext[1 : 1+nonceSize]
	wrapped := ciphertext[1+nonceSize : 1+nonceSize+wrappedLen]
	dek, err := master.Open(nil, nonce, wrapped, wrapAAD(keyID, aad))
	if err != nil {
		return nil, fmt.Errorf("data key does not open under master key %q (wrong key, or ciphertext of another secret)", keyID)
	}
	return dek, nil
}

// Open decrypts a ciphertext sealed under master key keyID for aad.
func (k *Keyring) Open(keyID string, ciphertext []byte, aad string) ([]byte, error) {
	dek, err := k.unwrap(keyID, ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", aad, err)
	}
	defer clear(dek)
	data, err := newAEAD(dek)
	if err != nil {
		return nil, fmt.Errorf("open secret %s: %w", aad, err)
	}
	nonce := ciphertext[headerLen-nonceSize : headerLen]
	pt, err := data.Open(nil, nonce, ciphertext[headerLen:], dataAAD(aad))
	if err != nil {
		return nil, fmt.Errorf("open secret %s: ciphertext fails authentication", aad)
	}
	return pt, nil
}

// Rewrap moves a ciphertext to the primary key by re-wrapping its data key;
// the sealed data is unchanged. Already under the primary: returned as is.
func (k *Keyring) Rewrap(keyID string, ciphertext []byte, aad string) (string, []byte, error) {
	dek, err := k.unwrap(keyID, ciphertext, aad)
	if err != nil {
		return "", nil, fmt.Errorf("rewrap secret %s: %w", aad, err)
	}
	defer clear(dek)
	if keyID == k.primary {
		return keyID, ciphertext, nil
	}
	// Prove the data opens before replacing anything.
	if _, err := k.Open(keyID, ciphertext, aad); err != nil {
		return "", nil, fmt.Errorf("rewrap: %w", err)
	}
	out := make([]byte, 0, len(ciphertext))
	out = append(out, version)
	out, err = k.wrap(out, k.primary, dek, aad)
	if err != nil {
		return "", nil, fmt.Errorf("rewrap secret %s: %w", aad, err)
	}
	out = append(out, ciphertext[headerLen-nonceSize:]...)
	return k.primary, out, nil
}

// Fingerprint identifies a secret for display and equality checks (never for
// verification): "hmac:" + the first 16 hex digits of HMAC-SHA256 under a key
// derived from the primary master key. It is keyed because equality-only
// tokens (Telegram secret tokens, Meta verify tokens) are often chosen by
// people with little entropy: an unkeyed hash shown by the API could be
// reversed offline by guessing. Fingerprints are computed once, when the
// secret is stored, so a later change of primary key leaves them as they were.
func (k *Keyring) Fingerprint(plaintext []byte) string {
	m := hmac.New(sha256.New, k.fpKey)
	m.Write(plaintext)
	return "hmac:" + hex.EncodeToString(m.Sum(nil))[:16]
}

// Derive is a 32-byte key for purpose, derived from the primary master key
// (HMAC-SHA256 keyed with it over purpose): every replica with the same
// keyring derives the same key, and nothing derived reveals the master key.
func (k *Keyring) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.rootKey)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// StateKey is the key OAuth install states are signed with: Derive of its
// own purpose (so a fingerprint or another derived key is never a valid state MAC).
func (k *Keyring) StateKey() []byte { return k.Derive("oauth install state v1") }

func deriveFingerprintKey(master []byte) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("switchboard secret fingerprint v1"))
	return m.Sum(nil)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
