package envoy

import (
	"bytes"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/switchboard-dev/switchboard/xds"
)

func TestBootstrapDecodesStrictlyAndValidates(t *testing.T) {
	var b bootstrapv3.Bootstrap
	if err := xds.FromYAML(Bootstrap, &b); err != nil {
		t.Fatal(err)
	}
	if err := xds.DeepValidate(&b); err != nil {
		t.Fatal(err)
	}
	if err := xds.StrictRoundTrip(&b); err != nil {
		t.Fatal(err)
	}
	// Admin on loopback only.
	if a := b.GetAdmin().GetAddress().GetSocketAddress().GetAddress(); a != "127.0.0.1" && a != "::1" {
		t.Fatalf("admin listens on %q, want loopback", a)
	}
	// Everything dynamic comes from ADS, over the static xds cluster.
	ads := b.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_GRPC || ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "switchboard-xds" {
		t.Fatalf("ads config %v", ads)
	}
	for name, src := range map[string]*corev3.ConfigSource{"lds": b.GetDynamicResources().GetLdsConfig(), "cds": b.GetDynamicResources().GetCdsConfig()} {
		if src.GetAds() == nil {
			t.Errorf("%s not from ADS", name)
		}
	}
	if len(b.GetStaticResources().GetListeners()) != 0 {
		t.Error("static listeners bypass the control plane's fail-closed listener")
	}
	if got := b.GetNode().GetMetadata().GetFields()["group"].GetStringValue(); got != xds.GroupStable {
		t.Errorf("node group %q", got)
	}
	// xDS over mTLS: the xds cluster has a TLS transport socket with the
	// node's certificate and key and the private CA as the only trust.
	var xdsCluster *clusterv3.Cluster
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == "switchboard-xds" {
			xdsCluster = c
		}
	}
	ts := xdsCluster.GetTransportSocket()
	if ts == nil || ts.GetName() != "envoy.transport_sockets.tls" {
		t.Fatalf("xds cluster without a TLS transport socket: %v", ts)
	}
	var up tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&up); err != nil {
		t.Fatalf("transport socket is not an UpstreamTlsContext: %v", err)
	}
	ctc := up.GetCommonTlsContext()
	if len(ctc.GetTlsCertificates()) != 1 || ctc.GetTlsCertificates()[0].GetCertificateChain().GetFilename() == "" ||
		ctc.GetTlsCertificates()[0].GetPrivateKey().GetFilename() == "" {
		t.Errorf("no client certificate for mTLS: %v", ctc.GetTlsCertificates())
	}
	if ctc.GetValidationContext().GetTrustedCa().GetFilename() == "" {
		t.Errorf("the control plane's certificate is not verified against the private CA")
	}
	if ctc.GetTlsParams().GetTlsMinimumProtocolVersion() != tlsv3.TlsParameters_TLSv1_3 {
		t.Errorf("TLS minimum %v", ctc.GetTlsParams().GetTlsMinimumProtocolVersion())
	}
	// Keys come from the environment, never from this file.
	for _, forbidden := range []string{"key_values", "inline_bytes", "inline_string"} {
		if bytes.Contains(Bootstrap, []byte(forbidden)) {
			t.Errorf("bootstrap contains %s", forbidden)
		}
	}
}

// The strict decoder is what makes the test above meaningful: typos,
// bad enums and malformed durations are refused.
func TestBootstrapStrictDecodeCatchesMistakes(t *testing.T) {
	for name, mutate := range map[string][2]string{
		"unknown field": {"connect_timeout: 2s", "connect_timeot: 2s"},
		"bad enum":      {"type: STRICT_DNS", "type: STRICT_DNZ"},
		"bad duration":  {"connect_timeout: 2s", "connect_timeout: 2"},
		"nested Any":    {"explicit_http_config:", "explicit_http_confg:"},
	} {
		bad := strings.Replace(string(Bootstrap), mutate[0], mutate[1], 1)
		if bad == string(Bootstrap) {
			t.Fatalf("%s: mutation did not apply", name)
		}
		var b bootstrapv3.Bootstrap
		if err := xds.FromYAML([]byte(bad), &b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A value PGV rejects (port out of range) passes decoding but not validation.
	bad := strings.Replace(string(Bootstrap), "port_value: 18000", "port_value: 70000", 1)
	if bad == string(Bootstrap) {
		t.Fatal("port mutation did not apply")
	}
	var b bootstrapv3.Bootstrap
	if err := xds.FromYAML([]byte(bad), &b); err != nil {
		t.Fatalf("port 70000 should decode (uint32) and fail only validation: %v", err)
	}
	if err := xds.DeepValidate(&b); err == nil {
		t.Error("port 70000 validated")
	}
}
