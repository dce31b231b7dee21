package main

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
)

func TestEdgeRefusesABadQuarantinePolicy(t *testing.T) {
	env := func(k string) string {
		return map[string]string{
			"SWITCHBOARD_EDGE_KEY":        base64.StdEncoding.EncodeToString(make([]byte, filter.EdgeKeySize)),
			"SWITCHBOARD_ATTESTATION_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		}[k]
	}
	for _, args := range [][]string{
		{"--quarantine-threshold", "0"},
		{"--quarantine-cool-down", "10ms"},
	} {
		err := runEdge(context.Background(), append(args, "--insecure-xds"), env, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--quarantine-threshold") {
			t.Errorf("edge %v: %v, want the quarantine policy refused", args, err)
		}
	}
}
