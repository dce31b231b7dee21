package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestReportSignature(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"version":1}`)
	const now = 1772000000
	good := SignReport(key, body, now)
	if !strings.HasPrefix(good, "v1,t=1772000000,") {
		t.Fatalf("header %q", good)
	}
	// An attestation of the same body and time is not a report signature.
	var att string
	for _, kv := range Attest(key, Identity{}, body, now) {
		if kv[0] == HeaderAttestation {
			att = kv[1]
		}
	}
	att1 := attestV1(key, Identity{}, body, now)[6][1]
	for _, c := range []struct {
		name   string
		key    []byte
		header string
		body   string
		now    int64
		want   error
	}{
		{"good", key, good, string(body), now, nil},
		{"good, clock skew inside the window", key, good, string(body), now + 120, nil},
		{"stale", key, good, string(body), now + 121, ErrAttestationStale},
		{"future", key, good, string(body), now - 121, ErrAttestationStale},
		{"other body", key, good, `{"version":2}`, now, ErrAttestationInvalid},
		{"other key", []byte("another key another key another k"), good, string(body), now, ErrAttestationInvalid},
		{"attestation header as report signature", key, att, string(body), now, ErrMalformedAttest},
		{"v1 attestation header as report signature", key, att1, string(body), now, ErrAttestationInvalid},
		{"time changed", key, strings.Replace(good, "t=1772000000", "t=1772000001", 1), string(body), now, ErrAttestationInvalid},
		{"empty", key, "", string(body), now, ErrNoAttestation},
		{"no key", nil, good, string(body), now, ErrNoAttestationKey},
		{"version", key, "v2" + good[2:], string(body), now, ErrMalformedAttest},
		{"leading zero time", key, strings.Replace(good, "t=", "t=0", 1), string(body), now, ErrMalformedAttest},
		{"short mac", key, "v1,t=1772000000,AAAA", string(body), now, ErrMalformedAttest},
		{"extra part", key, good + ",x", string(body), now, ErrMalformedAttest},
	} {
		if err := VerifyReport(c.key, c.header, []byte(c.body), c.now, 120); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
