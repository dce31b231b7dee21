//go:build !linux

package cli

import (
	"errors"
	"os"
)

func noEcho(*os.File) (func(), error) { return nil, errors.New("echo control not supported here") }
