package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// prompter asks on a terminal for what the flags did not give.
type prompter struct {
	env *Env
	in  *bufio.Reader
}

func newPrompter(env *Env) *prompter { return &prompter{env: env, in: bufio.NewReader(env.Stdin)} }

// ask prompts for a value (def shown and taken on an empty answer).
func (p *prompter) ask(label, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.env.Stderr, "%s [%s]: ", label, def)
	} else {
		fmt.Fprintf(p.env.Stderr, "%s: ", label)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: no answer (%w)", label, err)
	}
	if v := strings.TrimSpace(line); v != "" {
		return v, nil
	}
	return def, nil
}

// secret prompts without echo when stdin is a terminal file.
func (p *prompter) secret(label string) (string, error) {
	fmt.Fprintf(p.env.Stderr, "%s (not shown): ", label)
	if f, ok := p.env.Stdin.(*os.File); ok {
		if restore, err := noEcho(f); err == nil {
			defer func() { restore(); fmt.Fprintln(p.env.Stderr) }()
		}
	}
	line, err := p.in.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: no answer (%w)", label, err)
	}
	return strings.TrimSpace(line), nil
}
