package filter

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
)

// Fixed keys: tests are deterministic apart from seal nonces.
var (
	testEdgeKey   = []byte("0123456789abcdef0123456789abcdef")
	testAttestKey = []byte("attestation-key-for-filter-tests")
)

// Ingress ids (32 lowercase hex).
const (
	ingSlackA   = "a0000000000000000000000000000001"
	ingSlackB   = "a0000000000000000000000000000002"
	ingSlackRot = "a0000000000000000000000000000003"
	ingSlackRev = "a0000000000000000000000000000004"
	ingSlackNo  = "a0000000000000000000000000000005"
	ingSlackPl  = "a0000000000000000000000000000006"
	ingMeta     = "b0000000000000000000000000000001"
	ingTelegram = "c0000000000000000000000000000001"
	ingDiscord  = "d0000000000000000000000000000001"
	ingTwilio   = "e0000000000000000000000000000001"
	ingTwilioPU = "e0000000000000000000000000000002"
	ingLINE     = "f0000000000000000000000000000001"
	ingSW       = "10000000000000000000000000000001"
	ingGitHub   = "20000000000000000000000000000001"
)

type secretSpec struct {
	id, purpose, plain string
	nb, na             int64
}

// inst builds an org installation entry with sealed / fingerprinted secrets.
func inst(t testing.TB, ingress, provider string, scheme Scheme, org string, secrets ...secretSpec) Installation {
	t.Helper()
	in := Installation{
		IngressID: ingress, Provider: provider, Scheme: scheme,
		OrgID: org, InstallationID: "inst_" + ingress[:8] + ingress[28:], ProfileID: "prof_" + org,
	}
	if org == "" {
		in.Platform = true
		in.InstallationID = ""
		in.ProfileID = "prof_platform_" + provider
	}
	for _, s := range secrets {
		sec := Secret{ID: s.id, Purpose: s.purpose, NotBefore: s.nb, NotAfter: s.na}
		switch s.purpose {
		case PurposeVerifyToken, PurposeSecretToken:
			sec.Fingerprint = Fingerprint(testEdgeKey, s.plain)
		default:
			sealed, err := Seal(testEdgeKey, []byte(s.plain), SealAAD(ingress, s.id))
			if err != nil {
				t.Fatal(err)
			}
			sec.Sealed = sealed
		}
		in.Secrets = append(in.Secrets, sec)
	}
	return in
}

func configJSON(t testing.TB, insts ...Installation) []byte {
	t.Helper()
	b, err := json.Marshal(Config{Version: "test-1", Installations: insts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadEdge(t testing.TB, insts ...Installation) *Edge {
	t.Helper()
	e, err := Load(configJSON(t, insts...), testEdgeKey)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	e.SetAttestationKey(testAttestKey)
	return e
}

func hmacHex(h func() hashT, key, msg string) string {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func hmacB64(h func() hashT, key []byte, msg string) string {
	m := hmac.New(h, key)
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

var (
	sha256New = func() hashT { return sha256.New() }
	sha1New   = func() hashT { return sha1.New() }
)

func slackSig(secret string, ts int64, body string) string {
	return "v0=" + hmacHex(sha256New, secret, "v0:"+strconv.FormatInt(ts, 10)+":"+body)
}

func hubSig(secret, body string) string { return "sha256=" + hmacHex(sha256New, secret, body) }

func discordSig(priv ed25519.PrivateKey, ts int64, body string) string {
	return hex.EncodeToString(ed25519.Sign(priv, []byte(strconv.FormatInt(ts, 10)+body)))
}

func post(path string, body string, headers ...string) *Request {
	r := &Request{Method: "POST", Scheme: "https", Host: "edge.example.com", Path: path, Body: []byte(body)}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, [2]string{headers[i], headers[i+1]})
	}
	return r
}

func hookPath(provider, ingress string) string { return HooksPrefix + provider + "/" + ingress }
