package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpEveryCommand: `help CMD`, `CMD --help` and `CMD -h` print the
// command's one-line description and its flags to stdout and exit 0, for
// every command; none prints Go's bare "Usage of X:".
func TestHelpEveryCommand(t *testing.T) {
	if len(commands) < 15 {
		t.Fatalf("only %d commands registered", len(commands))
	}
	for _, name := range commandNames() {
		c := commands[name]
		if c.usage == "" || strings.Contains(c.usage, "\n") {
			t.Errorf("%s: description %q is not one line", name, c.usage)
		}
		for _, args := range [][]string{{"help", name}, {name, "--help"}, {name, "-h"}} {
			var out, errOut bytes.Buffer
			code := runMain(context.Background(), args, &out, &errOut)
			if code != 0 || errOut.Len() != 0 {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
			}
			s := out.String()
			if !strings.Contains(s, c.usage) || strings.Contains(s, "Usage of ") || strings.Count(s, "\n") < 3 {
				t.Errorf("%v: stdout does not hold the description and flags:\n%s", args, s)
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "deadletters") || errOut.Len() != 0 {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := runMain(context.Background(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: switchboard") {
		t.Errorf("no arguments: exit %d, stderr %q", code, errOut.String())
	}
}

// TestUnknownCommandSuggests: a mistyped command names the nearest one.
func TestUnknownCommandSuggests(t *testing.T) {
	for typed, want := range map[string]string{"deadleters": "deadletters", "sendtest": "send-test", "instalations": "installations", "orgz": "orgs"} {
		var out, errOut bytes.Buffer
		code := runMain(context.Background(), []string{typed}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "unknown command \""+typed+"\"") || !strings.Contains(errOut.String(), "Did you mean this?\n\t"+want+"\n") {
			t.Errorf("%s: exit %d\n%s", typed, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if runMain(context.Background(), []string{"frobnicate"}, &out, &errOut); strings.Contains(errOut.String(), "Did you mean") {
		t.Errorf("frobnicate got a suggestion:\n%s", errOut.String())
	}
}
