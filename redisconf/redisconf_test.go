package redisconf

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		setting, env   string
		addr, user, pw string
		db             int
		tls            bool
		display        string
	}{
		{setting: "127.0.0.1:6379", addr: "127.0.0.1:6379", display: "127.0.0.1:6379"},
		{setting: "127.0.0.1:6379", env: "s3cret", addr: "127.0.0.1:6379", pw: "s3cret", display: "redis://:xxxxx@127.0.0.1:6379"},
		{setting: "redis://:pw@h:6380/2", addr: "h:6380", pw: "pw", db: 2, display: "redis://:xxxxx@h:6380/2"},
		{setting: "redis://:pw@h:6380", env: "other", addr: "h:6380", pw: "pw", display: "redis://:xxxxx@h:6380"},
		{setting: "redis://alice:p%40ss@h:1", addr: "h:1", user: "alice", pw: "p@ss", display: "redis://alice:xxxxx@h:1"},
		{setting: "redis://alice@h:1", env: "e", addr: "h:1", user: "alice", pw: "e", display: "redis://alice:xxxxx@h:1"},
		{setting: "rediss://h", addr: "h:6379", tls: true, display: "rediss://h:6379"},
		{setting: "redis://h:1/0", addr: "h:1", display: "h:1"},
		{setting: "[::1]:6379", addr: "[::1]:6379", display: "[::1]:6379"},
	} {
		o, err := Parse(tc.setting, tc.env)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.setting, err)
			continue
		}
		if o.Addr != tc.addr || o.Username != tc.user || o.Password != tc.pw || o.DB != tc.db || (o.TLSConfig != nil) != tc.tls {
			t.Errorf("Parse(%q) = addr %q user %q pw %q db %d tls %v", tc.setting, o.Addr, o.Username, o.Password, o.DB, o.TLSConfig != nil)
		}
		if d := Display(o); d != tc.display {
			t.Errorf("Display(Parse(%q)) = %q, want %q", tc.setting, d, tc.display)
		}
		a := Asynq(o)
		if a.Addr != o.Addr || a.Username != o.Username || a.Password != o.Password || a.DB != o.DB || a.TLSConfig != o.TLSConfig {
			t.Errorf("Asynq(Parse(%q)) = %+v differs from the options", tc.setting, a)
		}
	}
}

func TestParseRefusesWithoutShowingThePassword(t *testing.T) {
	for _, setting := range []string{
		"", "localhost", ":6379", "h:0", "h:port",
		"http://u:topsecret@h:1",
		"redis://u:topsecret@h:1/notadb",
		"redis://u:topsecret@h:1/1/2",
		"redis://u:topsecret@h:1/?bogus=1",
		"redis://u:topsecret@h:1/?dial_timeout=x",
		"redis://u:top secret@h%zz:1",
		"redis://u:topsecret@[::1:1",
	} {
		_, err := Parse(setting, "")
		if err == nil {
			t.Errorf("Parse(%q) accepted", setting)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "top secret") {
			t.Errorf("Parse(%q) error shows the password: %v", setting, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"h:1":                     "h:1",
		"redis://h:1":             "redis://h:1",
		"redis://u@h:1":           "redis://u@h:1",
		"redis://:pw@h:1/3":       "redis://:xxxxx@h:1/3",
		"rediss://u:p:w@x@h:1":    "rediss://u:xxxxx@h:1",
		"redis://u:pw@h:1/?a=b@c": "redis://u:xxxxx@c",
		"redis://h:1/?password=s": "redis://h:1/?...",
		"redis-cluster://u:pw@h:1,h:2?dial_timeout=1": "redis-cluster://u:xxxxx@h:1,h:2?...",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse: neither an error nor the displayed form ever holds the password.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"h:1", "redis://:pw@h:1/2", "rediss://u:pw@h", "redis://u:p%zz@h", "redis://u:pw@[::1:1", "redis://u:pw@h:1/?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pw := password(s)
		o, err := Parse(s, "")
		// Only a password that can be told apart: long enough, once in the
		// setting, of letters and digits other than the mask's.
		if len(pw) < 6 || strings.Count(s, pw) != 1 || strings.ContainsFunc(pw, func(r rune) bool {
			return r == 'x' || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if strings.Contains(Display(o), pw) || strings.Contains(Redact(s), pw) {
			t.Fatalf("display %q / redact %q shows the password", Display(o), Redact(s))
		}
	})
}
