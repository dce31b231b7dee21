package main

import (
	"github.com/switchboard-dev/switchboard/filter"
)

// The only calls into the core's configuration API; kept in one place so the
// adapter follows the core's signatures in a single file.

// loadEdge parses and unseals data and binds the attestation key.
func loadEdge(data, edgeKey, attestationKey []byte) (*filter.Edge, error) {
	edge, err := filter.Load(data, edgeKey)
	if err != nil {
		return nil, err
	}
	edge.SetAttestationKey(attestationKey)
	return edge, nil
}
