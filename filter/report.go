package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// HeaderReportSignature carries SignReport's value on an edge report (the
// batch of refusals an edge sends to ingest for the audit log).
const HeaderReportSignature = "x-switchboard-report-signature"

// reportMAC is HMAC-SHA256 over a length-prefixed canonical string under its
// own label, so an attestation can never pass as a report signature or the
// reverse, though both use the attestation key.
func reportMAC(key []byte, t, bodyHex string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("switchboard-edge-report\n"))
	for _, f := range [...]string{attestVersion, t, bodyHex} {
		m.Write([]byte(strconv.Itoa(len(f))))
		m.Write([]byte{':'})
		m.Write([]byte(f))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}

// SignReport returns the report signature header value
// ("v1,t=<unix>,<base64 HMAC-SHA256>") binding body's SHA-256 to time now
// under key (the attestation key).
func SignReport(key, body []byte, now int64) string {
	t := strconv.FormatInt(now, 10)
	return attestVersion + ",t=" + t + "," + base64.StdEncoding.EncodeToString(reportMAC(key, t, bodyHex(body)))
}

// VerifyReport checks a SignReport value over body: the MAC in constant
// time, then the timestamp within maxAgeSeconds of now in either direction.
// Errors are the attestation errors (ErrNoAttestation for an empty header).
func VerifyReport(key []byte, header string, body []byte, now, maxAgeSeconds int64) error {
	if len(key) == 0 {
		return ErrNoAttestationKey
	}
	if header == "" {
		return ErrNoAttestation
	}
	parts := strings.Split(header, ",")
	if len(parts) != 3 || parts[0] != attestVersion || !strings.HasPrefix(parts[1], "t=") {
		return ErrMalformedAttest
	}
	tstr := parts[1][2:]
	t, ok := parseUnix(tstr)
	if !ok || strconv.FormatInt(t, 10) != tstr {
		return ErrMalformedAttest
	}
	got, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(got) != sha256.Size {
		return ErrMalformedAttest
	}
	if !hmac.Equal(reportMAC(key, tstr, bodyHex(body)), got) {
		return ErrAttestationInvalid
	}
	if d := now - t; d > maxAgeSeconds || d < -maxAgeSeconds {
		return ErrAttestationStale
	}
	return nil
}
