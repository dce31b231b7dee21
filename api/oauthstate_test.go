package api

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/secrets"
)

// FuzzOpenState: a state from a browser either opens to exactly what was
// signed, or is refused; it never panics, and a changed byte never opens.
func FuzzOpenState(f *testing.F) {
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{keys: keys}
	good, err := s.signState(oauthState{V: 1, Provider: "slack", Profile: "prof_x", Org: "org_x", Token: "tok_x", Nonce: "n", Expires: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add(strings.Repeat("a", 3000))
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, raw string) {
		st, err := s.openState(raw)
		if err != nil {
			return
		}
		if raw != good {
			// Only a state this key signed opens; the fuzzer cannot forge one.
			resigned, _ := s.signState(st)
			if resigned != raw {
				t.Fatalf("%q opened to %+v but is not its signature", raw, st)
			}
		}
	})
}
