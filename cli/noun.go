package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/client"
)

// noun is a command over one kind of API object, with verbs.
type noun struct {
	name    string
	summary string
	verbs   []verb
}

// verb is one action of a noun: its flags and what it calls.
type verb struct {
	name    string
	summary string
	args    string // positional arguments in the usage line, e.g. "ID"
	nargs   int    // how many positional arguments it takes
	// setup registers the verb's flags on fs and returns its action.
	setup func(fs *flag.FlagSet, env *Env) action
}

type action func(ctx context.Context, c *client.Client, args []string) (result, error)

// result is what a verb prints: the answer as JSON with --json, else the
// table and notes.
type result struct {
	value any
	table table
	notes []string // lines after the table (a secret shown once, a hint)
}

type table struct {
	header []string
	rows   [][]string
}

func (t table) write(w io.Writer) {
	if len(t.header) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func (n noun) command() Command {
	return Command{Name: n.name, Summary: n.summary, Run: n.run}
}

func (n noun) help(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nusage: switchboard %s <verb> [flags]\n\nverbs:\n", n.summary, n.name)
	for _, v := range n.verbs {
		use := v.name
		if v.args != "" {
			use += " " + v.args
		}
		fmt.Fprintf(w, "  %-22s %s\n", use, v.summary)
	}
	fmt.Fprintf(w, "\n'switchboard %s <verb> --help' lists a verb's flags.\n", n.name)
}

func (n noun) run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		n.help(env.Stderr)
		return ExitError{Code: 2}
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		n.help(env.Stdout)
		return nil
	}
	var v *verb
	names := make([]string, 0, len(n.verbs))
	for i := range n.verbs {
		names = append(names, n.verbs[i].name)
		if n.verbs[i].name == args[0] {
			v = &n.verbs[i]
		}
	}
	if v == nil {
		msg := fmt.Sprintf("unknown verb %q (verbs: %s)", args[0], strings.Join(names, ", "))
		if s := Suggest(args[0], names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return usageErr(env, n.name, "%s", msg)
	}
	full := n.name + " " + v.name
	fs := flagSet(full, env)
	var cn conn
	act := v.setup(fs, env)
	cn.flags(fs, env)
	if isHelp(args[1:]) {
		use := full
		if v.args != "" {
			use += " " + v.args
		}
		fmt.Fprintf(env.Stdout, "%s\n\nusage: switchboard %s [flags]\n\nflags:\n", v.summary, use)
		printFlags(env.Stdout, fs)
		return nil
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != v.nargs {
		if v.nargs == 0 {
			return usageErr(env, full, "takes no arguments, got %q", pos)
		}
		return usageErr(env, full, "want %s, got %d argument(s)", v.args, len(pos))
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	res, err := act(ctx, cl, pos)
	if err != nil {
		return err
	}
	return printResult(env, cn.json, res)
}

func printResult(env *Env, asJSON bool, res result) error {
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.value)
	}
	res.table.write(env.Stdout)
	for _, n := range res.notes {
		fmt.Fprintln(env.Stdout, n)
	}
	return nil
}

// Formatting of table cells.

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func tsp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func status(revoked *time.Time) string {
	if revoked != nil {
		return "revoked " + ts(*revoked)
	}
	return "active"
}

func secretsCell(ss []client.Secret) string {
	if len(ss) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		p := s.Purpose + "=" + s.Fingerprint
		if s.NotAfter != nil {
			p += " (until " + ts(*s.NotAfter) + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// rows builds a table of items with one row function.
func rows[T any](header []string, items []T, row func(T) []string) table {
	t := table{header: header}
	for _, it := range items {
		t.rows = append(t.rows, row(it))
	}
	return t
}

func one[T any](header []string, item T, row func(T) []string) table {
	return rows(header, []T{item}, row)
}

// mapFlag is a repeatable KEY=VALUE flag.
type mapFlag map[string]string

func (m mapFlag) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k) // values may be secrets: never printed
	}
	return strings.Join(keys, ",")
}

func (m mapFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE")
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	m[k] = v
	return nil
}
