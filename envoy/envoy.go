// Package envoy holds the Envoy bootstrap for Switchboard edge nodes (see
// docs/envoy.md). Tests decode it strictly into go-control-plane's types and
// validate it deeply, since Envoy itself cannot run here.
package envoy

import _ "embed"

// Bootstrap is bootstrap.yaml.
//
//go:embed bootstrap.yaml
var Bootstrap []byte
