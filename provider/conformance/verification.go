package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/xds"
)

// Ingress is the ingress id vectors address: /v1/hooks/<provider>/<Ingress>.
const Ingress = "c0f0c0f0000000000000000000000001"

// Vector is one request the edge must accept or refuse, ideally a
// provider's own published example (with its clock).
type Vector struct {
	Name string
	// Secrets are the installation's verification secrets by purpose
	// (store.PurposeSigning, PurposeSecretToken, PurposePublicKey, ...), as
	// the API takes them.
	Secrets map[string]string
	// PublicURL is the URL the provider calls when it signs it (Twilio).
	PublicURL string
	// Request is the request as received; Path is "/v1/hooks/<provider>/" + Ingress
	// (plus the query).
	Request filter.Request
	Now     int64 // unix seconds the edge decides at
	Accept  bool
	// Reason is the refusal wanted when Accept is false ("" = any refusal).
	Reason filter.Reason
}

// Verification is the kit interface of requirement "verification".
type Verification interface {
	Vectors() []Vector
}

func checkVerification(t *testing.T, k Kit) {
	v, ok := k.(Verification)
	if !ok {
		lacks(t, k, "conformance.Verification (verification vectors)")
	}
	vecs := v.Vectors()
	var accepts, refusals int
	for _, vec := range vecs {
		if vec.Accept {
			accepts++
		} else {
			refusals++
		}
	}
	if accepts == 0 || refusals == 0 {
		t.Fatalf("%s: %d accepted and %d refused vectors; want at least one of each", k.Provider(), accepts, refusals)
	}
	scheme, ok := xds.SchemeFor(k.Provider())
	if !ok {
		t.Fatalf("%s: the edge has no verification scheme for it", k.Provider())
	}
	for _, vec := range vecs {
		t.Run(vec.Name, func(t *testing.T) {
			e := edgeFor(t, k.Provider(), scheme, vec)
			req := vec.Request
			req.Body = bytes.Clone(vec.Request.Body)
			d := e.Decide(&req, vec.Now)
			accepted := d.Reason == ""
			if accepted != vec.Accept || (!vec.Accept && vec.Reason != "" && d.Reason != vec.Reason) {
				t.Fatalf("decision %q (status %d), want accept=%v reason %q", d.Reason, d.Status, vec.Accept, vec.Reason)
			}
		})
	}
}

// edgeFor loads an edge holding one installation of provider with the
// vector's secrets, sealed or fingerprinted as the configuration builder does.
func edgeFor(t *testing.T, provider string, scheme filter.Scheme, vec Vector) *filter.Edge {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	in := filter.Installation{
		IngressID: Ingress, Provider: provider, Scheme: scheme, OrgID: "org_conformance",
		InstallationID: "inst_conformance", ProfileID: "prof_conformance", PublicURL: vec.PublicURL,
	}
	i := 0
	for purpose, plain := range vec.Secrets {
		i++
		sec := filter.Secret{ID: "sec_" + strings.Repeat("x", i), Purpose: purpose}
		switch purpose {
		case filter.PurposeVerifyToken, filter.PurposeSecretToken:
			sec.Fingerprint = filter.Fingerprint(key, plain)
		default:
			sealed, err := filter.Seal(key, []byte(plain), filter.SealAAD(Ingress, sec.ID))
			if err != nil {
				t.Fatal(err)
			}
			sec.Sealed = sealed
		}
		in.Secrets = append(in.Secrets, sec)
	}
	raw, err := json.Marshal(filter.Config{Version: "conformance", Installations: []filter.Installation{in}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := filter.Load(raw, key)
	if err != nil {
		t.Fatalf("load edge configuration: %v", err)
	}
	attest := make([]byte, 32)
	rand.Read(attest)
	e.SetAttestationKey(attest)
	return e
}
