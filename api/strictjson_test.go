package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/store"
)

type fuzzBody struct {
	Name     string         `json:"name"`
	Selector store.Selector `json:"selector"`
	Secrets  secretValues   `json:"secrets"`
	Orgs     []string       `json:"canary_orgs"`
	Priority int            `json:"priority"`
}

// FuzzDecodeJSON: the API's body decoder never panics; what it accepts is
// valid UTF-8 and valid JSON, and what it refuses is a 4xx apiError. A body
// with a key repeated in any letter case is always refused, naming the key.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"a"}`, `{"name":"a","name":"b"}`, `{"name":"a","NAME":"b"}`, `{"Name":"a"}`,
		`{"selector":{"peer":"x","Peer":"y"}}`, `{"secrets":{"signing":"a","signing":"b"}}`,
		`{"canary_orgs":["a",{"x":1,"x":2}]}`, "{\"name\":\"\xff\"}", `{"priority":1e99}`, `{"name":"\ud800"}`,
		`{} {}`, `[]`, `null`, ``, `{"a":`,
	} {
		f.Add([]byte(s), "name")
	}
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		var v fuzzBody
		err := decodeJSON(raw, &v)
		if err == nil {
			if !utf8.Valid(raw) || !json.Valid(raw) {
				t.Fatalf("accepted invalid body %q", raw)
			}
			if at, bad := loneSurrogate(raw); bad {
				t.Fatalf("accepted a lone surrogate escape at byte %d: %q", at, raw)
			}
		} else {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 || ae.Code == "" {
				t.Fatalf("refusal %v is not a 4xx apiError", err)
			}
		}
		if !utf8.ValidString(key) || key == "" {
			return
		}
		k, _ := json.Marshal(key)
		k2, _ := json.Marshal(strings.ToUpper(key))
		dup := []byte(`{"selector":{` + string(k) + `:"1",` + string(k2) + `:"2"}}`)
		err = decodeJSON(dup, &v)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("duplicate key %q accepted: %v", key, err)
		}
		if strings.EqualFold(key, strings.ToUpper(key)) && ae.Code != CodeDuplicateField {
			t.Fatalf("duplicate key %q: %v, want %s", key, err, CodeDuplicateField)
		}
	})
}

// BenchmarkDecodeJSON: the strict decoder (key checks + decoding) against
// encoding/json alone, on a binding request.
func BenchmarkDecodeJSON(b *testing.B) {
	raw := []byte(`{"name":"support","selector":{"channel":"C024BE91L","peer":"U1"},"secrets":{"signing":"8f742231b10e8888abcd99yyyzzz85a5"},"canary_orgs":["org_a","org_b"],"priority":10}`)
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v fuzzBody
			if err := decodeJSON(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v fuzzBody
			if err := json.Unmarshal(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestLoneSurrogates: a \u escape of a UTF-16 surrogate outside a high-low
// pair is refused (encoding/json would turn it into U+FFFD); pairs, other
// escapes and escaped backslashes before a "u" are not surrogates.
func TestLoneSurrogates(t *testing.T) {
	for _, tc := range []struct {
		body string
		bad  bool
	}{
		{`{"name":"plain"}`, false},
		{`{"name":"\ud83d\ude00"}`, false}, // 😀 as a pair
		{`{"name":"\u00e9\n\t\"\/"}`, false},
		{`{"name":"\\ud800"}`, false}, // an escaped backslash, then the letters "ud800"
		{`{"name":"😀"}`, false},
		{`{"name":"\ud800"}`, true},       // high alone
		{`{"name":"\udc00"}`, true},       // low alone
		{`{"name":"\ud800x"}`, true},      // high then a letter
		{`{"name":"\ud800\u0041"}`, true}, // high then not a low
		{`{"name":"\ud800\ud800"}`, true}, // two highs
		{`{"name":"\ude00\ud83d"}`, true}, // a pair the wrong way round
		{`{"n\udfffame":"x"}`, true},      // in a key
		{`{"canary_orgs":["a","\udbff"]}`, true},
	} {
		var v fuzzBody
		err := decodeJSON([]byte(tc.body), &v)
		var ae *apiError
		refused := errors.As(err, &ae) && ae.Code == CodeInvalidUTF8 && strings.Contains(ae.Message, "surrogate")
		if refused != tc.bad {
			t.Errorf("%s: err %v, want surrogate refusal %v", tc.body, err, tc.bad)
		}
	}
}
