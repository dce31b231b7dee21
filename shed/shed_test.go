package shed

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestShedsOverCapacity: with two requests running, a third is answered 503
// with Retry-After without reaching the handler; once one finishes, the next
// is taken again.
func TestShedsOverCapacity(t *testing.T) {
	l := New(2)
	entered := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	reached := 0
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached++
		n := reached
		mu.Unlock()
		if n <= 2 {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
			codes[i] = w.Code
		}()
		<-entered
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || w.Body.String() != Body {
		t.Fatalf("third request: %d %q %s, want 503 with Retry-After 1", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	mu.Lock()
	if reached != 2 {
		t.Fatalf("handler reached %d times, want 2 (the shed request did no work)", reached)
	}
	mu.Unlock()
	if l.Shed() != 1 {
		t.Fatalf("Shed() = %d, want 1", l.Shed())
	}
	close(release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("admitted requests: %v", codes)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("after release: %d, want 200", w.Code)
	}
}

func TestNilLimiterAdmits(t *testing.T) {
	var l *Limiter = New(0)
	w := httptest.NewRecorder()
	l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 204 {
		t.Fatal(w.Code)
	}
}
