// Package xdstest has test fixtures for the control plane: a store seeded
// through its real backend with sealed secrets, and a raw ADS client that
// subscribes to the ECDS resource by name the way Envoy does.
package xdstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/postgres"
	"github.com/switchboard-dev/switchboard/store/sqlite"
	"github.com/switchboard-dev/switchboard/xds"
)

// Key returns 32 random bytes.
func Key() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// IngressID returns a fresh ingress id.
func IngressID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID returns a fresh id with prefix.
func ID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Env is a store with a keyring: a SQLite file in a temp dir (NewEnv) or a
// fresh database on the test's PostgreSQL server (NewPostgresEnv).
type Env struct {
	Path    string // SQLite file ("" on PostgreSQL)
	Store   store.Store
	Keyring *secrets.Keyring
	// Reopen opens another handle on the same database, as a second
	// control-plane replica would.
	Reopen func(t testing.TB) store.Store
}

func testKeyring(t testing.TB) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(Key()))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// NewEnv opens a fresh SQLite store.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "switchboard.db")
	st := OpenStore(t, path)
	AllOn(t, st)
	return &Env{Path: path, Store: st, Keyring: testKeyring(t),
		Reopen: func(t testing.TB) store.Store { return OpenStore(t, path) }}
}

// NewPostgresEnv opens a store on a fresh database of the test binary's
// PostgreSQL server (servicetest.StartPostgres: skipped outside CI when
// PostgreSQL is not installed).
func NewPostgresEnv(t testing.TB) *Env {
	t.Helper()
	pg := servicetest.StartPostgres(t)
	open := func(t testing.TB) store.Store {
		t.Helper()
		st, err := postgres.Open(context.Background(), pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open(t)
	AllOn(t, st)
	return &Env{Store: st, Keyring: testKeyring(t), Reopen: open}
}

// AllOn sets every provider's rollout stage to on (stages are explicit: a
// provider without one is not served).
func AllOn(t testing.TB, st store.Store) {
	t.Helper()
	for p := range filter.ProviderSchemes {
		if err := st.SetStage(context.Background(), store.RolloutStage{Provider: p, Stage: store.StageOn, UpdatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
}

// OpenStore opens (another handle on) a SQLite store file.
func OpenStore(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Touch bumps the store generation like every API mutation does.
func (e *Env) Touch(t testing.TB, action, target string) {
	t.Helper()
	if _, err := e.Store.AppendAudit(context.Background(), store.AuditEvent{At: time.Now(), Actor: "test", Action: action, Target: target, Detail: "{}"}); err != nil {
		t.Fatal(err)
	}
}

// Org creates an organisation.
func (e *Env) Org(t testing.TB) string {
	t.Helper()
	id := ID("org")
	if err := e.Store.CreateOrg(context.Background(), store.Org{ID: id, Name: id, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	e.Touch(t, "org.create", id)
	return id
}

// Installation creates an org profile for provider and an installation of
// it; the signing secret (or the purpose's secret) is kept on the installation.
func (e *Env) Installation(t testing.TB, orgID, provider, purpose string, secret []byte) store.Installation {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	p := store.AppProfile{ID: ID("prof"), OwnerOrgID: orgID, Provider: provider, Name: "p", CreatedAt: now}
	if err := e.Store.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	in := store.Installation{ID: ID("inst"), OrgID: orgID, ProfileID: p.ID, Provider: provider,
		ExternalID: ID("ext"), IngressID: IngressID(), CreatedAt: now}
	if err := e.Store.CreateInstallation(ctx, in); err != nil {
		t.Fatal(err)
	}
	e.Secret(t, store.OwnerInstallation, in.ID, purpose, secret, nil)
	e.Touch(t, "installation.create", in.ID)
	return in
}

// Secret stores a sealed secret.
func (e *Env) Secret(t testing.TB, kind, owner, purpose string, plaintext []byte, notAfter *time.Time) string {
	t.Helper()
	id := ID("sec")
	keyID, ct, err := e.Keyring.Seal(plaintext, id)
	if err != nil {
		t.Fatal(err)
	}
	s := store.Secret{ID: id, OwnerKind: kind, OwnerID: owner, Purpose: purpose, KeyID: keyID, Ciphertext: ct,
		Fingerprint: e.Keyring.Fingerprint(plaintext), NotBefore: time.Now().UTC().Add(-time.Minute), NotAfter: notAfter, CreatedAt: time.Now().UTC()}
	if err := e.Store.CreateSecret(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return id
}

// Revoke revokes an installation.
func (e *Env) Revoke(t testing.TB, instID string) {
	t.Helper()
	if err := e.Store.RevokeInstallation(context.Background(), instID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	e.Touch(t, "installation.revoke", instID)
}

// Rotate keeps the current secrets of purpose valid until notAfter and adds a new one.
func (e *Env) Rotate(t testing.TB, instID, purpose string, secret []byte, notAfter time.Time) string {
	t.Helper()
	if err := e.Store.ExpireSecrets(context.Background(), store.OwnerInstallation, instID, purpose, notAfter); err != nil {
		t.Fatal(err)
	}
	id := e.Secret(t, store.OwnerInstallation, instID, purpose, secret, nil)
	e.Touch(t, "secret.rotate", instID)
	return id
}

// ADS is a raw ADS client subscribed to the ECDS resource by name.
type ADS struct {
	t      testing.TB
	conn   *grpc.ClientConn
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
	msgs   chan *discovery.DiscoveryResponse
	errs   chan error
	names  []string // ECDS resources asked for (nil: xds.FilterName)
}

// DialADS opens an ADS stream as node id in group and sends the initial
// named ECDS request.
func DialADS(t testing.TB, addr, id, group string) *ADS {
	t.Helper()
	return DialADSWith(t, addr, id, group, insecure.NewCredentials())
}

// DialADSWith is DialADS over the given transport credentials (mTLS:
// credentials.NewTLS(pki.ClientTLS(...))).
func DialADSWith(t testing.TB, addr, id, group string, creds credentials.TransportCredentials) *ADS {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	md, _ := structpb.NewStruct(map[string]any{"group": group})
	a := &ADS{t: t, conn: conn, stream: stream, node: &corev3.Node{Id: id, Cluster: "edge", Metadata: md},
		msgs: make(chan *discovery.DiscoveryResponse, 16), errs: make(chan error, 1)}
	t.Cleanup(func() { cancel(); conn.Close() })
	if err != nil { // refused before the stream opened (e.g. TLS): Err reports it
		a.errs <- err
		return a
	}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				a.errs <- err
				return
			}
			a.msgs <- m
		}
	}()
	if err := a.SendAs(id, "", "", ""); err != nil {
		select { // the stream failed (e.g. refused TLS): Err reports it
		case a.errs <- err:
		default:
		}
	}
	return a
}

// Subscribe changes the ECDS resources the stream asks for (by default
// only xds.FilterName) and sends the request.
func (a *ADS) Subscribe(names []string, version, nonce string) {
	a.t.Helper()
	a.names = append([]string(nil), names...)
	a.Send(version, nonce, "")
}

func (a *ADS) resourceNames() []string {
	if a.names == nil {
		return []string{xds.FilterName}
	}
	return a.names
}

// Send sends a DiscoveryRequest for the ECDS resources; a non-empty nack makes it a NACK.
func (a *ADS) Send(version, nonce, nack string) {
	a.t.Helper()
	req := &discovery.DiscoveryRequest{Node: a.node, TypeUrl: resource.ExtensionConfigType,
		ResourceNames: a.resourceNames(), VersionInfo: version, ResponseNonce: nonce}
	if nack != "" {
		req.ErrorDetail = &statuspb.Status{Code: 3, Message: nack}
	}
	if err := a.stream.Send(req); err != nil {
		a.t.Fatal(err)
	}
}

// Recv waits for the next response.
func (a *ADS) Recv(timeout time.Duration) *discovery.DiscoveryResponse {
	a.t.Helper()
	select {
	case m := <-a.msgs:
		return m
	case err := <-a.errs:
		a.t.Fatalf("ADS stream: %v", err)
	case <-time.After(timeout):
		a.t.Fatalf("no ADS response within %v", timeout)
	}
	return nil
}

// Err waits for the stream to fail and returns its error (nil: it did not
// fail within timeout).
func (a *ADS) Err(timeout time.Duration) error {
	for {
		select {
		case <-a.msgs:
		case err := <-a.errs:
			return err
		case <-time.After(timeout):
			return nil
		}
	}
}

// SendAs sends a request (a NACK when nack is set) naming another node id.
func (a *ADS) SendAs(node, version, nonce, nack string) error {
	req := &discovery.DiscoveryRequest{Node: &corev3.Node{Id: node, Cluster: "edge", Metadata: a.node.Metadata}, TypeUrl: resource.ExtensionConfigType,
		ResourceNames: a.resourceNames(), VersionInfo: version, ResponseNonce: nonce}
	if nack != "" {
		req.ErrorDetail = &statuspb.Status{Code: 3, Message: nack}
	}
	return a.stream.Send(req)
}

// Contains reports whether the config JSON of a resource of resp (the
// whole configuration, the manifest or a shard) mentions s.
func Contains(resp *discovery.DiscoveryResponse, s string) bool {
	confs, err := xds.ConfigsFromResponse(resp)
	if err != nil {
		return false
	}
	for _, js := range confs {
		if bytes.Contains(js, []byte(s)) {
			return true
		}
	}
	return false
}
