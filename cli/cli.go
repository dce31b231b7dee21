// Package cli is the command line of the binding API: one command per noun
// (orgs, agencies, profiles, installations, agents, bindings, tokens) with
// list|get|create|revoke verbs, rotate, and the guided flows (connect,
// explain, doctor). Every command talks to the API through package client;
// cmd/switchboard registers them as subcommands.
//
// The API address and token come from flags, $SWITCHBOARD_API /
// $SWITCHBOARD_TOKEN, or the local data directory (the address `switchboard
// up` recorded and its admin token). Answers print as a table, or as JSON
// with --json.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
)

// Environment variables of the CLI.
const (
	EnvAPI   = "SWITCHBOARD_API"
	EnvToken = "SWITCHBOARD_TOKEN"
)

// DefaultAPI is the API address when nothing else names one.
const DefaultAPI = "http://127.0.0.1:8080"

// Env is what a command reads and writes besides its arguments.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Terminal: Stdin is an interactive terminal, so a command may prompt
	// for what its flags did not give.
	Terminal bool
	// HTTP sends the API's requests (nil: a client with a 30 s timeout).
	HTTP *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string // one line for `switchboard help`
	Run     func(ctx context.Context, env *Env, args []string) error
}

// ExitError ends a command with a status and no further message (what it
// had to say is printed already).
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

var commands []Command

func add(c Command) { commands = append(commands, c) }

// Commands lists every command of the package, by name.
func Commands() []Command {
	out := append([]Command(nil), commands...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// conn are the flags that say which API to call with which token.
type conn struct {
	api, token, tokenFile, dataDir string
	json                           bool
}

func (c *conn) flags(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&c.api, "api", "", "API address (default: $"+EnvAPI+", else the address `switchboard up` recorded in the data directory, else "+DefaultAPI+")")
	fs.StringVar(&c.token, "token", "", "API bearer token (visible in process listings: prefer --token-file or $"+EnvToken+")")
	fs.StringVar(&c.tokenFile, "token-file", "", "read the API token from this file")
	fs.StringVar(&c.dataDir, "data-dir", datadir.Dir(env.Getenv), "data directory of `switchboard up` (its admin token and addresses) [$"+datadir.Env+"]")
	fs.BoolVar(&c.json, "json", false, "print the API's answer as JSON instead of a table")
}

// apiAddress is where the API is, and what said so.
func (c *conn) apiAddress(env *Env) (addr, from string) {
	if c.api != "" {
		return c.api, "--api"
	}
	if v := env.Getenv(EnvAPI); v != "" {
		return v, "$" + EnvAPI
	}
	if rt, err := datadir.ReadRuntime(c.dataDir); err == nil && rt.API != "" {
		return rt.API, filepath.Join(c.dataDir, datadir.RuntimeFile)
	}
	return DefaultAPI, "the default"
}

func (c *conn) tokenValue(env *Env) (string, error) {
	switch {
	case c.token != "":
		return c.token, nil
	case c.tokenFile != "":
		v, ok, err := datadir.ReadSecretFile(c.tokenFile)
		if err == nil && !ok {
			err = fmt.Errorf("--token-file %s: no such file", c.tokenFile)
		}
		return v, err
	case env.Getenv(EnvToken) != "":
		return strings.TrimSpace(env.Getenv(EnvToken)), nil
	}
	path := filepath.Join(c.dataDir, datadir.AdminTokenFile)
	v, ok, err := datadir.ReadSecretFile(path)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("no API token: pass --token-file FILE, set $%s, or run where `switchboard up` keeps its data (%s not found)", EnvToken, path)
	}
	return v, nil
}

// client is the API client of the flags.
func (c *conn) client(env *Env) (*client.Client, error) {
	tok, err := c.tokenValue(env)
	if err != nil {
		return nil, err
	}
	addr, from := c.apiAddress(env)
	var opts []client.Option
	if env.HTTP != nil {
		opts = append(opts, client.WithHTTPClient(env.HTTP))
	}
	cl, err := client.New(addr, tok, opts...)
	if err != nil {
		return nil, fmt.Errorf("API address from %s: %w", from, err)
	}
	return cl, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("orgs get ID --json").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// isHelp reports whether args ask for help (before any "--").
func isHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "help":
			return true
		}
	}
	return false
}

// flagSet is a FlagSet whose parse errors go to stderr, naming the command.
func flagSet(name string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {}
	return fs
}

// usageErr is a wrong invocation: said on stderr with the way to get help.
func usageErr(env *Env, cmd, format string, a ...any) error {
	fmt.Fprintf(env.Stderr, "switchboard %s: %s\nRun 'switchboard %s --help' for usage.\n", cmd, fmt.Sprintf(format, a...), cmd)
	return ExitError{Code: 2}
}

// printFlags writes fs's flags (as `flag` would, without its header).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// errFlagParse: the flag package said what is wrong already.
var errFlagParse = ExitError{Code: 2}

func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errFlagParse
}

// DefaultEnv is the process's own environment.
func DefaultEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Terminal: isTerminal(os.Stdin)}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// APIClient is the client a command outside this package uses to reach the
// API the way the CLI does without flags: $SWITCHBOARD_API /
// $SWITCHBOARD_TOKEN, else the address and admin token of `switchboard up`
// in dataDir.
func APIClient(getenv func(string) string, dataDir string) (*client.Client, error) {
	c := conn{dataDir: dataDir}
	return c.client(&Env{Getenv: getenv})
}
