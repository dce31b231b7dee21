package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/redisconf"
)

const defaultRedis = "127.0.0.1:6379"

// redisFlagHelp is the --redis help every command that uses the queue shows.
const redisFlagHelp = "Redis of the queue: " + redisconf.Syntax + "; " +
	"without a password in the URL, $" + redisconf.EnvPassword + " is the password (keeps it out of process listings; a Sentinel's own password: $" + redisconf.EnvSentinelPassword + ")"

// addRedisFlag registers --redis on fs. Its default, "", is the private
// redis-server of the `switchboard up` running on the data directory (with
// its password), else defaultRedis.
func addRedisFlag(fs *flag.FlagSet) *string {
	return fs.String("redis", "", redisFlagHelp+" (default: the private redis-server of `switchboard up` on the data directory, with its password; else "+defaultRedis+")")
}

// The queue logs its own retries (go-redis's pool log lines, with addresses):
// every command says what failed itself, once, so they are dropped.
func init() { redis.SetLogger(quietRedis{}) }

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// shardsFlag is the shard-count flag of every command on the shard queues;
// ingest and workers must agree on it, or sessions land in unread queues.
func shardsFlag(fs *flag.FlagSet, p *int) {
	fs.IntVar(p, "shards", queue.DefaultShards, "number of shard queues while no layout is recorded in Redis (the same for every ingest and worker); once `switchboard queue reshard` recorded one, its count applies")
}

func checkShards(n int) error {
	if n <= 0 {
		return fmt.Errorf("--shards must be positive, got %d", n)
	}
	return nil
}

// redisOptions parses a --redis setting, with the environment's password
// when the setting has none. An empty setting is the private redis-server
// that `switchboard up` recorded in dataDir, with the password up generated
// for it (unless the environment gives one), else defaultRedis.
func redisOptions(setting, dataDir string, getenv func(string) string) (*redisconf.Conn, error) {
	pw := getenv(redisconf.EnvPassword)
	if setting == "" {
		setting = defaultRedis
		if rt, err := datadir.ReadRuntime(dataDir); dataDir != "" && err == nil && rt.Redis != "" {
			setting = rt.Redis
			if pw == "" {
				v, _, err := datadir.ReadSecretFile(filepath.Join(dataDir, redisPasswordFile))
				if err != nil {
					return nil, fmt.Errorf("password of up's redis-server: %w", err)
				}
				pw = v
			}
		}
	}
	o, err := redisconf.ParseConn(setting, pw, getenv(redisconf.EnvSentinelPassword))
	if err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	return o, nil
}

// checkRedis pings Redis once at start. A refused authentication is err,
// saying what to set; any other failure is unreachable, so a long-running
// part can start anyway (Redis may come up later) while a one-shot command
// fails. Neither shows the password.
func checkRedis(ctx context.Context, rdb redis.UniversalClient, o *redisconf.Conn) (unreachable error, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	perr := rdb.Ping(ctx).Err()
	switch {
	case perr == nil:
		return nil, nil
	case isAuthError(perr):
		hint := "set " + redisconf.EnvPassword + " (or give the password in the --redis URL)"
		if o.HasPassword() {
			hint = "check " + redisconf.EnvPassword + " or the --redis URL's user and password"
		}
		return nil, fmt.Errorf("redis at %s refused authentication (%s): %s", o.Display(), firstWord(perr), hint)
	default:
		return fmt.Errorf("redis at %s: %w", o.Display(), perr), nil
	}
}

// isAuthError reports Redis's answers to a missing or wrong password.
func isAuthError(err error) bool {
	switch firstWord(err) {
	case "NOAUTH", "WRONGPASS", "NOPERM":
		return true
	}
	return strings.Contains(err.Error(), "without any password configured") // AUTH sent to a server without one
}

func firstWord(err error) string {
	w, _, _ := strings.Cut(err.Error(), " ")
	return w
}

// redisPasswordFile holds the password of up's private redis-server.
const redisPasswordFile = datadir.RedisPasswordFile

// loadOrCreateRedisPassword reads <dataDir>/redis.password, else generates
// it (0600, 32 random bytes in hex): the private redis-server is on loopback,
// but without a password any local user could queue work past the edge.
func loadOrCreateRedisPassword(dataDir string) (string, error) {
	path := filepath.Join(dataDir, redisPasswordFile)
	read := func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("redis password: %w", err)
		}
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return "", fmt.Errorf("redis password file %s is empty (delete it to have a new one generated)", path)
		}
		return pw, nil
	}
	if _, err := os.Stat(path); err == nil {
		return read()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("redis password file: %w", err)
	}
	pw := rand.Text() + rand.Text() // 52 base32 characters, 256 random bits
	if err := writeFileExcl(path, []byte(pw+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return read()
		}
		return "", fmt.Errorf("create redis password file: %w", err)
	}
	return pw, nil
}

// writeRedisConfig writes the private redis-server's password into a
// configuration file (0600) in its directory: given as --requirepass it
// would show in the process listing.
func writeRedisConfig(dir, password string) (string, error) {
	path := filepath.Join(dir, "redis.conf")
	content := "# Written by `switchboard up` at every start; the password is " + redisPasswordFile + " in the data directory.\n" +
		"requirepass \"" + password + "\"\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("redis configuration: %w", err)
	}
	// An existing file keeps its mode through O_TRUNC: make it private.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("redis configuration: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return "", fmt.Errorf("redis configuration: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("redis configuration: %w", err)
	}
	return path, nil
}
