package httpsend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewAPI(t *testing.T) {
	a := NewAPI("", "https://example.test/", nil)
	if a.Base != "https://example.test" || a.HTTP == nil || a.HTTP.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v", a)
	}
	hc := &http.Client{}
	if a := NewAPI("http://h//", "https://example.test", hc); a.Base != "http://h" || a.HTTP != hc {
		t.Fatalf("given: %+v", a)
	}
}

func TestPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/x" || r.Header.Get("Authorization") != "Bearer t" || string(b) != `{"a":1}` {
			t.Errorf("request %s %s %q %q", r.Method, r.URL.Path, r.Header.Get("Authorization"), b)
		}
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(strings.Repeat("z", MaxAnswer+10)))
	}))
	defer srv.Close()
	ans, err := NewAPI(srv.URL, "", nil).Post(context.Background(), "/x", http.Header{"Authorization": {"Bearer t"}}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if ans.Status != 429 || len(ans.Body) != MaxAnswer || RetryAfterSeconds(ans.Header) != 3*time.Second {
		t.Fatalf("answer: %d, %d bytes, %v", ans.Status, len(ans.Body), RetryAfterSeconds(ans.Header))
	}
}

// The URL may hold a credential (Telegram's bot token): no error carries it.
func TestPostErrorsOmitURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	const secret = "/bot123:SECRET/sendMessage"
	_, err := NewAPI(srv.URL, "", nil).Post(context.Background(), secret, nil, nil)
	var te *TransportError
	if !errors.As(err, &te) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("transport: %v", err)
	}
	_, err = NewAPI("http://bad\x7f", "", nil).Post(context.Background(), secret, nil, nil)
	if err == nil || errors.As(err, &te) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("build: %v", err)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "x": 0, "2": 2 * time.Second, "1.5": 0} {
		if got := RetryAfterSeconds(http.Header{"Retry-After": {v}}); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestFailure(t *testing.T) {
	cause := errors.New("boom")
	f := Failure{Wait: time.Second, Transient: true, Cause: cause}
	if !f.Temporary() || f.RetryAfter() != time.Second || !errors.Is(f.Unwrap(), cause) {
		t.Fatalf("%+v", f)
	}
	if (Failure{}).Temporary() {
		t.Fatal("zero Failure is temporary")
	}
}
