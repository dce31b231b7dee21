package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/switchboard-dev/switchboard/importer"
)

func init() {
	register(command{name: "import", usage: "import legacy|openclaw --org ORG --from FILE [--dry-run]: adopt a provider-only or OpenClaw deployment (docs/import.md)",
		run: func(ctx context.Context, args []string) error { return runImport(ctx, args, os.Stdout, os.Stderr) }})
}

// agentURLs is the repeatable --agent-url ID=URL flag.
type agentURLs map[string]string

func (a agentURLs) String() string { return "" }

func (a agentURLs) Set(v string) error {
	id, u, ok := strings.Cut(v, "=")
	if !ok || id == "" || u == "" {
		return errors.New("want AGENT_ID=URL")
	}
	a[id] = u
	return nil
}

type importFlags struct {
	store                            *storeOptions
	org, from, secretsOut, agentBase *string
	dry, skip, asJSON                *bool
	urls                             agentURLs
}

func newImportFlags(format string, errOut io.Writer) (*flag.FlagSet, *importFlags) {
	fs := flag.NewFlagSet("import "+format, flag.ContinueOnError)
	fs.SetOutput(errOut)
	f := &importFlags{store: addStoreFlags(fs), urls: agentURLs{}}
	f.org = fs.String("org", "", "organisation to import into (required)")
	f.from = fs.String("from", "", "file to import (required)")
	f.dry = fs.Bool("dry-run", false, "print the plan and write nothing")
	f.skip = fs.Bool("skip-conflicts", false, "import the rows that have no conflict (default: any conflict writes nothing)")
	f.asJSON = fs.Bool("json", false, "print the plan as JSON")
	f.secretsOut = fs.String("agent-secrets", "", "file (created 0600, must not exist) for the signing secrets generated for new agents")
	f.agentBase = new(string)
	if format == "openclaw" {
		fs.Var(f.urls, "agent-url", "(openclaw) AGENT_ID=URL of an OpenClaw agent's Switchboard endpoint (repeatable)")
		fs.StringVar(f.agentBase, "agent-base", "", "(openclaw) URL prefix for agents without --agent-url: <prefix>/<agentId>")
	}
	return fs, f
}

func runImport(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) == 0 || (args[0] != "legacy" && args[0] != "openclaw") {
		fmt.Fprintln(errOut, "usage: switchboard import legacy|openclaw --org ORG --from FILE [--dry-run] [flags]\n\n"+
			"Plans every row of FILE (create, unchanged, conflict, unsupported) against the store and,\n"+
			"without --dry-run, applies it in one transaction; a rerun changes nothing. Exit status 1\n"+
			"when a row is a conflict. Formats and mapping: docs/import.md.")
		fs, _ := newImportFlags("openclaw", errOut)
		fs.PrintDefaults()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return nil
		}
		return exitError{code: 2}
	}
	format := args[0]
	fs, fl := newImportFlags(format, errOut)
	opts, org, from, dry, skip, asJSON, secretsOut := fl.store, fl.org, fl.from, fl.dry, fl.skip, fl.asJSON, fl.secretsOut
	urls, agentBase := fl.urls, *fl.agentBase
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	agentBase = *fl.agentBase
	if *org == "" || *from == "" {
		return errors.New("--org and --from are required")
	}
	f, err := os.Open(*from)
	if err != nil {
		return fmt.Errorf("open %s: %w", *from, err)
	}
	var src *importer.Source
	if format == "legacy" {
		src, err = importer.ParseLegacy(*from, f)
	} else {
		src, err = importer.ParseOpenClaw(*from, f, importer.OpenClawOptions{AgentURLs: urls, AgentBase: agentBase})
	}
	f.Close()
	if err != nil {
		return err
	}
	keys, err := loadKeyring(opts.DataDir)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, opts.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	print := func(pl *importer.Plan) error {
		if *asJSON {
			return importer.WriteJSON(out, pl)
		}
		return importer.WriteText(out, pl)
	}
	o := importer.Options{OrgID: *org, DryRun: true, SkipConflicts: *skip, Progress: errOut}
	if !*dry {
		// Generated agent secrets must have somewhere to go before anything is written.
		res, err := importer.Run(ctx, st, keys, src, o)
		if err != nil {
			return err
		}
		if needsAgentSecrets(res.Plan, src) && *secretsOut == "" {
			_ = print(res.Plan)
			return errors.New("the plan creates agents without a signing secret in the file: give --agent-secrets FILE to receive the generated ones")
		}
		o.DryRun = false
		o.BeforeCommit = func(r *importer.Result) error { return writeAgentSecrets(*secretsOut, r.AgentSecrets) }
	}
	res, err := importer.Run(ctx, st, keys, src, o)
	if res != nil && res.Plan != nil {
		if perr := print(res.Plan); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		if *secretsOut != "" && !errors.Is(err, errSecretsFileExists) {
			os.Remove(*secretsOut) // the agents they belong to were rolled back
		}
		if errors.Is(err, importer.ErrConflicts) {
			fmt.Fprintln(errOut, "switchboard import:", err)
			return exitError{code: 1}
		}
		return err
	}
	switch {
	case *dry:
		fmt.Fprintln(errOut, "dry run: nothing written")
	case res.Created == 0:
		fmt.Fprintf(errOut, "import run %s: nothing to change\n", res.RunID)
	default:
		fmt.Fprintf(errOut, "import run %s: created %d objects (audited with import_run %s)\n", res.RunID, res.Created, res.RunID)
		if len(res.AgentSecrets) > 0 {
			fmt.Fprintf(errOut, "signing secrets of %d new agents written to %s\n", len(res.AgentSecrets), *secretsOut)
		}
	}
	if res.Plan.Counts()[importer.Conflict] > 0 {
		return exitError{code: 1}
	}
	return nil
}

func needsAgentSecrets(pl *importer.Plan, src *importer.Source) bool {
	given := map[string]bool{}
	for _, a := range src.Agents {
		given[a.Key] = a.Secret != ""
	}
	for _, r := range pl.Rows {
		if r.Kind == "agent" && r.Action == importer.Create && !given[r.Key] {
			return true
		}
	}
	return false
}

var errSecretsFileExists = errors.New("agent secrets file exists")

func writeAgentSecrets(path string, s map[string]string) error {
	if len(s) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%w: %s (not overwritten)", errSecretsFileExists, path)
	}
	if err != nil {
		return fmt.Errorf("agent secrets file: %w", err)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write agent secrets file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write agent secrets file: %w", err)
	}
	return f.Close()
}
