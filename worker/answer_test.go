package worker

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAgentAnswer(t *testing.T) {
	many := `{"replies":[` + strings.TrimSuffix(strings.Repeat(`{"text":"x"},`, maxReplies+1), ",") + `]}`
	for _, c := range []struct {
		name, body string
		want       []string
		errHas     string
	}{
		{"empty", "", nil, ""},
		{"whitespace", " \n\t", nil, ""},
		{"no replies", `{}`, nil, ""},
		{"two", `{"replies":[{"text":"a"},{"text":"b"}]}`, []string{"a", "b"}, ""},
		{"empty texts dropped", `{"replies":[{"text":""},{"text":"b"},{}]}`, []string{"b"}, ""},
		{"unknown fields ignored", `{"replies":[{"text":"a","blocks":[]}],"x":1}`, []string{"a"}, ""},
		{"not json", `ok`, nil, "not a JSON object"},
		{"array", `[{"text":"a"}]`, nil, "not a JSON object"},
		{"replies not a list", `{"replies":"a"}`, nil, "not a JSON object"},
		{"text not a string", `{"replies":[{"text":1}]}`, nil, "not a JSON object"},
		{"too many", many, nil, "at most 20"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseAgentAnswer([]byte(c.body))
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) || got != nil {
					t.Fatalf("got %q, %v; want no replies and an error with %q", got, err, c.errHas)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// The agent's answer is outside input: whatever it is, the parser returns
// either an error and nothing, or at most maxReplies non-empty, valid UTF-8
// texts (they go out through provider APIs).
func FuzzParseAgentAnswer(f *testing.F) {
	for _, s := range []string{"", "{}", `{"replies":[{"text":"hi"}]}`, `{"replies":[{"text":""},{"text":"\u00e9"}]}`,
		`{"replies":null}`, `[1]`, `{"replies":[{"text":"a"}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseAgentAnswer(body)
		if err != nil {
			if got != nil {
				t.Fatalf("error %v with replies %q", err, got)
			}
			return
		}
		if len(got) > maxReplies {
			t.Fatalf("%d replies", len(got))
		}
		for _, r := range got {
			if r == "" || !utf8.ValidString(r) {
				t.Fatalf("reply %q empty or not UTF-8", r)
			}
		}
	})
}
