package filter

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// EdgeKeySize is the length of the edge key (SWITCHBOARD_EDGE_KEY decoded).
const EdgeKeySize = 32

// sealPrefix versions the sealed format: "sb1:" + base64(nonce || AES-256-GCM ciphertext).
const sealPrefix = "sb1:"

// Sub-keys are derived from the edge key with HMAC-SHA256 under distinct
// labels, so sealing and fingerprints never share key material.
func deriveKey(edgeKey []byte, label string) []byte {
	m := hmac.New(sha256.New, edgeKey)
	m.Write([]byte(label))
	return m.Sum(nil)
}

const (
	labelSeal        = "switchboard edge seal v1"
	labelFingerprint = "switchboard edge fingerprint v1"
)

var (
	// ErrEdgeKey reports an edge key of the wrong size.
	ErrEdgeKey = errors.New("edge key must be " + strconv.Itoa(EdgeKeySize) + " bytes")
	// ErrUnseal reports a sealed value that does not open under this key and
	// binding (wrong key, wrong ingress id or secret id, or tampered).
	ErrUnseal = errors.New("sealed secret does not open (wrong edge key, wrong binding or tampered)")
)

func sealAEAD(edgeKey []byte) (cipher.AEAD, error) {
	if len(edgeKey) != EdgeKeySize {
		return nil, ErrEdgeKey
	}
	block, err := aes.NewCipher(deriveKey(edgeKey, labelSeal))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealAAD is the additional data that binds a sealed secret to its place in
// the configuration: ingress id + "/" + secret id.
func SealAAD(ingressID, secretID string) string { return ingressID + "/" + secretID }

// Seal encrypts plaintext under the edge key (AES-256-GCM, random nonce) and
// binds it to aad (see SealAAD). The control plane seals; the edge unseals.
func Seal(edgeKey, plaintext []byte, aad string) (string, error) {
	aead, err := sealAEAD(edgeKey)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", errors.New("seal: random nonce: " + err.Error())
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return sealPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Unseal opens a value made by Seal with the same edge key and aad.
func Unseal(edgeKey []byte, sealed string, aad string) ([]byte, error) {
	aead, err := sealAEAD(edgeKey)
	if err != nil {
		return nil, err
	}
	return unsealWith(aead, sealed, aad)
}

// unsealWith opens with a cipher set up once (Load opens every secret of a
// configuration; deriving the key and the cipher per secret dominated it).
func unsealWith(aead cipher.AEAD, sealed string, aad string) ([]byte, error) {
	if !strings.HasPrefix(sealed, sealPrefix) {
		return nil, errors.New("sealed secret must start with " + sealPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed[len(sealPrefix):])
	if err != nil {
		return nil, errors.New("sealed secret is not valid base64")
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed secret is too short")
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// Fingerprint is the keyed fingerprint of an equality-only token (Telegram
// secret_token, Meta verify token): "hmac-sha256:" + hex HMAC-SHA256 under a
// key derived from the edge key. The configuration carries it instead of the
// token; the edge fingerprints what it receives and compares in constant time.
// It returns "" when the edge key has the wrong size.
func Fingerprint(edgeKey []byte, token string) string {
	if len(edgeKey) != EdgeKeySize {
		return ""
	}
	return fingerprintPrefix + hex.EncodeToString(fingerprintMAC(deriveKey(edgeKey, labelFingerprint), token))
}

func fingerprintMAC(fpKey []byte, token string) []byte {
	m := hmac.New(sha256.New, fpKey)
	m.Write([]byte(token))
	return m.Sum(nil)
}
