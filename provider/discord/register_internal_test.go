package discord

import (
	"strings"
	"testing"
)

// FuzzAPIError: Discord's error bodies (outside input) render without panicking.
func FuzzAPIError(f *testing.F) {
	f.Add(400, []byte(`{"message":"Invalid Form Body","code":50035,"errors":{"interactions_endpoint_url":{"_errors":[{"code":"APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID","message":"The specified interactions endpoint url could not be verified."}]}}}`))
	f.Add(401, []byte(`{"message":"401: Unauthorized","code":0}`))
	f.Add(500, []byte(`not json`))
	f.Add(400, []byte(`{"message":"x","errors":{"a":{"b":{"c":{"_errors":[{}]}}}}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		out := apiError(status, body)
		if out == "" {
			t.Fatal("empty rendering")
		}
		if !strings.Contains(out, "HTTP") && !strings.Contains(out, "(code") {
			t.Fatalf("rendering %q names neither status nor code", out)
		}
	})
}
