package redisconf

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConn(t *testing.T) {
	for _, tc := range []struct {
		setting, env, senv string
		kind               Kind
		addrs              []string
		master, user, pw   string
		db                 int
		tls                bool
		display            string
	}{
		{setting: "h:1", kind: Single, addrs: []string{"h:1"}, display: "h:1"},
		{setting: "redis://:pw@h:1/2", kind: Single, addrs: []string{"h:1"}, pw: "pw", db: 2, display: "redis://:xxxxx@h:1/2"},
		{setting: "redis-cluster://h1:7000", kind: Cluster, addrs: []string{"h1:7000"}, display: "redis-cluster://h1:7000"},
		{setting: "redis-cluster://h1:7000,h2:7001,[::1]:7002", env: "e", kind: Cluster, addrs: []string{"h1:7000", "h2:7001", "[::1]:7002"}, pw: "e",
			display: "redis-cluster://:xxxxx@h1:7000,h2:7001,[::1]:7002"},
		{setting: "rediss-cluster://alice:p%40ss@h1:7000,h2:7001?dial_timeout=3", env: "other", kind: Cluster, addrs: []string{"h1:7000", "h2:7001"},
			user: "alice", pw: "p@ss", tls: true, display: "rediss-cluster://alice:xxxxx@h1:7000,h2:7001"},
		{setting: "redis-sentinel://s1:26379,s2:26380/mymaster", kind: Sentinel, addrs: []string{"s1:26379", "s2:26380"}, master: "mymaster",
			display: "redis-sentinel://s1:26379,s2:26380/mymaster"},
		{setting: "redis-sentinel://:pw@s1:26379/mymaster/3", senv: "spw", kind: Sentinel, addrs: []string{"s1:26379"}, master: "mymaster", pw: "pw", db: 3,
			display: "redis-sentinel://:xxxxx@s1:26379/mymaster/3"},
		{setting: "rediss-sentinel://bob@s1:1/m?read_timeout=2s", env: "e", kind: Sentinel, addrs: []string{"s1:1"}, master: "m", user: "bob", pw: "e", tls: true,
			display: "rediss-sentinel://bob:xxxxx@s1:1/m"},
	} {
		c, err := ParseConn(tc.setting, tc.env, tc.senv)
		if err != nil {
			t.Errorf("ParseConn(%q): %v", tc.setting, err)
			continue
		}
		if c.Kind != tc.kind {
			t.Errorf("ParseConn(%q) kind %s, want %s", tc.setting, c.Kind, tc.kind)
			continue
		}
		var addrs []string
		var user, pw, master string
		var db int
		var tls bool
		switch c.Kind {
		case Single:
			addrs, user, pw, db, tls = []string{c.Single.Addr}, c.Single.Username, c.Single.Password, c.Single.DB, c.Single.TLSConfig != nil
		case Cluster:
			addrs, user, pw, tls = c.Cluster.Addrs, c.Cluster.Username, c.Cluster.Password, c.Cluster.TLSConfig != nil
		case Sentinel:
			o := c.Failover
			addrs, user, pw, db, tls, master = o.SentinelAddrs, o.Username, o.Password, o.DB, o.TLSConfig != nil, o.MasterName
			if o.SentinelPassword != tc.senv || o.SentinelUsername != "" {
				t.Errorf("ParseConn(%q): sentinel credentials %q/%q, want the environment's", tc.setting, o.SentinelUsername, o.SentinelPassword)
			}
		}
		if !slices.Equal(addrs, tc.addrs) || user != tc.user || pw != tc.pw || db != tc.db || tls != tc.tls || master != tc.master {
			t.Errorf("ParseConn(%q) = addrs %v user %q pw %q db %d tls %v master %q", tc.setting, addrs, user, pw, db, tls, master)
		}
		if d := c.Display(); d != tc.display {
			t.Errorf("ParseConn(%q).Display() = %q, want %q", tc.setting, d, tc.display)
		}
		if c.Replicated() != (tc.kind != Single) {
			t.Errorf("ParseConn(%q).Replicated() = %v", tc.setting, c.Replicated())
		}
		if c.AsynqOpt() == nil {
			t.Errorf("ParseConn(%q): no Asynq options", tc.setting)
		}
		if cl := c.NewClient(); cl == nil {
			t.Errorf("ParseConn(%q): no client", tc.setting)
		} else {
			cl.Close()
		}
	}
	c, err := ParseConn("redis-cluster://h:1?dial_timeout=3&pool_size=7", "", "")
	if err != nil || c.Cluster.DialTimeout != 3*time.Second || c.Cluster.PoolSize != 7 {
		t.Errorf("cluster query parameters: %+v, %v", c, err)
	}
}

func TestParseConnRefuses(t *testing.T) {
	for _, tc := range []struct{ setting, want string }{
		{"redis-cluster://", "no host"},
		{"redis-cluster://u:topsecret@", "no host"},
		{"redis-cluster://h1", "want host:port"},
		{"redis-cluster://u:topsecret@h1:1,h2", `host "h2": want host:port`},
		{"redis-cluster://h1:1,,h2:2", `host "": want host:port`},
		{"redis-cluster://h1:0", "bad port"},
		{"redis-cluster://u:topsecret@h1:99999", "bad port"},
		{"redis-cluster://h1:1/0", "no database or master name"},
		{"redis-cluster://u:topsecret@h1:1?addr=h2:2", "list the hosts"},
		{"redis-cluster://h1:1?password=topsecret", "user information"},
		{"redis-cluster://u:topsecret@h1:1?bogus=1", "unexpected option: bogus"},
		{"redis-cluster://u:topsecret@h1:1?dial_timeout=x", "dial_timeout"},
		{"redis-cluster://h1:1#frag", "fragment"},
		{"redis-sentinel://s1:1", "no master name"},
		{"redis-sentinel://u:topsecret@s1:1/", "no master name"},
		{"redis-sentinel://s1:1/m/x", `database "x"`},
		{"redis-sentinel://s1:1/m/1/2", "want /master-name or /master-name/db"},
		{"redis-sentinel://s1:1/m?master_name=n", "as the path"},
		{"redis-sentinel://u:topsecret@s1:1/m?sentinel_password=x", "SWITCHBOARD_REDIS_SENTINEL_PASSWORD"},
		{"redis-sentinel://s1:1/m?%zz", "bad query"},
		{"redis-sentinel://u:top secret@s1:1/m%zz", "bad master name"},
		{"redis-sentinal://s1:1/m", `unknown scheme "redis-sentinal"`},
		{"http://u:topsecret@h:1", `unknown scheme "http"`},
	} {
		_, err := ParseConn(tc.setting, "", "")
		if err == nil {
			t.Errorf("ParseConn(%q) accepted", tc.setting)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConn(%q): %v, want it to say %q", tc.setting, err, tc.want)
		}
		if strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "top secret") {
			t.Errorf("ParseConn(%q) error shows the password: %v", tc.setting, err)
		}
	}
}

// FuzzParseConn: no setting makes ParseConn panic, and neither an error nor
// the displayed form ever holds the password.
func FuzzParseConn(f *testing.F) {
	for _, s := range []string{
		"h:1", "redis://:pw@h:1/2", "redis-cluster://u:pw@h1:1,h2:2?dial_timeout=3",
		"rediss-cluster://h:1", "redis-sentinel://:pw@s1:1,s2:2/mymaster/1", "redis-sentinel://u:pw@s:1/m?x=1",
		"redis-cluster://u:pw@h1:1,h2", "redis-sentinel://u:p%zz@s:1/m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pw := password(s)
		c, err := ParseConn(s, "", "")
		if err == nil {
			if cl := c.NewClient(); cl != nil {
				cl.Close()
			}
		}
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
		if strings.Contains(c.Display(), pw) {
			t.Fatalf("display %q shows the password", c.Display())
		}
	})
}
