package envelope

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sample() Envelope {
	return Envelope{
		Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", ProfileID: "prof_a",
		Conversation: "C123", Thread: "1700000000.000100", Sender: "U1", Text: "hello",
		Attachments: []Attachment{{Type: "file", URL: "https://files.slack.com/x", Name: "x.png", MIME: "image/png"}},
		EventID:     "Ev1", ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		AgentID: "agt_a", Persona: "support", BindingID: "bind_a", Seq: 7,
		Raw: json.RawMessage(`{"type":"event_callback"}`),
	}.Finish()
}

func TestIDDeterministicAndDistinct(t *testing.T) {
	a := ID("slack", "inst_a", "Ev1", "agt_a", "p")
	if a != ID("slack", "inst_a", "Ev1", "agt_a", "p") {
		t.Fatal("ID is not deterministic")
	}
	if len(a) != 32 {
		t.Fatalf("ID length %d, want 32", len(a))
	}
	others := [][5]string{
		{"telegram", "inst_a", "Ev1", "agt_a", "p"},
		{"slack", "inst_b", "Ev1", "agt_a", "p"},
		{"slack", "inst_a", "Ev2", "agt_a", "p"},
		{"slack", "inst_a", "Ev1", "agt_b", "p"},
		{"slack", "inst_a", "Ev1", "agt_a", "q"},
	}
	for _, o := range others {
		if ID(o[0], o[1], o[2], o[3], o[4]) == a {
			t.Errorf("ID%v collides with the base id", o)
		}
	}
}

func TestSessionKey(t *testing.T) {
	base := sample()
	key := SessionKey(base)
	if want := "s1/org_a/slack/inst_a/C123/1700000000.000100/agt_a/support"; key != want {
		t.Fatalf("SessionKey = %q, want %q", key, want)
	}
	mut := []func(e *Envelope){
		func(e *Envelope) { e.OrgID = "org_b" },
		func(e *Envelope) { e.Provider = "discord" },
		func(e *Envelope) { e.InstallationID = "inst_b" },
		func(e *Envelope) { e.Conversation = "C124" },
		func(e *Envelope) { e.Thread = "" },
		func(e *Envelope) { e.AgentID = "agt_b" },
		func(e *Envelope) { e.Persona = "" },
	}
	for i, m := range mut {
		e := base
		m(&e)
		if SessionKey(e) == key {
			t.Errorf("mutation %d leaves the session key unchanged", i)
		}
	}
	// Event-level fields do not change the session.
	e := base
	e.EventID, e.Text, e.Sender = "Ev9", "other", "U9"
	if SessionKey(e) != key {
		t.Error("event id/text/sender changed the session key")
	}
	// A separator inside a field cannot make two tuples collide.
	a, b := base, base
	a.Conversation, a.Thread = "C1/x", "y"
	b.Conversation, b.Thread = "C1", "x/y"
	if SessionKey(a) == SessionKey(b) {
		t.Error("slash in a field makes two tuples collide")
	}
}

func TestJSONGolden(t *testing.T) {
	got, err := json.MarshalIndent(sample(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "envelope.golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("envelope JSON changed:\n%s\nwant:\n%s", got, want)
	}
	back, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.SessionKey != sample().SessionKey || back.ID != sample().ID || !back.ReceivedAt.Equal(sample().ReceivedAt) {
		t.Errorf("round trip lost fields: %+v", back)
	}
}

func TestValidate(t *testing.T) {
	if err := sample().Validate(); err != nil {
		t.Fatalf("valid envelope refused: %v", err)
	}
	cases := map[string]func(e *Envelope){
		"provider":        func(e *Envelope) { e.Provider = "" },
		"agent_id":        func(e *Envelope) { e.AgentID = "" },
		"event_id":        func(e *Envelope) { e.EventID = "" },
		"conversation":    func(e *Envelope) { e.Conversation = "" },
		"stale id":        func(e *Envelope) { e.Persona = "other" },
		"stale session":   func(e *Envelope) { e.Thread = "other" },
		"installation_id": func(e *Envelope) { e.InstallationID = "" },
	}
	for name, m := range cases {
		e := sample()
		m(&e)
		if err := e.Validate(); err == nil {
			t.Errorf("%s: invalid envelope accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(sample())
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		if e.Validate() != nil || e.ID != ID(e.Provider, e.InstallationID, e.EventID, e.AgentID, e.Persona) {
			t.Fatal("Decode accepted an envelope that does not validate")
		}
	})
}
