package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzJSON5: never panics; whatever it accepts is valid JSON; on standard
// JSON it agrees with encoding/json.
func FuzzJSON5(f *testing.F) {
	for _, s := range []string{`{}`, `{a: 1, 'b': "x", c: [1, 2,], /* c */ d: .5, e: 0x1F, f: +3,} // end`,
		`"\x41\u00e9\'"`, `[1e3, -0, null, true, false]`, `{"a": {"b": ["c"]}}`, "'line\\\ncontinued'", `NaN`} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "openclaw.json5")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := toJSON(in)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if json.Valid(in) && len(bytes.TrimSpace(in)) > 0 {
				var v any
				if json.Unmarshal(in, &v) == nil && !bytes.Contains(in, []byte(`\u`)) {
					t.Fatalf("valid JSON refused: %v", err)
				}
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q -> %q", in, out)
		}
		if json.Valid(in) {
			var a, b any
			if json.Unmarshal(in, &a) == nil && json.Unmarshal(out, &b) == nil {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if !bytes.Equal(ja, jb) {
					t.Fatalf("JSON changed meaning: %s -> %s", ja, jb)
				}
			}
		}
	})
}

// FuzzParseLegacy / FuzzParseOpenClaw: never panic; refusals are FieldErrors
// naming the file.
func FuzzParseLegacy(f *testing.F) {
	for _, name := range []string{"legacy.json", "legacy-conflicts.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"format": "switchboard-legacy/v1", "bindings": [{"provider": "slack"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		src, err := ParseLegacy("in.json", bytes.NewReader(in))
		checkParse(t, src, err)
	})
}

func FuzzParseOpenClaw(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "openclaw.json5")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{channels: {telegram: {botToken: "1:a", webhookSecret: "s"}}, bindings: [{agentId: "x", match: {channel: "telegram"}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		src, err := ParseOpenClaw("openclaw.json", bytes.NewReader(in), OpenClawOptions{AgentBase: "https://a.example"})
		checkParse(t, src, err)
	})
}

func checkParse(t *testing.T, src *Source, err error) {
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) || fe.File == "" {
			t.Fatalf("refusal is not a FieldError naming the file: %T %v", err, err)
		}
		return
	}
	keys := map[string]bool{}
	for _, b := range src.Bindings {
		if keys[b.Key] {
			t.Fatalf("two bindings with key %q", b.Key)
		}
		keys[b.Key] = true
	}
}
