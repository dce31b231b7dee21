package xds

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	extensionservice "github.com/envoyproxy/go-control-plane/envoy/service/extension/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/store"
)

// Node groups (node metadata field "group"). Unknown or missing: stable.
const (
	GroupStable = "stable"
	GroupCanary = "canary"
)

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	Store     store.Store
	Keyring   Opener // opens store secrets (*secrets.Keyring)
	EdgeKey   []byte // SWITCHBOARD_EDGE_KEY: seals secrets in the edge config
	Resources ResourceOptions
	// PollInterval is how often Store.Generation is read (default 200ms).
	PollInterval time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
	// Registerer receives the xDS metrics (nil: not registered).
	Registerer prometheus.Registerer
	// TLS makes Serve require mTLS (pki.ServerTLS: client certificates
	// signed by the deployment's CA). A node's id and group then come from
	// its certificate's SAN URI (pki.NodeIdentity), never from the node id it
	// declares, and a stream may subscribe, ACK and NACK only as that node.
	// nil serves plaintext and trusts declared ids (switchboard serve
	// --insecure-xds only).
	TLS *tls.Config
}

// Rejection is one NACK: a node refused a configuration version.
type Rejection struct {
	At           time.Time `json:"at"`
	Node         string    `json:"node"`
	Group        string    `json:"group"`
	TypeURL      string    `json:"type_url"`
	Version      string    `json:"version"`       // the rejected version
	AckedVersion string    `json:"acked_version"` // what the node keeps running ("" = nothing yet)
	Error        string    `json:"error"`
}

// Controller turns store state into per-node snapshots and serves them over
// ADS. It polls Store.Generation, so replicas on one database converge; the
// snapshot version is a digest of the content, so replicas agree on it too.
type Controller struct {
	cfg   ControllerConfig
	cache cache.SnapshotCache // listeners, routes, clusters (and ECDS for Cache() readers)
	ecds  *ecdsCache          // serves ECDS: only changed resources per node
	log   *slog.Logger

	syncMu sync.Mutex // one Sync at a time

	// Caches across builds (see cache.go): opened secrets by id and
	// ciphertext, sealed values and fingerprints by secret and ingress id.
	buildMu sync.Mutex // one Build at a time (cache rounds)
	opened  *openCache
	sealer  *sealCache
	encoded *encodeCache
	shards  *shardCache
	// The previous build's translation and shards (memo.go): a build
	// re-translates and re-groups only what its changed inputs reach.
	memo        *translationMemo
	shardMemo   *shardMemo
	incremental int // builds made from the previous one (tests)

	mu          sync.Mutex
	builds      map[string]*build
	latest      string
	generation  int64
	built       bool
	nextExpiry  time.Time
	lastErr     string
	pins        map[string]string // group -> pinned version
	nodes       map[string]*nodeState
	streams     map[int64]string       // stream id -> node id
	idents      map[int64]pki.Identity // stream id -> certificate identity (TLS)
	rejections  []Rejection
	auditWG     sync.WaitGroup
	nacks       *prometheus.CounterVec
	buildsTotal prometheus.Counter
	buildErrors prometheus.Counter
	connected   prometheus.Gauge
}

type build struct {
	version       string
	generation    int64
	at            time.Time
	installations int
	// cfg is the configuration; an incremental build (memo.go) leaves
	// cfg.Installations nil and keeps them in chunks shared with the
	// previous build, flattened on first use by config.
	cfg      filter.Config
	chunks   *entryChunks
	flatOnce sync.Once
	snapshot *cache.Snapshot
	ecds     *ecdsSet
}

// config is the build's configuration with its entries.
func (b *build) config() filter.Config {
	b.flatOnce.Do(func() {
		if b.chunks != nil {
			b.cfg.Installations = b.chunks.flat()
			b.chunks = nil
		}
	})
	return b.cfg
}

type nodeState struct {
	id       string
	group    string
	streams  int
	served   string            // build version set in the cache for this node
	acked    string            // last build version the node ACKed
	rejected string            // build version the node NACKed
	sent     map[string]string // nonce -> build version (recent responses)
	nonces   []string
}

// NewController builds a controller; call Sync (or Run) before serving.
func NewController(cfg ControllerConfig) (*Controller, error) {
	if cfg.Store == nil || cfg.Keyring == nil {
		return nil, errors.New("xds controller: store and keyring are required")
	}
	if len(cfg.EdgeKey) != filter.EdgeKeySize {
		return nil, fmt.Errorf("xds controller: edge key must be %d bytes", filter.EdgeKeySize)
	}
	if cfg.Resources.IngestAddress == "" {
		return nil, errors.New("xds controller: ingest address is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{
		cfg:     cfg,
		cache:   cache.NewSnapshotCache(true, cache.IDHash{}, nil),
		ecds:    newECDSCache(),
		shards:  newShardCache(),
		log:     cfg.Logger.With("component", "xds"),
		builds:  map[string]*build{},
		pins:    map[string]string{},
		nodes:   map[string]*nodeState{},
		streams: map[int64]string{},
		idents:  map[int64]pki.Identity{},
		opened:  newOpenCache(cfg.Keyring),
		sealer:  newSealCache(cfg.EdgeKey),
		encoded: newEncodeCache(),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_xds_nacks_total", Help: "Configurations rejected (NACKed) by edge nodes.",
		}, []string{"group", "type"}),
		buildsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_xds_builds_total", Help: "Edge configurations built with a new version.",
		}),
		buildErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_xds_build_errors_total", Help: "Failed edge configuration builds (previous one kept).",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_xds_connected_nodes", Help: "Edge nodes with an open ADS stream.",
		}),
	}
	if cfg.Registerer != nil {
		var err error
		if c.nacks, err = register(cfg.Registerer, c.nacks); err != nil {
			return nil, err
		}
		if c.buildsTotal, err = register(cfg.Registerer, c.buildsTotal); err != nil {
			return nil, err
		}
		if c.buildErrors, err = register(cfg.Registerer, c.buildErrors); err != nil {
			return nil, err
		}
		if c.connected, err = register(cfg.Registerer, c.connected); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// register registers m, or returns the collector already registered under
// the same description (a second controller in one process shares it).
func register[T prometheus.Collector](r prometheus.Registerer, m T) (T, error) {
	if err := r.Register(m); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return m, fmt.Errorf("register xds metrics: %w", err)
	}
	return m, nil
}

// Cache is the snapshot cache (for tests and custom servers).
func (c *Controller) Cache() cache.SnapshotCache { return c.cache }

// Run polls the store and rebuilds until ctx ends. Build errors are logged
// and counted; the previous configuration stays in force.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("edge configuration build failed; previous configuration kept", "err", err)
		}
		select {
		case <-ctx.Done():
			c.auditWG.Wait()
			return nil
		case <-t.C:
		}
	}
}

// Sync rebuilds when the store generation changed or a secret's validity
// ended since the last build, and pushes the result to every node.
func (c *Controller) Sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	gen, err := c.cfg.Store.Generation(ctx)
	if err != nil {
		return c.failed(fmt.Errorf("read store generation: %w", err))
	}
	now := c.cfg.Now()
	c.mu.Lock()
	fresh := c.built && gen == c.generation && (c.nextExpiry.IsZero() || now.Before(c.nextExpiry))
	c.mu.Unlock()
	if fresh {
		return nil
	}
	c.opened.begin()
	st, err := LoadState(ctx, c.cfg.Store, c.opened)
	if err != nil {
		return c.failed(err)
	}
	c.opened.sweep()
	b, err := c.Build(st, now)
	if err != nil {
		return c.failed(err)
	}
	next, _ := NextExpiry(st, now)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation, c.built, c.nextExpiry, c.lastErr = st.Generation, true, next, ""
	if c.latest == b.version {
		return nil
	}
	if old := c.builds[b.version]; old != nil {
		b = old // same content as a build still in memory (e.g. a rollback of a change)
	} else {
		c.builds[b.version] = b
		c.ecds.remember(b.ecds)
		c.buildsTotal.Inc()
	}
	c.latest = b.version
	c.log.Info("edge configuration built", "version", b.version, "generation", st.Generation, "entries", b.installations)
	c.applyAllLocked()
	return nil
}

func (c *Controller) failed(err error) error {
	c.buildErrors.Inc()
	c.mu.Lock()
	c.lastErr = err.Error()
	c.mu.Unlock()
	return err
}

// Build translates a state into a snapshot build without publishing it.
// It refuses a configuration the filter core itself cannot load, so the
// control plane never hands out something every edge would NACK.
//
// Work of the previous build is reused (cache.go): secrets unchanged since
// then are not sealed or fingerprinted again, and unchanged entries are not
// encoded again; the caches keep only what the last successful build used.
// The load check always runs on the whole configuration (unsharded) or on
// every shard whose content changed (sharded).
//
// A build after a successful one starts from its translation (memo.go):
// only entries whose inputs changed are translated again, and only shards
// holding one are grouped, versioned, checked and marshalled again; a
// change the memo cannot follow (rows added or removed, a stage row, an
// entry appearing, disappearing or moving) translates the whole state.
func (c *Controller) Build(st *State, now time.Time) (*build, error) {
	c.buildMu.Lock()
	defer c.buildMu.Unlock()
	if c.sealer == nil {
		c.sealer = newSealCache(c.cfg.EdgeKey)
	}
	if c.encoded == nil {
		c.encoded = newEncodeCache()
	}
	if c.shards == nil {
		c.shards = newShardCache()
	}
	opts := c.cfg.Resources.withDefaults()
	k := opts.sharded()
	b, err := c.buildIncremental(st, now, opts, k)
	if err != nil || b != nil {
		if err != nil {
			c.dropMemo()
		}
		return b, err
	}
	c.dropMemo()
	c.sealer.begin()
	// EdgeConfigWith(st, now, c.sealer), with the encoding cached per entry.
	memo, entries, err := fullTranslation(st, now, c.sealer.Seal, c.sealer.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("translate state (generation %d): %w", st.Generation, err)
	}
	var ecfg filter.Config
	var set *ecdsSet
	var sm *shardMemo
	if k > 0 {
		// Sharded: only shards whose content changed are encoded, checked
		// and marshalled again (shardCache).
		parts, err := c.encoded.forms(entries)
		if err != nil {
			return nil, err
		}
		c.shards.begin()
		groups, versions := shardGroups(k, parts)
		if set, err = shardedSetOf(k, groups, versions, c.shards, opts, c.loads); err != nil {
			return nil, err
		}
		sm = &shardMemo{k: k, parts: parts, groups: groups, versions: versions}
		ecfg = filter.Config{Version: set.version, Installations: entries}
	} else {
		// One encoding serves both the load check and the ECDS resource, so
		// the check is on exactly the bytes the edges receive.
		var js []byte
		if ecfg, js, err = c.encoded.encode(entries); err != nil {
			return nil, err
		}
		if err := c.loads(js); err != nil {
			return nil, fmt.Errorf("edge configuration %s does not load: %w", ecfg.Version, err)
		}
		if set, err = wholeSet(ecfg.Version, js, len(entries), opts); err != nil {
			return nil, err
		}
	}
	snap, err := newSnapshot(ecfg, set, opts)
	if err != nil {
		return nil, err
	}
	c.sealer.sweep()
	c.encoded.sweep()
	if k > 0 {
		c.shards.sweep()
	}
	c.memo, c.shardMemo = memo, sm
	return &build{version: ecfg.Version, generation: st.Generation, at: now, installations: len(ecfg.Installations), cfg: ecfg, snapshot: snap, ecds: set}, nil
}

// loads is the check that the filter core loads js (what every edge does).
func (c *Controller) loads(js []byte) error {
	_, err := filter.Load(js, c.cfg.EdgeKey)
	return err
}

// NewSnapshot builds the resources of an edge configuration into a snapshot
// whose per-type versions are digests of each type's content (the ECDS
// version is the configuration version), so a rollback of the filter
// configuration does not re-send unchanged listeners.
//
// Sharded (opts.Shards > 1), the ECDS version is the sharded build's, not
// ecfg.Version.
func NewSnapshot(ecfg filter.Config, opts ResourceOptions) (*cache.Snapshot, error) {
	set, ecfg, err := buildECDS(ecfg, opts, nil)
	if err != nil {
		return nil, err
	}
	return newSnapshot(ecfg, set, opts)
}

// newSnapshot is NewSnapshot with the ECDS set already built.
func newSnapshot(ecfg filter.Config, set *ecdsSet, opts ResourceOptions) (*cache.Snapshot, error) {
	res, err := buildResources(ecfg, set, opts)
	if err != nil {
		return nil, err
	}
	snap := &cache.Snapshot{}
	for typ, items := range res {
		v := ecfg.Version
		if typ != resource.ExtensionConfigType {
			if v, err = digest(items); err != nil {
				return nil, err
			}
		}
		snap.Resources[cache.GetResponseType(typ)] = cache.NewResources(v, items)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", ecfg.Version, err)
	}
	return snap, nil
}

func digest(items []types.Resource) (string, error) {
	h := sha256.New()
	for _, it := range items {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(it)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return "r" + hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// LatestVersion is the newest built configuration version ("" before the first build).
func (c *Controller) LatestVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// SetGroupVersion pins a node group to a built version ("" follows the
// latest build again). Pin stable, let canary nodes take new builds, then
// promote stable with SetGroupVersion(GroupStable, "").
//
// A held group still gets every change that only refuses more (revocations,
// removals, secrets ended by rotation): it is served Restrict(pinned, latest).
// Pins are held in this replica's memory only: other replicas do not see
// them, and a restart drops them (the group follows the latest build again;
// see docs/envoy.md).
func (c *Controller) SetGroupVersion(group, version string) error {
	if group != GroupStable && group != GroupCanary {
		return fmt.Errorf("unknown node group %q (stable or canary)", group)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if version == "" {
		delete(c.pins, group)
	} else {
		if c.builds[version] == nil {
			return fmt.Errorf("version %q is not a built configuration", version)
		}
		c.pins[group] = version
	}
	c.applyAllLocked()
	return nil
}

// Hold pins a group at the version it is currently given.
func (c *Controller) Hold(group string) error {
	c.mu.Lock()
	v := c.targetLocked(group)
	c.mu.Unlock()
	if v == "" {
		return errors.New("nothing built yet")
	}
	return c.SetGroupVersion(group, v)
}

// Promote lets a group follow the latest build again.
func (c *Controller) Promote(group string) error { return c.SetGroupVersion(group, "") }

// GroupVersion is the version a group is given.
func (c *Controller) GroupVersion(group string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.targetLocked(group)
}

func (c *Controller) targetLocked(group string) string {
	pin := c.pins[group]
	if pin == "" || pin == c.latest {
		return c.latest
	}
	return c.restrictedLocked(pin)
}

// restrictedLocked is the version a group pinned at pin is served: the pinned
// build tightened by the latest one (see Restrict), built on first use. If it
// cannot be built the group gets the latest build: refusing more is the safe
// side of a failed hold.
func (c *Controller) restrictedLocked(pin string) string {
	held, latest := c.builds[pin], c.builds[c.latest]
	if held == nil || latest == nil {
		return c.latest
	}
	rcfg, err := Restrict(held.config(), latest.config())
	if err != nil {
		c.log.Error("restrict held configuration; serving the latest", "pinned", pin, "latest", c.latest, "err", err)
		return c.latest
	}
	if c.cfg.Resources.sharded() == 0 && c.builds[rcfg.Version] != nil {
		return rcfg.Version
	}
	set, rcfg, err := c.heldECDS(rcfg)
	if err != nil {
		c.log.Error("held configuration; serving the latest", "pinned", pin, "latest", c.latest, "err", err)
		return c.latest
	}
	if c.builds[rcfg.Version] != nil {
		return rcfg.Version
	}
	snap, err := newSnapshot(rcfg, set, c.cfg.Resources)
	if err != nil {
		c.log.Error("snapshot of held configuration; serving the latest", "pinned", pin, "latest", c.latest, "err", err)
		return c.latest
	}
	c.builds[rcfg.Version] = &build{version: rcfg.Version, generation: latest.generation, at: latest.at,
		installations: len(rcfg.Installations), cfg: rcfg, snapshot: snap, ecds: set}
	c.ecds.remember(set)
	return rcfg.Version
}

// heldECDS is the ECDS set of a restricted configuration. Sharded, shards
// equal to the latest build's are taken from the shard cache (a held group
// usually differs from the latest in a few shards); the others are built
// and checked to load.
func (c *Controller) heldECDS(rcfg filter.Config) (*ecdsSet, filter.Config, error) {
	opts := c.cfg.Resources.withDefaults()
	k := opts.sharded()
	if k == 0 {
		return buildECDS(rcfg, opts, c.cfg.EdgeKey)
	}
	c.buildMu.Lock()
	defer c.buildMu.Unlock()
	if c.shards == nil {
		c.shards = newShardCache()
	}
	parts, err := newEncodeCache().forms(rcfg.Installations)
	if err != nil {
		return nil, rcfg, err
	}
	set, err := shardedSet(k, parts, c.shards, opts, c.loads)
	if err != nil {
		return nil, rcfg, err
	}
	rcfg.Version = set.version
	return set, rcfg, nil
}

// applyAllLocked sets every node's snapshot to what it should be served and
// drops builds nothing refers to any more.
func (c *Controller) applyAllLocked() {
	for _, n := range c.nodes {
		c.applyNodeLocked(n)
	}
	keep := map[string]bool{c.latest: true}
	for g, v := range c.pins {
		keep[v], keep[c.targetLocked(g)] = true, true
	}
	for _, n := range c.nodes {
		keep[n.served], keep[n.acked] = true, true
		// A version sent but not yet ACKed may be what the node runs when it
		// NACKs the next one (its ACK can arrive after a rebuild): keep it,
		// or the rollback has nothing to roll back to.
		for _, v := range n.sent {
			keep[v] = true
		}
	}
	for v := range c.builds {
		if !keep[v] {
			delete(c.builds, v)
		}
	}
	c.ecds.retain(keep)
}

// applyNodeLocked serves a node its group's version, unless the node
// rejected exactly that version: then it keeps its last acknowledged one
// (or nothing, when it never acknowledged any) until a newer version exists.
func (c *Controller) applyNodeLocked(n *nodeState) {
	want := c.targetLocked(n.group)
	if want != "" && want == n.rejected {
		want = n.acked
	}
	if want == n.served {
		return
	}
	b := c.builds[want]
	if b == nil {
		if n.served != "" {
			c.cache.ClearSnapshot(n.id)
			c.ecds.setNode(n.id, nil)
			n.served = ""
		}
		return
	}
	if err := c.cache.SetSnapshot(context.Background(), n.id, b.snapshot); err != nil {
		c.log.Error("set snapshot", "node", n.id, "version", want, "err", err)
		return
	}
	c.ecds.setNode(n.id, b.ecds)
	n.served = want
}

// Callbacks are the go-control-plane server callbacks that register nodes,
// track ACKs and act on NACKs.
func (c *Controller) Callbacks() server.Callbacks {
	return server.CallbackFuncs{
		StreamOpenFunc:     c.onOpen,
		StreamRequestFunc:  c.onRequest,
		StreamResponseFunc: c.onResponse,
		StreamClosedFunc:   c.onClosed,
		DeltaStreamOpenFunc: func(context.Context, int64, string) error {
			return errors.New("delta xDS is not supported: use state-of-the-world ADS")
		},
	}
}

func nodeGroup(n *corev3.Node) string {
	if f := n.GetMetadata().GetFields()["group"]; f != nil && f.GetStringValue() == GroupCanary {
		return GroupCanary
	}
	return GroupStable
}

// onOpen records, with TLS, the node identity of the stream's verified
// client certificate; a stream without one is refused.
func (c *Controller) onOpen(ctx context.Context, streamID int64, _ string) error {
	if c.cfg.TLS == nil {
		return nil
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return status.Error(codes.Unauthenticated, "xDS requires mTLS")
	}
	ident, err := pki.PeerIdentity(&ti.State)
	if err != nil {
		return status.Error(codes.PermissionDenied, err.Error())
	}
	c.mu.Lock()
	c.idents[streamID] = ident
	c.mu.Unlock()
	return nil
}

// ErrNotItself is wrapped when a stream speaks for another node than the
// one its certificate names.
var ErrNotItself = errors.New("a node subscribes, ACKs and NACKs only as itself")

// onRequest runs on the stream's goroutine before the cache sees the
// request, so a rollback set here is what the cache answers the NACK with.
func (c *Controller) onRequest(streamID int64, req *discovery.DiscoveryRequest) error {
	id := req.GetNode().GetId()
	if id == "" {
		return errors.New("node id is required")
	}
	c.mu.Lock()
	group := nodeGroup(req.GetNode())
	if c.cfg.TLS != nil {
		ident, ok := c.idents[streamID]
		if !ok {
			c.mu.Unlock()
			return status.Error(codes.Unauthenticated, "xDS requires a client certificate")
		}
		if id != ident.Node {
			c.mu.Unlock()
			c.log.Warn("refused an xDS request for another node", "certificate_node", ident.Node, "declared_node", id)
			return status.Errorf(codes.PermissionDenied, "%v: the certificate names node %q, the request %q", ErrNotItself, ident.Node, id)
		}
		group = ident.Group
	}
	n := c.nodes[id]
	if _, known := c.streams[streamID]; !known {
		if n == nil {
			n = &nodeState{id: id, group: group, sent: map[string]string{}}
			c.nodes[id] = n
		}
		n.streams++
		c.streams[streamID] = id
		c.connected.Set(float64(len(c.nodes)))
	}
	var rej *Rejection
	switch {
	case req.GetErrorDetail() != nil:
		rejected := n.sent[req.GetResponseNonce()]
		if rejected == "" {
			rejected = n.served
		}
		if req.GetTypeUrl() == resource.ExtensionConfigType && req.GetVersionInfo() != "" && c.builds[req.GetVersionInfo()] != nil {
			n.acked = req.GetVersionInfo() // a NACK names the last version the node accepted
		}
		n.rejected = rejected
		msg := req.GetErrorDetail().GetMessage()
		if len(msg) > 1024 {
			msg = msg[:1024]
		}
		r := Rejection{At: c.cfg.Now().UTC(), Node: id, Group: n.group, TypeURL: req.GetTypeUrl(),
			Version: rejected, AckedVersion: n.acked, Error: msg}
		rej = &r
		c.rejections = append(c.rejections, r)
		if len(c.rejections) > 100 {
			c.rejections = c.rejections[len(c.rejections)-100:]
		}
		c.nacks.WithLabelValues(n.group, typeName(req.GetTypeUrl())).Inc()
	case req.GetResponseNonce() != "" && req.GetTypeUrl() == resource.ExtensionConfigType:
		if v := n.sent[req.GetResponseNonce()]; v != "" && v == req.GetVersionInfo() {
			n.acked = v
		}
	}
	c.applyNodeLocked(n)
	c.mu.Unlock()
	if rej != nil {
		c.log.Warn("edge node rejected a configuration; it keeps its last acknowledged one",
			"node", rej.Node, "group", rej.Group, "type", rej.TypeURL, "version", rej.Version, "acked", rej.AckedVersion, "error", rej.Error)
		c.audit(*rej)
	}
	return nil
}

func typeName(typeURL string) string {
	switch typeURL {
	case resource.ExtensionConfigType:
		return "ecds"
	case resource.ListenerType:
		return "lds"
	case resource.RouteType:
		return "rds"
	case resource.ClusterType:
		return "cds"
	}
	return "other"
}

func (c *Controller) onResponse(_ context.Context, streamID int64, req *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[c.streams[streamID]]
	if n == nil {
		return
	}
	// Remember which build a nonce carried (served is the build the cache
	// answered from: responses are produced under the cache's lock after
	// SetSnapshot, and each type's version belongs to exactly one build here).
	n.sent[resp.GetNonce()] = n.served
	if resp.GetTypeUrl() == resource.ExtensionConfigType {
		n.sent[resp.GetNonce()] = resp.GetVersionInfo()
	}
	n.nonces = append(n.nonces, resp.GetNonce())
	if len(n.nonces) > 32 {
		delete(n.sent, n.nonces[0])
		n.nonces = n.nonces[1:]
	}
}

func (c *Controller) onClosed(streamID int64, _ *corev3.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.streams[streamID]
	if !ok {
		return
	}
	delete(c.streams, streamID)
	delete(c.idents, streamID)
	if n := c.nodes[id]; n != nil {
		n.streams--
		if n.streams <= 0 {
			delete(c.nodes, id)
			c.cache.ClearSnapshot(id)
			c.ecds.setNode(id, nil)
		}
	}
	c.connected.Set(float64(len(c.nodes)))
}

// audit writes the xds.nack audit event without holding the stream.
func (c *Controller) audit(r Rejection) {
	detail, _ := json.Marshal(r)
	c.auditWG.Add(1)
	go func() {
		defer c.auditWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.cfg.Store.AppendAudit(ctx, store.AuditEvent{
			At: r.At, Actor: "system", Action: "xds.nack", Target: r.Node, Detail: string(detail),
		})
		if err != nil {
			c.log.Error("audit xds.nack", "node", r.Node, "err", err)
		}
	}()
}

// WaitAudit waits for pending audit writes (tests, shutdown).
func (c *Controller) WaitAudit() { c.auditWG.Wait() }

// Status is the control plane's view, served as /v1/xds/status.
type Status struct {
	LatestVersion string            `json:"latest_version"`
	Generation    int64             `json:"generation"`
	LastError     string            `json:"last_error,omitempty"`
	Groups        map[string]string `json:"groups"` // group -> version given
	Pinned        map[string]string `json:"pinned"`
	Nodes         []NodeStatus      `json:"nodes"`
	Rejections    []Rejection       `json:"rejections"`
}

// NodeStatus is one connected edge node.
type NodeStatus struct {
	ID       string `json:"id"`
	Group    string `json:"group"`
	Served   string `json:"served_version"`
	Acked    string `json:"acked_version"`
	Rejected string `json:"rejected_version,omitempty"`
}

// Status reports versions, nodes and recent rejections.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Status{
		LatestVersion: c.latest, Generation: c.generation, LastError: c.lastErr,
		Groups: map[string]string{GroupStable: c.targetLocked(GroupStable), GroupCanary: c.targetLocked(GroupCanary)},
		Pinned: map[string]string{}, Nodes: []NodeStatus{}, Rejections: append([]Rejection{}, c.rejections...),
	}
	for g, v := range c.pins {
		s.Pinned[g] = v
	}
	for _, n := range c.nodes {
		s.Nodes = append(s.Nodes, NodeStatus{ID: n.id, Group: n.group, Served: n.served, Acked: n.acked, Rejected: n.rejected})
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].ID < s.Nodes[j].ID })
	return s
}

// StatusHandler serves Status as JSON (mount behind platform-admin auth).
func (c *Controller) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, `{"error":"method_not_allowed"}`, http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Status())
	})
}

// Serve runs the xDS gRPC server (ADS plus the per-type services) on lis
// until ctx ends.
func (c *Controller) Serve(ctx context.Context, lis net.Listener) error {
	opts := []grpc.ServerOption{}
	if c.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(c.cfg.TLS)))
	}
	gs := grpc.NewServer(append(opts,
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	)...)
	srv := server.NewServer(ctx, c.xdsCache(), c.Callbacks())
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	extensionservice.RegisterExtensionConfigDiscoveryServiceServer(gs, srv)
	listenerservice.RegisterListenerDiscoveryServiceServer(gs, srv)
	routeservice.RegisterRouteDiscoveryServiceServer(gs, srv)
	clusterservice.RegisterClusterDiscoveryServiceServer(gs, srv)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			gs.Stop() // ADS streams never end by themselves: no graceful wait
		case <-done:
		}
	}()
	err := gs.Serve(lis)
	close(done)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// xdsCache serves ECDS from the per-resource ECDS cache and every other
// type from the snapshot cache.
func (c *Controller) xdsCache() cache.Cache {
	return &cache.MuxCache{
		Classify: func(r *cache.Request) string {
			if r.GetTypeUrl() == resource.ExtensionConfigType {
				return "ecds"
			}
			return "snapshot"
		},
		ClassifyDelta: func(*cache.DeltaRequest) string { return "snapshot" },
		Caches:        map[string]cache.Cache{"ecds": c.ecds, "snapshot": c.cache},
	}
}

// IngressOnNode is what one connected edge node runs for an ingress id: the
// configuration version it ACKed and whether that version carries the
// ingress (not revoked, with its verification secrets).
type IngressOnNode struct {
	Node         string `json:"node"`
	Group        string `json:"group"`
	AckedVersion string `json:"acked_version"`
	Present      bool   `json:"present"`
	Revoked      bool   `json:"revoked"`
	Secrets      int    `json:"secrets"`
}

// IngressOnNodes reports, per connected node (sorted by id), whether the
// configuration it ACKed holds ingressID.
func (c *Controller) IngressOnNodes(ingressID string) []IngressOnNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []IngressOnNode{}
	for _, n := range c.nodes {
		v := IngressOnNode{Node: n.id, Group: n.group, AckedVersion: n.acked}
		if b := c.builds[n.acked]; b != nil {
			for _, inst := range b.config().Installations {
				if inst.IngressID == ingressID {
					v.Present, v.Revoked, v.Secrets = true, inst.Revoked, len(inst.Secrets)
					break
				}
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}
