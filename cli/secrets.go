package cli

import (
	"flag"
	"fmt"

	"github.com/switchboard-dev/switchboard/datadir"
)

// secretFlags registers --secret PURPOSE=VALUE and --secret-file
// PURPOSE=PATH; the returned function collects them.
func secretFlags(fs *flag.FlagSet) func() (map[string]string, error) {
	vals, files := mapFlag{}, mapFlag{}
	fs.Var(vals, "secret", "a secret as PURPOSE=VALUE, e.g. signing=… or bot_token=xoxb-… (repeatable; visible in process listings: prefer --secret-file)")
	fs.Var(files, "secret-file", "a secret read from a file, as PURPOSE=PATH (repeatable)")
	return func() (map[string]string, error) {
		out := map[string]string{}
		for k, v := range vals {
			out[k] = v
		}
		for k, p := range files {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("secret %q given by --secret and --secret-file", k)
			}
			v, ok, err := datadir.ReadSecretFile(p)
			if err == nil && !ok {
				err = fmt.Errorf("no such file")
			}
			if err != nil {
				return nil, fmt.Errorf("--secret-file %s: %w", k, err)
			}
			out[k] = v
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
}
