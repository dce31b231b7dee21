package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// slackEvent2KiB is a Slack event_callback JSON body of exactly 2048 bytes.
func slackEvent2KiB() string {
	head := `{"token":"XXYYZZ","team_id":"T123ABC","api_app_id":"A123ABC","event":{"type":"message","channel":"C123ABC","user":"U123ABC","ts":"1700000000.000100","text":"`
	tail := `"},"type":"event_callback","event_id":"Ev123ABC","event_time":1700000000}`
	return head + strings.Repeat("a", 2048-len(head)-len(tail)) + tail
}

// The two benchmarks below are meant to be read together (one run): the
// full decision (lookup, header parsing, timestamp window, HMAC over the
// body, attestation with a SHA-256 of the body) against the bare HMAC-SHA256
// of the same bytes.
func BenchmarkDecideSlack2KiB(b *testing.B) {
	body := slackEvent2KiB()
	if len(body) != 2048 {
		b.Fatalf("body is %d bytes", len(body))
	}
	e := loadEdge(b, inst(b, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "slack-secret-A"}))
	req := slackReq(ingSlackA, "slack-secret-A", T0, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := e.Decide(req, T0); !d.Accept {
			b.Fatal(string(d.JSONLine()))
		}
	}
}

func BenchmarkHMACSHA256_2KiB(b *testing.B) {
	body := []byte(slackEvent2KiB())
	key := []byte("slack-secret-A")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := hmac.New(sha256.New, key)
		m.Write(body)
		if len(m.Sum(nil)) != 32 {
			b.Fatal("short mac")
		}
	}
}

// BenchmarkLoad10k measures loading (parsing and unsealing) an edge
// configuration of 10,000 installations with one sealed secret each: the
// cost every edge pays per pushed configuration, and the control plane's
// check of each build. Reported per installation.
func BenchmarkLoad10k(b *testing.B) {
	const n = 10000
	insts := make([]Installation, n)
	for i := range insts {
		ing := fmt.Sprintf("%032x", i+1)
		insts[i] = inst(b, ing, "slack", SchemeSlackV0, "org_"+strconv.Itoa(i), secretSpec{id: "sec_" + strconv.Itoa(i), purpose: PurposeSigning, plain: "signing-secret-" + strconv.Itoa(i)})
	}
	data := configJSON(b, insts...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(data, testEdgeKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/installation")
}
