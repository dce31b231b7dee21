package redisconf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// EnvSentinelPassword holds the password of the Sentinels themselves
// (Sentinel's requirepass), when they have one; the --redis URL's user and
// password are the data nodes' (primary and replicas).
const EnvSentinelPassword = "SWITCHBOARD_REDIS_SENTINEL_PASSWORD"

// Kind is the topology a --redis setting names.
type Kind int

const (
	// Single is one Redis server (host:port, redis://, rediss://).
	Single Kind = iota
	// Cluster is a Redis Cluster (redis-cluster://, rediss-cluster://).
	Cluster
	// Sentinel is a primary with replicas watched by Redis Sentinel
	// (redis-sentinel://, rediss-sentinel://).
	Sentinel
)

func (k Kind) String() string {
	switch k {
	case Single:
		return "single"
	case Cluster:
		return "cluster"
	case Sentinel:
		return "sentinel"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Conn is a parsed --redis setting: exactly one of the options is set,
// according to Kind.
type Conn struct {
	Kind     Kind
	Single   *redis.Options
	Cluster  *redis.ClusterOptions
	Failover *redis.FailoverOptions
}

// Syntax is the --redis forms, for help texts and errors.
const Syntax = "host:port, redis://[user:password@]host:port[/db] (rediss:// for TLS), " +
	"redis-cluster://[user:password@]host:port[,host:port...] (rediss-cluster://), or " +
	"redis-sentinel://[user:password@]host:port[,host:port...]/master-name[/db] (rediss-sentinel://)"

// ParseConn reads a --redis setting of any form (see Syntax). The cluster
// and Sentinel forms are turned into go-redis's own URL forms and parsed by
// redis.ParseClusterURL and redis.ParseFailoverURL (so the same query
// parameters apply: dial_timeout, read_timeout, pool_size, …); the host list
// names some of the cluster's nodes (the client discovers the others) or
// the Sentinels. The URL's user and password, else password, are the data
// nodes'; sentinelPassword is the Sentinels' own (EnvSentinelPassword).
// Errors name what is wrong and show the setting redacted.
func ParseConn(setting, password, sentinelPassword string) (*Conn, error) {
	setting = strings.TrimSpace(setting)
	scheme, _, hasScheme := strings.Cut(setting, "://")
	if !hasScheme || scheme == "redis" || scheme == "rediss" {
		o, err := Parse(setting, password)
		if err != nil {
			return nil, err
		}
		return &Conn{Kind: Single, Single: o}, nil
	}
	var kind Kind
	var base string
	switch scheme {
	case "redis-cluster", "rediss-cluster":
		kind, base = Cluster, strings.TrimSuffix(scheme, "-cluster")
	case "redis-sentinel", "rediss-sentinel":
		kind, base = Sentinel, strings.TrimSuffix(scheme, "-sentinel")
	default:
		return nil, fmt.Errorf("redis address %s: unknown scheme %q (want %s)", Redact(setting), scheme, Syntax)
	}
	u, err := topologyURL(setting, kind, base)
	if err != nil {
		return nil, fmt.Errorf("redis address %s: %s", Redact(setting), scrubText(err.Error(), setting))
	}
	c := &Conn{Kind: kind}
	if kind == Cluster {
		o, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis address %s: %s", Redact(setting), scrub(err, setting))
		}
		if o.Password == "" {
			o.Password = password
		}
		c.Cluster = o
		return c, nil
	}
	o, err := redis.ParseFailoverURL(u)
	if err != nil {
		return nil, fmt.Errorf("redis address %s: %s", Redact(setting), scrub(err, setting))
	}
	// go-redis reads the URL's user information as the Sentinels' and the
	// data nodes' credentials from query parameters (which would put a
	// password where it is shown): here the user information is the data
	// nodes', as in the other forms, and the Sentinels' password comes from
	// the environment only.
	o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
	o.SentinelUsername, o.SentinelPassword = "", sentinelPassword
	if o.Password == "" {
		o.Password = password
	}
	c.Failover = o
	return c, nil
}

// topologyURL rewrites a cluster or Sentinel setting into go-redis's form:
// base scheme, the first host as the URL's host, the others as addr=
// parameters, the master name as master_name=.
func topologyURL(setting string, kind Kind, base string) (string, error) {
	_, rest, _ := strings.Cut(setting, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.HasPrefix(tail, "#") {
		return "", errors.New("a fragment (#…) is not allowed")
	}
	userinfo, hostlist := "", authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo, hostlist = authority[:at+1], authority[at+1:]
	}
	if hostlist == "" {
		return "", errors.New("no host: name at least one host:port")
	}
	hosts := strings.Split(hostlist, ",")
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return "", fmt.Errorf("host %q: want host:port", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", fmt.Errorf("host %q: bad port %q", h, port)
		}
	}
	path, query, _ := strings.Cut(tail, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", errors.New("bad query string")
	}
	for _, k := range []string{"addr", "master_name", "password", "username", "sentinel_password", "sentinel_username"} {
		if q.Has(k) {
			switch k {
			case "addr":
				return "", errors.New("parameter addr: list the hosts before the path, separated by commas")
			case "master_name":
				return "", errors.New("parameter master_name: give the master name as the path (/master-name)")
			default:
				return "", fmt.Errorf("parameter %s: give the user and password in the URL's user information or $%s (the Sentinels' password in $%s)", k, EnvPassword, EnvSentinelPassword)
			}
		}
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	switch kind {
	case Cluster:
		if len(segs) != 0 {
			return "", errors.New("a cluster has no database or master name: remove the path")
		}
	case Sentinel:
		if len(segs) == 0 {
			return "", errors.New("no master name: want redis-sentinel://host:port[,host:port...]/master-name[/db]")
		}
		if len(segs) > 2 {
			return "", errors.New("path: want /master-name or /master-name/db")
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil || name == "" {
			return "", errors.New("bad master name")
		}
		q.Set("master_name", name)
		if len(segs) == 2 {
			db, err := strconv.Atoi(segs[1])
			if err != nil || db < 0 {
				return "", fmt.Errorf("database %q: want a number", segs[1])
			}
			q.Set("db", strconv.Itoa(db))
		}
	}
	u := base + "://" + userinfo + hosts[0]
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	return u, nil
}

// scrubText is msg without any password setting could contain.
func scrubText(msg, setting string) string {
	if pw := password(setting); pw != "" {
		msg = strings.ReplaceAll(msg, pw, mask)
	}
	return msg
}

// NewClient dials nothing yet: it returns the go-redis client of c (a
// *redis.Client, *redis.ClusterClient or a failover *redis.Client), which
// Asynq's clients, servers and inspectors share (NewClientFromRedisClient
// and the like accept a redis.UniversalClient of any kind).
func (c *Conn) NewClient() redis.UniversalClient {
	switch c.Kind {
	case Cluster:
		return redis.NewClusterClient(c.Cluster)
	case Sentinel:
		return redis.NewFailoverClient(c.Failover)
	}
	return redis.NewClient(c.Single)
}

// HasPassword reports whether a password for the data nodes is set.
func (c *Conn) HasPassword() bool {
	switch c.Kind {
	case Cluster:
		return c.Cluster.Password != ""
	case Sentinel:
		return c.Failover.Password != ""
	}
	return c.Single.Password != ""
}

// Replicated reports whether the topology has replicas a failover promotes
// (Cluster, Sentinel): there, an acknowledgement should wait for a replica
// (see queue.WithWaitReplicas).
func (c *Conn) Replicated() bool { return c.Kind != Single }

// Display describes c for logs and messages, with any password masked.
func (c *Conn) Display() string {
	switch c.Kind {
	case Cluster:
		return topologyDisplay("redis-cluster", c.Cluster.TLSConfig != nil, c.Cluster.Username, c.Cluster.Password, c.Cluster.Addrs, "")
	case Sentinel:
		path := "/" + url.PathEscape(c.Failover.MasterName)
		if c.Failover.DB != 0 {
			path += "/" + strconv.Itoa(c.Failover.DB)
		}
		return topologyDisplay("redis-sentinel", c.Failover.TLSConfig != nil, c.Failover.Username, c.Failover.Password, c.Failover.SentinelAddrs, path)
	}
	return Display(c.Single)
}

func topologyDisplay(scheme string, tls bool, user, pw string, addrs []string, path string) string {
	if tls {
		scheme = strings.Replace(scheme, "redis", "rediss", 1)
	}
	s := scheme + "://"
	switch {
	case pw != "":
		s += url.UserPassword(user, mask).String() + "@"
	case user != "":
		s += url.User(user).String() + "@"
	}
	return s + strings.Join(addrs, ",") + path
}

// AsynqOpt is c as Asynq connection options, for an Asynq client, server
// or inspector that dials its own connection (RedisClientOpt,
// RedisClusterClientOpt or RedisFailoverClientOpt).
func (c *Conn) AsynqOpt() asynq.RedisConnOpt {
	switch c.Kind {
	case Cluster:
		o := c.Cluster
		return asynq.RedisClusterClientOpt{
			Addrs: o.Addrs, MaxRedirects: o.MaxRedirects, Username: o.Username, Password: o.Password,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, TLSConfig: o.TLSConfig,
		}
	case Sentinel:
		o := c.Failover
		return asynq.RedisFailoverClientOpt{
			MasterName: o.MasterName, SentinelAddrs: o.SentinelAddrs, SentinelPassword: o.SentinelPassword,
			Username: o.Username, Password: o.Password, DB: o.DB,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize, TLSConfig: o.TLSConfig,
		}
	}
	return Asynq(c.Single)
}

// Addrs is the addresses c names: the server, the cluster nodes given, or
// the Sentinels.
func (c *Conn) Addrs() []string {
	switch c.Kind {
	case Cluster:
		return c.Cluster.Addrs
	case Sentinel:
		return c.Failover.SentinelAddrs
	}
	return []string{c.Single.Addr}
}
