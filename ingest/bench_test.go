package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/filter"
)

// BenchmarkIngestSlackEvent measures one verified request in -> one task in
// Redis (attestation check, parse, store lookups, routing, enqueue), to be
// read beside BenchmarkRedisLPUSH on the same kind of Redis in the same run.
func BenchmarkIngestSlackEvent(b *testing.B) {
	h := newHarness(b)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = slackBody("T0001", "A0001", "EvBench"+strconv.Itoa(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest(http.MethodPost, path(idSlackA), bytes.NewReader(bodies[i]))
		for _, kv := range filter.Attest(attKey, idSlackA, bodies[i], testNow.Unix()) {
			r.Header.Set(kv[0], kv[1])
		}
		w := httptest.NewRecorder()
		h.h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRedisLPUSH is the floor: one plain LPUSH of a similar payload.
func BenchmarkRedisLPUSH(b *testing.B) {
	h := newHarness(b)
	rdb := redis.NewClient(&redis.Options{Addr: h.redis.Addr})
	defer rdb.Close()
	payload := slackBody("T0001", "A0001", "EvBench")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rdb.LPush(ctx, "bench:list", payload).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
