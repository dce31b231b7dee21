package client

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecodeError: any answer body of a refusal becomes an *Error whose
// message is bounded, without panicking.
func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"error":{"code":"invalid_field","field":"name","message":"required"}}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(404, []byte(`{"error":"unknown_ingress"}`))
	f.Add(500, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := decodeError("GET", "/v1/x", status, body)
		var e *Error
		if !errors.As(err, &e) || e.Status != status {
			t.Fatalf("not an *Error with the status: %v", err)
		}
		if e.Code == "" && len(e.Message) > 200+len("…") && !strings.HasSuffix(e.Message, "…") {
			t.Fatalf("unbounded excerpt: %d bytes", len(e.Message))
		}
		_ = err.Error()
	})
}
