package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/switchboard-dev/switchboard/client"
)

const doctorSummary = "check an installation end to end (edge configuration, provider registration, secrets, stage, bindings, self-test, refusals, quarantine): ✓/✗ with the fix"

func init() {
	add(Command{Name: "doctor", Summary: doctorSummary, Run: runDoctor})
}

func runDoctor(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("doctor", env)
	inst := fs.String("installation", "", "the installation to check (required)")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		fmt.Fprintf(env.Stdout, "%s\n\nusage: switchboard doctor --installation ID [flags]\n\nExit status 1 when any check fails.\n\nflags:\n", doctorSummary)
		printFlags(env.Stdout, fs)
		return nil
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) == 1 && *inst == "" { // `doctor inst_…` reads as meant
		*inst, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return usageErr(env, "doctor", "takes no arguments, got %q", pos)
	}
	if *inst == "" {
		return usageErr(env, "doctor", "--installation is required")
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	h, err := cl.Health(ctx, *inst)
	if err != nil {
		return err
	}
	if cn.json {
		if err := printResult(env, true, result{value: h}); err != nil {
			return err
		}
	} else {
		writeHealth(env.Stdout, h)
	}
	if !h.OK {
		return ExitError{Code: 1}
	}
	return nil
}

func writeHealth(w io.Writer, h client.Health) {
	fmt.Fprintf(w, "installation %s (%s)\n", h.InstallationID, h.Provider)
	failed := 0
	for _, c := range h.Checks {
		mark := "✓"
		switch c.Status {
		case client.CheckFail:
			mark = "✗"
			failed++
		case client.CheckSkip:
			mark = "–"
		}
		fmt.Fprintf(w, "%s %-22s %s\n", mark, c.Name, c.Detail)
		if c.Status == client.CheckFail && c.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", c.Fix)
		}
	}
	if failed == 0 {
		fmt.Fprintln(w, "every check passed")
	} else {
		fmt.Fprintf(w, "%d check(s) failed\n", failed)
	}
}
