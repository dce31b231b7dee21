package provider

import (
	"errors"
	"reflect"
	"testing"
)

func TestScanMentions(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"@Support help", []string{"support"}},
		{"a@b.com", nil},
		{"(@ops) and @ops, @dev-team.", []string{"ops", "dev-team"}},
		{"@", nil},
		{"@@x", []string{"x"}},
		{"@Ünïcode", []string{"ünïcode"}},
	}
	for _, c := range cases {
		if got := ScanMentions(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ScanMentions(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeMention(t *testing.T) {
	for in, want := range map[string]string{" @Support ": "support", "/Weather": "/weather", "U123": "u123", "": ""} {
		if got := NormalizeMention(in); got != want {
			t.Errorf("NormalizeMention(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Event{Kind: KindMessage, EventID: "e", Conversation: "c", Account: "T", TenantIDs: []string{"T"}}
	if err := Check(Result{Events: []Event{ok}}); err != nil {
		t.Fatalf("valid result refused: %v", err)
	}
	authorized := Event{Kind: KindMessage, EventID: "e", Conversation: "c", Account: "E1", Authorized: []string{"E1"}}
	revs := []Revocation{{Scope: ScopeInstallation, Reason: "app_uninstalled"}, {Scope: ScopeConversation, Conversation: "c", Reason: "kicked", Restore: true}}
	if err := Check(Result{Events: []Event{authorized}, Revocations: revs}); err != nil {
		t.Fatalf("valid result with authorized ids and revocations refused: %v", err)
	}
	bad := map[string]Result{
		"no event id":                 {Events: []Event{{Kind: KindMessage, Conversation: "c"}}},
		"no conversation":             {Events: []Event{{Kind: KindMessage, EventID: "e"}}},
		"no kind":                     {Events: []Event{{EventID: "e", Conversation: "c"}}},
		"account not tenant":          {Events: []Event{{Kind: KindMessage, EventID: "e", Conversation: "c", Account: "T"}}},
		"handshake+events":            {Handshake: &Response{Status: 200}, Events: []Event{ok}},
		"empty authorized id":         {Events: []Event{{Kind: KindMessage, EventID: "e", Conversation: "c", Authorized: []string{""}}}},
		"revocation without reason":   {Revocations: []Revocation{{Scope: ScopeInstallation}}},
		"revocation of unknown scope": {Revocations: []Revocation{{Scope: "team", Reason: "x"}}},
		"conversation revocation without conversation": {Revocations: []Revocation{{Scope: ScopeConversation, Reason: "kicked"}}},
		"installation revocation with a conversation":  {Revocations: []Revocation{{Scope: ScopeInstallation, Reason: "x", Conversation: "c"}}},
		"installation restore":                         {Revocations: []Revocation{{Scope: ScopeInstallation, Reason: "x", Restore: true}}},
		"handshake+revocations":                        {Handshake: &Response{Status: 200}, Revocations: []Revocation{{Scope: ScopeInstallation, Reason: "x"}}},
	}
	for name, r := range bad {
		if Check(r) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMalformedError(t *testing.T) {
	err := Malformed("slack", "event.channel", "missing")
	if !errors.Is(err, ErrMalformed) {
		t.Fatal("MalformedError does not match ErrMalformed")
	}
	if err.Error() != "slack: malformed payload: event.channel: missing" {
		t.Fatalf("message = %q", err.Error())
	}
}

type fake struct{ name string }

func (f fake) Name() string                       { return f.name }
func (fake) Parse([]byte, string) (Result, error) { return Result{}, nil }

func TestRegistry(t *testing.T) {
	Register(fake{"test-registry"})
	t.Cleanup(func() { // the registry is global: leave it as found (go test -count=N)
		mu.Lock()
		delete(registry, "test-registry")
		mu.Unlock()
	})
	if p, ok := Get("test-registry"); !ok || p.Name() != "test-registry" {
		t.Fatal("registered provider not found")
	}
	if _, ok := Get("nope"); ok {
		t.Fatal("unknown provider found")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate registration did not panic")
		}
	}()
	Register(fake{"test-registry"})
}

func TestQuote(t *testing.T) {
	if got := Quote("a\"b\xff"); got != `"a\"b?"` {
		t.Fatalf("Quote = %s", got)
	}
	if len(Quote(string(make([]byte, 100)))) > 200 {
		t.Fatal("Quote is not bounded")
	}
}

func TestTextLimits(t *testing.T) {
	if err := CheckRunes("p", "ééé", 3); err != nil {
		t.Fatal(err)
	}
	var tl *TextTooLongError
	if err := CheckRunes("p", "éééé", 3); !errors.As(err, &tl) || tl.Length != 4 || tl.Temporary() {
		t.Fatalf("over by one: %v", err)
	}
	if err := CheckBytes("p", "ééé", 6); err != nil {
		t.Fatal(err)
	}
	if err := CheckBytes("p", "ééé", 5); err == nil {
		t.Fatal("7 bytes under a 5-byte limit")
	}
	if n := UTF16Len("a😀é"); n != 4 {
		t.Fatalf("UTF16Len = %d", n)
	}
	cases := []struct {
		in   string
		max  int
		want []string
	}{
		{"", 3, nil},
		{"abc", 3, []string{"abc"}},
		{"abcd", 3, []string{"abc", "d"}},
		{"a😀b", 2, []string{"a", "😀", "b"}},
		{"hello world", 8, []string{"hello ", "world"}},
		{"ab cdefgh", 8, []string{"ab cdefg", "h"}},
	}
	for _, c := range cases {
		got := SplitUTF16(c.in, c.max)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitUTF16(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		for _, p := range got {
			if UTF16Len(p) > c.max {
				t.Errorf("piece %q over %d", p, c.max)
			}
		}
	}
}
