// Package redisconf turns the --redis setting of the commands (host:port, or a
// URL redis://[user:password@]host:port[/db] or rediss://… for TLS) into the
// connection options every Redis client of a process is built from: go-redis's
// and, through Asynq, the queue's. The password may also come from the
// environment (EnvPassword) so it stays out of process listings, and it never
// appears in what this package returns for display or in its errors.
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

// EnvPassword holds the Redis password when the --redis URL carries none.
const EnvPassword = "SWITCHBOARD_REDIS_PASSWORD"

// mask stands in for a password in anything shown.
const mask = "xxxxx"

// Parse reads a --redis setting: "host:port", or a redis:// or rediss:// URL
// parsed by go-redis (redis.ParseURL: user, password, database, TLS and its
// connection parameters). envPassword (the value of EnvPassword) is the
// password when the setting carries none. Errors show the setting redacted.
func Parse(setting, envPassword string) (*redis.Options, error) {
	setting = strings.TrimSpace(setting)
	if setting == "" {
		return nil, errors.New("empty Redis address: want host:port or redis://[user:password@]host:port[/db]")
	}
	var o *redis.Options
	if scheme, _, ok := strings.Cut(setting, "://"); ok {
		if scheme != "redis" && scheme != "rediss" {
			return nil, fmt.Errorf("redis address %s: unknown scheme %q (want redis:// or rediss://)", Redact(setting), scheme)
		}
		var err error
		if o, err = redis.ParseURL(setting); err != nil {
			return nil, fmt.Errorf("redis address %s: %s", Redact(setting), scrub(err, setting))
		}
	} else {
		host, port, err := net.SplitHostPort(setting)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("redis address %q: want host:port or redis://[user:password@]host:port[/db]", setting)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("redis address %q: bad port %q", setting, port)
		}
		o = &redis.Options{Addr: setting}
	}
	if o.Password == "" {
		o.Password = envPassword
	}
	return o, nil
}

// scrub is err's message without the URL (net/url quotes the whole input in
// its errors) and without any password it could contain.
func scrub(err error, setting string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if pw := password(setting); pw != "" {
		msg = strings.ReplaceAll(msg, pw, mask)
	}
	return msg
}

// password is the password part of a URL's user information, found without
// a full parse (the setting may not parse).
func password(setting string) string {
	_, rest, ok := strings.Cut(setting, "://")
	if !ok {
		return ""
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	_, pw, ok := strings.Cut(rest[:at], ":")
	if !ok {
		return ""
	}
	return pw
}

// Redact returns a --redis setting fit to show: a URL's password replaced by
// xxxxx and its query string by "?..." (a parameter could hold a secret).
// Everything up to the last "@" counts as user information, so a password
// with an unescaped "@", "/" or "?" is masked too. A host:port is returned
// as is.
func Redact(setting string) string {
	scheme, rest, ok := strings.Cut(setting, "://")
	if !ok {
		return setting
	}
	userinfo := ""
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		userinfo = rest[:at+1]
		if user, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			userinfo = user + ":" + mask + "@"
		}
		rest = rest[at+1:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q] + "?..."
	}
	return scheme + "://" + userinfo + rest
}

// Display describes o for logs and messages: host:port for a plain
// connection, else a URL with the password (wherever it came from) masked,
// so a reader can tell authentication and TLS are on.
func Display(o *redis.Options) string {
	if o.Username == "" && o.Password == "" && o.TLSConfig == nil && o.DB == 0 {
		return o.Addr
	}
	u := url.URL{Scheme: "redis", Host: o.Addr}
	if o.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	switch {
	case o.Password != "":
		u.User = url.UserPassword(o.Username, mask)
	case o.Username != "":
		u.User = url.User(o.Username)
	}
	if o.DB != 0 {
		u.Path = "/" + strconv.Itoa(o.DB)
	}
	return u.String()
}

// Asynq is o as Asynq connection options, for an Asynq client, server or
// inspector that dials its own connection (the queue and worker share a
// go-redis client built from o instead): the same address, credentials,
// database, TLS and timeouts.
func Asynq(o *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{
		Network:      o.Network,
		Addr:         o.Addr,
		Username:     o.Username,
		Password:     o.Password,
		DB:           o.DB,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.WriteTimeout,
		PoolSize:     o.PoolSize,
		TLSConfig:    o.TLSConfig,
	}
}
