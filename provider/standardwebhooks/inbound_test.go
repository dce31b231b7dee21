package standardwebhooks

import (
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

func TestGolden(t *testing.T) { providertest.Golden(t, Inbound{}, "testdata") }

func TestRegistered(t *testing.T) {
	if _, ok := provider.Get(Name); !ok {
		t.Fatal("standardwebhooks is not registered")
	}
}

func TestValidateSettings(t *testing.T) {
	ok := []map[string]string{
		{"conversation_pointer": "/data/channel"},
		{"conversation_pointer": "/a~1b/~0c/0", "thread_pointer": "/t", "sender_pointer": "/s", "text_pointer": "/x", "reply_url": "https://svc.example/replies"},
	}
	for _, s := range ok {
		if err := provider.ValidateSettings(Name, s); err != nil {
			t.Errorf("%v refused: %v", s, err)
		}
	}
	bad := []map[string]string{
		nil,
		{},
		{"conversation_pointer": ""},
		{"conversation_pointer": "data/channel"},
		{"conversation_pointer": "/a~2"},
		{"conversation_pointer": "/a~"},
		{"conversation_pointer": "/a", "colour": "blue"},
		{"conversation_pointer": "/a", "reply_url": "ftp://x/y"},
		{"conversation_pointer": "/a", "reply_url": "https://user:pw@x/y"},
		{"conversation_pointer": "/a", "reply_url": "/relative"},
		{"conversation_pointer": "/a", "thread_pointer": "nope"},
	}
	for _, s := range bad {
		if err := provider.ValidateSettings(Name, s); err == nil {
			t.Errorf("%v accepted", s)
		}
	}
}

func TestLookup(t *testing.T) {
	doc := []byte(`{"a":{"b/c":[1,"two",{"~k":true}],"n":null,"o":{}}," ":"sp"}`)
	cases := []struct {
		ptr, want string
		ok        bool
	}{
		{"/a/b~1c/0", "1", true},
		{"/a/b~1c/1", "two", true},
		{"/a/b~1c/2/~0k", "true", true},
		{"/ ", "sp", true},
		{"/a/b~1c/3", "", false},
		{"/a/b~1c/01", "", false},
		{"/a/b~1c/-1", "", false},
		{"/a/n", "", false},
		{"/a/o", "", false},
		{"/a/x", "", false},
		{"/a/b~1c/1/x", "", false},
	}
	for _, c := range cases {
		got, ok := Lookup(doc, c.ptr)
		if got != c.want || ok != c.ok {
			t.Errorf("Lookup(%q) = %q %v, want %q %v", c.ptr, got, ok, c.want, c.ok)
		}
	}
}

var fuzzSettings = map[string]string{"conversation_pointer": "/data/channel/id", "thread_pointer": "/data/thread/id", "sender_pointer": "/data/from", "text_pointer": "/data/text"}

func FuzzParse(f *testing.F) {
	providertest.SeedRequests(f, "testdata")
	f.Fuzz(func(t *testing.T, body []byte, contentType, headers string) {
		providertest.FuzzRequest(t, Inbound{}, body, contentType, headers, fuzzSettings)
	})
}

func FuzzPointer(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":1}]}`), "/a/0/b")
	f.Add([]byte(`{"x~/":"y"}`), "/x~0~1")
	f.Fuzz(func(t *testing.T, doc []byte, ptr string) {
		_, _ = ParsePointer(ptr)
		_, _ = Lookup(doc, ptr)
	})
}
