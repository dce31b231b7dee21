package api

import "github.com/switchboard-dev/switchboard/secrets"

// fingerprint is what responses and audit events show of a secret.
func fingerprint(plaintext []byte) string { return secrets.Fingerprint(plaintext) }
