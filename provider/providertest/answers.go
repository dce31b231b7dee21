package providertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Answers is a local HTTP server that answers every request with the answer
// set last: the fuzz targets of the providers' answer parsers (registration,
// OAuth code exchange) feed it the fuzzed body and call the real client code
// against it.
type Answers struct {
	URL    string
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
}

// NewAnswers starts an Answers server, closed when tb ends.
func NewAnswers(tb testing.TB) *Answers {
	a := &Answers{status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		status, header, body := a.status, a.header, a.body
		a.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	tb.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// Set makes every following request answered with status, header and body
// (a status outside 200-599 is answered as 200).
func (a *Answers) Set(status int, header http.Header, body []byte) {
	if status < 200 || status > 599 {
		status = http.StatusOK
	}
	a.mu.Lock()
	a.status, a.header, a.body = status, header, body
	a.mu.Unlock()
}

// NoSecret fails t when any of texts holds one of secrets.
func NoSecret(t testing.TB, secrets []string, texts ...any) {
	t.Helper()
	for _, x := range texts {
		s := fmt.Sprint(x)
		for _, v := range secrets {
			if v != "" && strings.Contains(s, v) {
				t.Fatalf("secret %q appears in %q", v, s)
			}
		}
	}
}
