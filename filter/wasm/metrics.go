package main

import "github.com/switchboard-dev/switchboard/filter"

// Metric names. Envoy prefixes Wasm metrics with "wasmcustom."; the dotted
// segments follow Envoy's own stat naming so that stats_tags regexes in the
// bootstrap can turn them into Prometheus labels (docs/wasm.md):
//
//	switchboard_edge.accepted.provider.<provider>
//	switchboard_edge.responded.provider.<provider>        (edge-answered handshakes)
//	switchboard_edge.rejected.provider.<provider>.reason.<reason>
//	switchboard_edge.quarantines.provider.<provider>          (quarantines started: quarantine.go)
//	switchboard_edge.reports.result.<sent|failed|queue_full>  (refusal report batches)
//	switchboard_edge.reports_dropped                          (refusals in dropped batches)
//
// <provider> is the configured provider of the matched installation, or
// "none" when no installation matched (unknown ingress, no configuration):
// the provider segment of the path is attacker-chosen and never used.
const metricPrefix = "switchboard_edge."

func metricAccepted(provider string) string {
	return metricPrefix + "accepted.provider." + label(provider)
}

func metricResponded(provider string) string {
	return metricPrefix + "responded.provider." + label(provider)
}

func metricRejected(provider string, reason filter.Reason) string {
	return metricPrefix + "rejected.provider." + label(provider) + ".reason." + label(string(reason))
}

// label keeps [a-z0-9_] so a value can never add a segment or a tag.
func label(s string) string {
	if s == "" {
		return "none"
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+('a'-'A'))
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// metricReportsDropped counts the refusals of report batches that did not
// reach ingest's audit log (the native edge's
// switchboard_edge_reports_dropped_total).
const metricReportsDropped = metricPrefix + "reports_dropped"

// metricReports counts report batches by result: sent, failed, queue_full
// (the native edge's switchboard_edge_reports_total{result}).
func metricReports(result string) string {
	return metricPrefix + "reports.result." + result
}
