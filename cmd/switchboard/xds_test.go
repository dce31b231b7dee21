package main

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/servicetest"
)

// When serve fails after the xDS part has bound its port (here: a bad API
// address), the xDS port is released, not held until the process exits.
func TestServeFailureReleasesXDSPort(t *testing.T) {
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", "")
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	err := serve(context.Background(), []string{"--data-dir", t.TempDir(), "--listen", "256.0.0.1:bad",
		"--xds-listen", addr, "--metrics-listen", "127.0.0.1:0"}, &syncBuffer{}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "256.0.0.1") {
		t.Fatalf("bad listen address: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("xDS port still held after serve failed: %v", err)
	}
	ln.Close()
}
