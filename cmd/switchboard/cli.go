package main

import (
	"context"

	"github.com/switchboard-dev/switchboard/cli"
)

// The API's command line (package cli): one command per noun, rotate,
// connect, explain, doctor.
func init() {
	cli.Version = binaryVersion()
	for _, c := range cli.Commands() {
		c := c
		register(command{name: c.Name, usage: c.Summary, selfHelp: true, run: func(ctx context.Context, args []string) error {
			return c.Run(ctx, cli.DefaultEnv(), args)
		}})
	}
}
