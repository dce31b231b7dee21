package api

import (
	"crypto/sha256"
	"encoding/hex"
)

// fingerprint follows secrets.Fingerprint (CONTRACTS.md); replaced by a call
// to it once package secrets lands.
func fingerprint(plaintext []byte) string {
	h := sha256.New()
	h.Write([]byte("switchboard-fp\x00"))
	h.Write(plaintext)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}
