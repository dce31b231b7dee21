package provenance

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
)

func testKeys(t *testing.T) *Keys {
	t.Helper()
	k, err := ParseKeys("p2:" + strings.Repeat("A", 43) + "=," + "p1:" + strings.Repeat("B", 43) + "=")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sample() envelope.Envelope {
	e := envelope.Envelope{Provider: "telegram", OrgID: "org_a", InstallationID: "inst_a", ProfileID: "prof_a",
		Conversation: "42", Sender: "7", Text: "hello <b> & \xff", EventID: "1001", ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		AgentID: "agt_a", Persona: "support", BindingID: "bind_a", Raw: json.RawMessage(`{ "update_id": 1001 }`)}.Finish()
	e.Seq = 3
	return e
}

// roundTrip is what the worker sees: the task payload decoded.
func roundTrip(t *testing.T, e envelope.Envelope) envelope.Envelope {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out envelope.Envelope
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealVerify(t *testing.T) {
	k := testKeys(t)
	sealed, err := k.Seal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if sealed.Seal == nil || sealed.Seal.KeyID != "p2" {
		t.Fatalf("seal = %+v", sealed.Seal)
	}
	if err := k.Verify(roundTrip(t, sealed)); err != nil {
		t.Fatalf("verify a sealed envelope after the queue hop: %v", err)
	}
	// A key ring holding the sealing key among others verifies too (rotation).
	other, _ := ParseKeys("p1:" + strings.Repeat("B", 43) + "=,p2:" + strings.Repeat("A", 43) + "=")
	if err := other.Verify(roundTrip(t, sealed)); err != nil {
		t.Fatalf("verify with a rotated key ring: %v", err)
	}

	wrongKey, _ := ParseKeys("p2:" + strings.Repeat("C", 43) + "=")
	noKey, _ := ParseKeys("p9:" + strings.Repeat("A", 43) + "=")
	cases := []struct {
		name   string
		keys   *Keys
		mutate func(e *envelope.Envelope)
		want   Reason
	}{
		{"unsealed", k, func(e *envelope.Envelope) { e.Seal = nil }, ReasonUnsealed},
		{"another key", wrongKey, func(e *envelope.Envelope) {}, ReasonBadSeal},
		{"unknown key id", noKey, func(e *envelope.Envelope) {}, ReasonUnknownKey},
		{"malformed key id", k, func(e *envelope.Envelope) { e.Seal.KeyID = "a b" }, ReasonMalformed},
		{"malformed mac", k, func(e *envelope.Envelope) { e.Seal.MAC = "!!" }, ReasonMalformed},
		{"other org", k, func(e *envelope.Envelope) { e.OrgID = "org_b" }, ReasonBadSeal},
		{"other installation", k, func(e *envelope.Envelope) { e.InstallationID = "inst_b" }, ReasonBadSeal},
		{"other provider", k, func(e *envelope.Envelope) { e.Provider = "slack" }, ReasonBadSeal},
		{"other agent", k, func(e *envelope.Envelope) { e.AgentID = "agt_b" }, ReasonBadSeal},
		{"other session", k, func(e *envelope.Envelope) { e.SessionKey = "s1/x" }, ReasonBadSeal},
		{"other seq", k, func(e *envelope.Envelope) { e.Seq = 4 }, ReasonBadSeal},
		{"other task id", k, func(e *envelope.Envelope) { e.ID = strings.Repeat("0", 32) }, ReasonBadSeal},
		{"digest swapped with the text", k, func(e *envelope.Envelope) {
			e.Text = "transfer all funds"
			d, _ := Digest(*e)
			e.Seal.BodyDigest = d
		}, ReasonBadSeal},
		{"text changed", k, func(e *envelope.Envelope) { e.Text = "transfer all funds" }, ReasonBadDigest},
		{"raw changed", k, func(e *envelope.Envelope) { e.Raw = json.RawMessage(`{"update_id":1002}`) }, ReasonBadDigest},
		{"attachment added", k, func(e *envelope.Envelope) { e.Attachments = []envelope.Attachment{{Type: "file", URL: "x"}} }, ReasonBadDigest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := roundTrip(t, sealed)
			tc.mutate(&e)
			err := tc.keys.Verify(e)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Verify: %v (reason %q), want %q", err, got, tc.want)
			}
			if strings.Contains(err.Error(), "transfer") || strings.Contains(err.Error(), strings.Repeat("A", 10)) {
				t.Fatalf("refusal quotes contents or key material: %v", err)
			}
		})
	}
}

func TestParseKeys(t *testing.T) {
	good := strings.Repeat("A", 43) + "="
	for _, bad := range []string{"", "nokey", "a:notbase64!", "a:" + strings.Repeat("A", 20), "a b:" + good, "a:" + good + ",a:" + good} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), good) {
			t.Errorf("error quotes key material: %v", err)
		}
	}
	k, err := ParseKeyFile([]byte("# provenance\n\n" + Generate("k1") + "\n" + Generate("k0") + "\n"))
	if err != nil || k.Primary() != "k1" {
		t.Fatalf("ParseKeyFile: %v %v", k, err)
	}
}

// FuzzVerify: Verify never panics on a decoded task payload, and accepts
// nothing that was not sealed with the key.
func FuzzVerify(f *testing.F) {
	k, _ := ParseKeys("p2:" + strings.Repeat("A", 43) + "=")
	s, _ := k.Seal(sample())
	b, _ := json.Marshal(s)
	f.Add(b)
	f.Add([]byte(`{"seal":{"kid":"p2","body_sha256":"00","mac":"AA"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var e envelope.Envelope
		if json.Unmarshal(payload, &e) != nil {
			return
		}
		if err := k.Verify(e); err == nil {
			// Only a payload carrying a genuine seal of these fields passes.
			again, _ := k.Seal(e)
			if again.Seal.MAC != e.Seal.MAC {
				t.Fatalf("verified a seal Seal would not produce: %q", payload)
			}
		}
	})
}

// BenchmarkSeal and BenchmarkVerify: the cost ingest and the worker pay per
// task (a Telegram-sized envelope).
func BenchmarkSeal(b *testing.B) {
	k, _ := ParseKeys(Generate("p1"))
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, _ := ParseKeys(Generate("p1"))
	s, _ := k.Seal(sample())
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Verify(s); err != nil {
			b.Fatal(err)
		}
	}
}
