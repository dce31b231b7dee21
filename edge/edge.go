// Package edge is the native edge host: it subscribes over ADS to the same
// ECDS resource Envoy uses, loads it with the filter core, and serves
// /v1/hooks/... itself, reverse-proxying accepted requests to ingest.
package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/shed"
	"github.com/switchboard-dev/switchboard/xds"
)

// Config configures a Host.
type Config struct {
	ControlPlane   string   // host:port of the xDS (ADS) server
	NodeID         string   // unique per edge node
	Group          string   // xds.GroupStable (default) or xds.GroupCanary
	EdgeKey        []byte   // SWITCHBOARD_EDGE_KEY
	AttestationKey []byte   // SWITCHBOARD_ATTESTATION_KEY
	Ingest         *url.URL // where accepted requests go
	// TrustForwardedProto makes the edge take the scheme from
	// X-Forwarded-Proto (only behind a TLS-terminating proxy you run).
	TrustForwardedProto bool
	Logger              *slog.Logger
	Registerer          prometheus.Registerer // nil: a private registry (see Host.Metrics)
	Now                 func() time.Time
	// Transport to ingest (nil: NewTransport()); for the mTLS hop, one
	// whose TLS client certificate is the edge's node certificate.
	Transport http.RoundTripper
	// MaxInFlight is how many requests the edge works on at once; one more
	// is answered 503 with Retry-After before its body is read (package
	// shed). 0: DefaultMaxInFlight; < 0: no limit.
	MaxInFlight int
	// XDSTLS makes the xDS client use mTLS (pki.ClientTLS with the node
	// certificate): the control plane takes the node's id and group from
	// the certificate, so NodeID and Group must match it (empty: taken from
	// it). nil: plaintext (--insecure-xds only).
	XDSTLS *tls.Config

	// Refusal reports to ingest (see package rejection): the refusals that
	// concern a tenant, aggregated per window, for ingest's audit log.
	ReportURL      *url.URL      // nil: Ingest + filter.ReportPath
	ReportInterval time.Duration // window; 0: DefaultReportInterval
	ReportMaxKeys  int           // rows itemised per window; 0: filter.DefaultReportMaxKeys
	ReportQueue    int           // batches waiting to be sent; 0: DefaultReportQueue

	// Quarantine: an ingress id drawing more than Quarantine.Threshold
	// refusals in a minute is answered 429 (before its body is read) for
	// Quarantine.CoolDown (package quarantine; zero fields: its defaults).
	Quarantine quarantine.Policy
}

// DefaultMaxInFlight is the edge's default MaxInFlight.
const DefaultMaxInFlight = 1024

// MaxConnsToIngest bounds the connections NewTransport opens to one ingest
// (the edge's descriptors); idle ones up to the same number are kept for
// reuse.
const MaxConnsToIngest = 512

// NewTransport is the edge's transport to ingest: connections are kept and
// reused (http.DefaultTransport keeps 2 idle per host, so under load nearly
// every forward dialled anew and the process ran out of descriptors), at
// most MaxConnsToIngest of them; a forward waits for a free one.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxConnsToIngest
	t.MaxIdleConnsPerHost = MaxConnsToIngest
	t.MaxConnsPerHost = MaxConnsToIngest
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// Host is one native edge node.
type Host struct {
	inflight *shed.Limiter
	cfg      Config
	log      *slog.Logger
	current  atomic.Pointer[inForce]
	proxy    *httputil.ReverseProxy
	reg      *prometheus.Registry
	gather   prometheus.Gatherer

	requests *prometheus.CounterVec
	updates  *prometheus.CounterVec

	quar        *quarantine.Set
	quarantines *prometheus.CounterVec
	rep         *reporter

	mu       sync.Mutex
	acked    string            // last version loaded and ACKed
	raw      map[string][]byte // that configuration's JSON by ECDS resource (sealed secrets only), for GET /config
	pending  *filter.ShardSet  // shards of a new K being loaded, not yet in force
	pendRaw  map[string][]byte // their JSON
	rejected []string
	changed  chan struct{}
}

// inForce is the configuration requests are decided with: one whole
// configuration or K shards (filter.ShardSet), and its version.
type inForce struct {
	set     *filter.ShardSet
	version string
}

// New checks the configuration and builds a Host; Run starts the xDS client.
func New(cfg Config) (*Host, error) {
	if cfg.XDSTLS != nil {
		if len(cfg.XDSTLS.Certificates) == 0 || len(cfg.XDSTLS.Certificates[0].Certificate) == 0 {
			return nil, errors.New("edge: xDS over mTLS needs the node certificate")
		}
		leaf, err := x509.ParseCertificate(cfg.XDSTLS.Certificates[0].Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("edge: node certificate: %w", err)
		}
		id, err := pki.NodeIdentity(leaf)
		if err != nil {
			return nil, fmt.Errorf("edge: node certificate: %w", err)
		}
		if cfg.NodeID == "" {
			cfg.NodeID = id.Node
		}
		if cfg.Group == "" {
			cfg.Group = id.Group
		}
		if cfg.NodeID != id.Node || cfg.Group != id.Group {
			return nil, fmt.Errorf("edge: node %s (%s) does not match its certificate, which names node %s (%s)", cfg.NodeID, cfg.Group, id.Node, id.Group)
		}
	}
	if cfg.ControlPlane == "" || cfg.NodeID == "" || cfg.Ingest == nil {
		return nil, errors.New("edge: control plane address, node id and ingest URL are required")
	}
	if len(cfg.EdgeKey) != filter.EdgeKeySize {
		return nil, fmt.Errorf("edge: %s must be %d bytes", xds.EnvEdgeKey, filter.EdgeKeySize)
	}
	if len(cfg.AttestationKey) < 32 {
		return nil, fmt.Errorf("edge: %s must be at least 32 bytes", xds.EnvAttestationKey)
	}
	if cfg.Group == "" {
		cfg.Group = xds.GroupStable
	}
	if cfg.Group != xds.GroupStable && cfg.Group != xds.GroupCanary {
		return nil, fmt.Errorf("edge: unknown group %q (stable or canary)", cfg.Group)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Host{cfg: cfg, log: cfg.Logger.With("component", "edge", "node", cfg.NodeID), changed: make(chan struct{})}
	h.quar = quarantine.NewSet(cfg.Quarantine)
	h.quarantines = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_edge_quarantines_total",
		Help: "Quarantines started: an ingress id drew more refusals per minute than the threshold and is answered 429 for the cool-down, by provider.",
	}, []string{"provider"})
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_edge_requests_total",
		Help: "Webhook requests at the edge by provider, decision (accept, reject, respond) and reason.",
	}, []string{"provider", "decision", "reason"})
	h.updates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_edge_config_updates_total",
		Help: "Edge configurations received, by result (ack, nack).",
	}, []string{"result"})
	tr := cfg.Transport
	if tr == nil {
		tr = NewTransport()
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	h.inflight = shed.New(cfg.MaxInFlight)
	if cfg.ReportQueue <= 0 {
		cfg.ReportQueue = DefaultReportQueue
	}
	rep, err := newReporter(h, cfg, tr)
	if err != nil {
		return nil, err
	}
	h.rep = rep
	var r prometheus.Registerer = cfg.Registerer
	h.gather = prometheus.DefaultGatherer
	if r == nil {
		h.reg = prometheus.NewRegistry()
		r, h.gather = h.reg, h.reg
	} else if g, ok := r.(prometheus.Gatherer); ok {
		h.gather = g
	}
	for _, c := range []prometheus.Collector{h.requests, h.updates, h.quarantines, rep.dropped, rep.sent} {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("edge: register metrics: %w", err)
		}
	}
	h.proxy = &httputil.ReverseProxy{
		Rewrite:    h.rewrite,
		Transport:  tr,
		BufferPool: copyBuffers,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.log.Error("ingest unreachable", "err", err)
			writeJSON(w, http.StatusBadGateway, []byte(`{"error":"ingest_unavailable"}`))
		},
	}
	return h, nil
}

// copyBuffers are the reverse proxy's copy buffers: without a pool it
// allocates 32 KiB per forwarded request (a tenth of the edge's CPU went to
// allocating and collecting them under load).
var copyBuffers = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }

// Version is the configuration version in force ("" before the first).
func (h *Host) Version() string {
	if f := h.current.Load(); f != nil {
		return f.version
	}
	return ""
}

// Ready reports whether a configuration has been loaded (sharded: every
// shard).
func (h *Host) Ready() bool {
	f := h.current.Load()
	return f != nil && f.set.Complete()
}

// WaitVersion blocks until the version in force satisfies ok or ctx ends.
func (h *Host) WaitVersion(ctx context.Context, ok func(version string) bool) error {
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if ok(h.Version()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Rejected lists versions this node NACKed (most recent last).
func (h *Host) Rejected() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.rejected...)
}

// Run keeps an ADS stream to the control plane open, reconnecting with
// backoff, until ctx ends. The configuration in force stays in force while
// the control plane is unreachable. Beside it, the refusal reporter sends
// its batches to ingest; Run returns after the reporter's last flush.
func (h *Host) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { defer close(done); h.rep.run(ctx) }()
	defer func() { <-done }()
	return h.runXDS(ctx)
}

func (h *Host) runXDS(ctx context.Context) error {
	conn, err := grpc.NewClient(h.cfg.ControlPlane,
		grpc.WithTransportCredentials(h.xdsCreds()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		// Unsharded, the whole edge configuration is one ECDS resource: about
		// 330 bytes per installation (32 MB at 100,000), far above gRPC's
		// 4 MB default; so is the first response with every shard.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxConfigBytes)),
	)
	if err != nil {
		return fmt.Errorf("edge: xds client for %s: %w", h.cfg.ControlPlane, err)
	}
	defer conn.Close()
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		err := h.stream(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond // the stream was healthy for a while
		}
		h.log.Warn("xds stream ended; keeping the configuration in force", "version", h.Version(), "err", err, "retry_in", backoff)
		jitter := time.Duration(rand.Int64N(int64(backoff)/2 + 1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff + jitter):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *Host) node() *corev3.Node {
	md, _ := structpb.NewStruct(map[string]any{"group": h.cfg.Group, "host": "switchboard-edge"})
	return &corev3.Node{Id: h.cfg.NodeID, Cluster: "switchboard-edge", Metadata: md, UserAgentName: "switchboard-edge"}
}

// stream runs one ADS stream: a named ECDS subscription, ACK on a
// configuration the core loads, NACK (with the error) on one it refuses.
func (h *Host) stream(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	version := h.acked
	names := h.resourceNamesLocked()
	h.mu.Unlock()
	req := &discovery.DiscoveryRequest{
		Node:          h.node(),
		TypeUrl:       resource.ExtensionConfigType,
		ResourceNames: names,
		VersionInfo:   version, // what we run, so an unchanged configuration is not re-sent
	}
	if err := st.Send(req); err != nil {
		return err
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return err
		}
		if resp.GetTypeUrl() != resource.ExtensionConfigType {
			continue
		}
		next := &discovery.DiscoveryRequest{TypeUrl: resource.ExtensionConfigType, ResponseNonce: resp.GetNonce()}
		err = h.apply(resp)
		h.mu.Lock()
		// The manifest names K: from then on the stream asks for every shard.
		next.ResourceNames = h.resourceNamesLocked()
		h.mu.Unlock()
		if err != nil {
			h.updates.WithLabelValues("nack").Inc()
			h.log.Error("configuration rejected (NACK); previous one stays in force",
				"version", resp.GetVersionInfo(), "in_force", h.Version(), "err", err)
			h.mu.Lock()
			h.rejected = append(h.rejected, resp.GetVersionInfo())
			if len(h.rejected) > 16 {
				h.rejected = h.rejected[1:]
			}
			next.VersionInfo = h.acked
			h.mu.Unlock()
			next.ErrorDetail = &statuspb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
		} else {
			h.updates.WithLabelValues("ack").Inc()
			next.VersionInfo = resp.GetVersionInfo()
		}
		if err := st.Send(next); err != nil {
			return err
		}
	}
}

// resourceNamesLocked is what the stream subscribes to: the verifier's
// resource (the whole configuration or the manifest) and, once a manifest
// named K, every shard of K.
func (h *Host) resourceNamesLocked() []string {
	k := h.pending.Shards()
	if k == 0 {
		if f := h.current.Load(); f != nil {
			k = f.set.Shards()
		}
	}
	return append([]string{xds.FilterName}, xds.ShardNames(k)...)
}

// apply loads the ECDS resources of resp (all of them, or none: a resource
// that does not load refuses the whole response, which is NACKed) and swaps
// the result in. A whole configuration replaces what is in force. A
// manifest of a new K starts a set of K shards that comes into force once
// every shard is loaded (until then the previous configuration stays; with
// none, requests are refused no_config). Shards of the K in force apply at
// once; a request whose shard is not loaded is refused shard_not_loaded.
func (h *Host) apply(resp *discovery.DiscoveryResponse) error {
	confs, err := xds.ConfigsFromResponse(resp)
	if err != nil {
		return err
	}
	if len(confs) == 0 {
		return errors.New("load edge configuration: the ECDS response holds no resource")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.current.Load()
	var set *filter.ShardSet // the set being changed: pending, or the one in force
	switch {
	case h.pending != nil:
		set = h.pending
	case cur != nil && cur.set.Shards() > 0:
		set = cur.set
	}
	prior := set
	var whole *filter.Edge
	loaded := 0
	if js, ok := confs[xds.FilterName]; ok {
		e, err := filter.Load(js, h.cfg.EdgeKey)
		if err != nil {
			return fmt.Errorf("load edge configuration: %w", err)
		}
		_, k, manifest := e.Sharding()
		switch {
		case manifest && set.Shards() != k:
			set = filter.NewShardSet(k) // a new K: nothing of another K carries over
		case !manifest && k != 0:
			return fmt.Errorf("load edge configuration: %s holds a shard, not a manifest or a whole configuration", xds.FilterName)
		case !manifest:
			e.SetAttestationKey(h.cfg.AttestationKey)
			whole, set = e, nil
		}
		loaded += e.Len()
	}
	// raw: the JSON of every resource of the set being changed.
	raw := map[string][]byte{}
	if set != nil && set == prior {
		from := h.raw
		if h.pending == set {
			from = h.pendRaw
		}
		for name, js := range from {
			raw[name] = js
		}
	}
	for name, js := range confs {
		if name == xds.FilterName {
			raw[name] = js
			continue
		}
		k, j, _ := xds.ParseShardName(name) // ConfigsFromResponse accepted only shard names
		if set == nil || k != set.Shards() {
			return fmt.Errorf("load edge configuration: %s is not a shard of the configuration in force", name)
		}
		e, err := filter.Load(js, h.cfg.EdgeKey)
		if err != nil {
			return fmt.Errorf("load edge configuration %s: %w", name, err)
		}
		if ej, ek, manifest := e.Sharding(); manifest || ek != k || ej != j {
			return fmt.Errorf("load edge configuration: %s holds shard %d of %d", name, ej, ek)
		}
		e.SetAttestationKey(h.cfg.AttestationKey)
		if set, err = set.With(e); err != nil {
			return fmt.Errorf("load edge configuration %s: %w", name, err)
		}
		raw[name] = js
		loaded += e.Len()
	}
	next := &inForce{version: resp.GetVersionInfo()}
	switch {
	case whole != nil:
		next.set = filter.WholeSet(whole)
	case set.Complete() || cur == nil || cur.set.Shards() == set.Shards():
		// Every shard of a new K is here, shards of the K in force changed,
		// or nothing was in force: requests whose shard is not loaded yet
		// are refused shard_not_loaded, the others decided.
		next.set = set
	default:
		// A new K not complete yet: keep loading; what is in force stays
		// (the stream ACKs, so the control plane sends the other shards).
		h.pending, h.pendRaw = set, raw
		h.log.Info("configuration shards loading", "version", resp.GetVersionInfo(), "loaded", set.Loaded(), "shards", set.Shards())
		return nil
	}
	h.pending, h.pendRaw = nil, nil
	h.current.Store(next)
	h.acked = resp.GetVersionInfo()
	h.raw = raw
	close(h.changed)
	h.changed = make(chan struct{})
	h.log.Info("configuration in force", "version", resp.GetVersionInfo(), "entries", next.set.Len(), "shards", next.set.Shards(), "loaded_now", loaded)
	return nil
}

// maxConfigBytes bounds an xDS message the edge accepts.
const maxConfigBytes = 512 << 20

type decisionKey struct{}

// ServeHTTP verifies one webhook request with the configuration in force.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.inflight.Acquire(w) {
		h.requests.WithLabelValues("unknown", "shed", "overloaded").Inc()
		return
	}
	defer h.inflight.Release()
	f := h.current.Load()
	if f == nil {
		h.count("unknown", filter.Reject(filter.ReasonNoConfig))
		h.reply(w, filter.Reject(filter.ReasonNoConfig))
		return
	}
	target := r.URL.RequestURI()
	// The shard holding the path's ingress id decides; a request whose
	// shard is not loaded is refused (shard_not_loaded), never passed.
	e, d := f.set.Resolve(target)
	if d != nil {
		h.count("unknown", *d)
		h.reply(w, *d)
		return
	}
	route, d := e.Lookup(r.Method, target)
	if d != nil {
		h.count(providerOf(route, *d), *d)
		h.reply(w, *d)
		return
	}
	// A quarantined ingress id (a forged flood) is answered before its body
	// is read or any signature computed.
	if h.quar.Arrive(route.Identity.IngressID, h.cfg.Now().Unix()) {
		d := filter.RejectFor(filter.ReasonQuarantined, route.Identity)
		h.requests.WithLabelValues(providerOf(route, d), "reject", string(filter.ReasonQuarantined)).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(h.quar.CoolDown()/time.Second)))
		h.reply(w, d)
		return
	}
	limit := route.MaxBodyBytes
	if limit <= 0 {
		limit = filter.DefaultMaxBodyBytes
	}
	if r.ContentLength > int64(limit) {
		h.tooLarge(w, route)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		d := filter.RejectFor(filter.ReasonMalformedRequest, route.Identity)
		h.count(route.Installation.Provider, d)
		h.reply(w, d)
		return
	}
	if len(body) > limit {
		h.tooLarge(w, route)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if h.cfg.TrustForwardedProto {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
	}
	req := &filter.Request{Method: r.Method, Scheme: scheme, Host: r.Host, Path: target, Body: body}
	for name, vals := range r.Header {
		for _, v := range vals {
			req.Headers = append(req.Headers, [2]string{name, v})
		}
	}
	dec := e.Decide(req, h.cfg.Now().Unix())
	h.count(route.Installation.Provider, dec)
	if !dec.Accept && !dec.Respond {
		h.refused(route)
	}
	if !dec.Accept {
		h.reply(w, dec)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), decisionKey{}, &accepted{dec: dec, body: body}))
	h.proxy.ServeHTTP(w, r)
}

type accepted struct {
	dec  filter.Decision
	body []byte
}

// refused feeds the quarantine with a refusal for route's ingress id.
func (h *Host) refused(route filter.Route) {
	now := h.cfg.Now().Unix()
	started, until := h.quar.Refuse(route.Identity.IngressID, now)
	if !started {
		return
	}
	p := providerOf(route, filter.Decision{})
	h.quarantines.WithLabelValues(p).Inc()
	// Reported once per quarantine with its end (ingest audits
	// ingress.quarantined for the tenant), not once per request answered 429.
	h.rep.noteQuarantine(route.Identity, now, until)
	id := route.Identity
	h.log.Warn("ingress quarantined: too many refused requests", "ingress", id.IngressID, "provider", p,
		"org", id.Org, "installation", id.Installation, "profile", id.Profile, "cool_down", h.quar.CoolDown())
}

// Quarantined lists the ingress ids in quarantine now.
func (h *Host) Quarantined() []string { return h.quar.Quarantined(h.cfg.Now().Unix()) }

func (h *Host) tooLarge(w http.ResponseWriter, route filter.Route) {
	d := filter.RejectFor(filter.ReasonBodyTooLarge, route.Identity)
	h.count(route.Installation.Provider, d)
	h.reply(w, d)
}

// rewrite forwards an accepted request: inbound x-switchboard-* headers and
// provider credential headers (filter.DropOnForward: the Telegram secret
// token, Authorization, signatures) are dropped, the decision's identity and
// attestation headers added, and the body replaced by the verified bytes.
func (h *Host) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(decisionKey{}).(*accepted)
	for name := range pr.Out.Header {
		if filter.DropOnForward(name) {
			pr.Out.Header.Del(name)
		}
	}
	for _, kv := range a.dec.Headers {
		pr.Out.Header.Add(kv[0], kv[1])
	}
	pr.Out.Body = io.NopCloser(bytes.NewReader(a.body))
	pr.Out.ContentLength = int64(len(a.body))
	pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(a.body)), nil }
	pr.Out.Header.Del("Transfer-Encoding")
	// The body is already read and verified: an Expect would only make ingest
	// send a 100 Continue the proxy relays as a second one to the client.
	pr.Out.Header.Del("Expect")
	pr.SetURL(h.cfg.Ingest)
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
}

func providerOf(route filter.Route, d filter.Decision) string {
	if d.Identity.Provider != "" {
		return d.Identity.Provider
	}
	if route.Installation != nil {
		return route.Installation.Provider
	}
	return "unknown" // never a label from the path: unbounded cardinality
}

func (h *Host) count(provider string, d filter.Decision) {
	decision := "reject"
	switch {
	case d.Accept:
		decision = "accept"
	case d.Respond:
		decision = "respond"
	}
	h.requests.WithLabelValues(provider, decision, string(d.Reason)).Inc()
	if decision == "reject" {
		h.rep.note(d)
	}
}

func (h *Host) reply(w http.ResponseWriter, d filter.Decision) {
	ct := d.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	_, _ = w.Write(d.Body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// AdminHandler serves /metrics, /ready and /config (bind it to loopback).
func (h *Host) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	// The configuration in force, as `switchboard verify --config` reads it:
	// the operator's answer to "why was my webhook refused?". Its secrets are
	// sealed under the edge key, as in any xDS snapshot or config dump.
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		raw, version := h.raw, h.acked
		h.mu.Unlock()
		if raw == nil {
			writeJSON(w, http.StatusServiceUnavailable, []byte(`{"error":"no_config"}`))
			return
		}
		js, err := wholeJSON(raw, version)
		if err != nil {
			h.log.Error("GET /config", "err", err)
			writeJSON(w, http.StatusInternalServerError, []byte(`{"error":"config_unreadable"}`))
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, js)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !h.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, []byte(`{"ready":false}`))
			return
		}
		writeJSON(w, http.StatusOK, fmt.Appendf(nil, `{"ready":true,"version":%q}`, h.Version()))
	})
	return mux
}

// wholeJSON is the configuration in force as one whole configuration (what
// `switchboard verify --config` reads): the whole resource as received, or
// every loaded shard's installations under the build's version.
func wholeJSON(raw map[string][]byte, version string) ([]byte, error) {
	if js, ok := raw[xds.FilterName]; ok && len(raw) == 1 {
		if cfg, err := filter.ParseConfig(js); err == nil && cfg.Shards == 0 {
			return js, nil
		}
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		if name != xds.FilterName {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	whole := filter.Config{Version: version, Installations: []filter.Installation{}}
	for _, name := range names {
		cfg, err := filter.ParseConfig(raw[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		whole.Installations = append(whole.Installations, cfg.Installations...)
	}
	sort.Slice(whole.Installations, func(i, j int) bool { return whole.Installations[i].IngressID < whole.Installations[j].IngressID })
	return json.Marshal(whole)
}

func (h *Host) xdsCreds() credentials.TransportCredentials {
	if h.cfg.XDSTLS != nil {
		return credentials.NewTLS(h.cfg.XDSTLS)
	}
	return insecure.NewCredentials()
}

// NodeID is the node's xDS id (from its certificate with mTLS).
func (h *Host) NodeID() string { return h.cfg.NodeID }

// Group is the node's group (from its certificate with mTLS).
func (h *Host) Group() string { return h.cfg.Group }
