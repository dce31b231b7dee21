package worker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provenance"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

const (
	agentSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	botToken    = "xoxb-installation-token"
	platToken   = "xoxb-platform-token"
)

// agent is a fake agent endpoint: it verifies the Standard Webhooks
// signature, records deliveries and answers per the test's policy.
type agent struct {
	t      *testing.T
	mu     sync.Mutex
	order  map[string][]int64 // session -> seqs of successful deliveries (first success only)
	okByID map[string]int     // task id -> successful deliveries
	tries  map[string]int     // event id -> attempts seen
	// policy returns the status to answer (0 = 200) and an optional body.
	policy func(env envelope.Envelope, try int) (int, string)
	total  int
	srv    *httptest.Server
}

func newAgent(t *testing.T) *agent {
	a := &agent{t: t, order: map[string][]int64{}, okByID: map[string]int{}, tries: map[string]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *agent) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	t, _ := strconv.ParseInt(ts, 10, 64)
	want, _ := sign.StandardWebhooksSignature(agentSecret, id, t, body)
	okSig := false
	for _, s := range strings.Fields(r.Header.Get("webhook-signature")) {
		okSig = okSig || hmac.Equal([]byte(s), []byte(want))
	}
	if !okSig {
		a.t.Errorf("delivery %s: bad signature", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env envelope.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.ID != id {
		a.t.Errorf("delivery body: %v (id %s vs %s)", err, env.ID, id)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if env.Seal != nil || bytes.Contains(body, []byte(`"seal"`)) {
		a.t.Errorf("delivery %s carries the provenance seal (it is between ingest and the workers)", id)
	}
	a.mu.Lock()
	a.tries[env.EventID]++
	try := a.tries[env.EventID]
	policy := a.policy
	a.mu.Unlock()
	status, answer := 0, ""
	if policy != nil {
		status, answer = policy(env, try)
	}
	if status != 0 && status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	a.mu.Lock()
	if a.okByID[env.ID] == 0 {
		a.order[env.SessionKey] = append(a.order[env.SessionKey], env.Seq)
		a.total++
	}
	a.okByID[env.ID]++
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, answer)
}

func (a *agent) setPolicy(p func(env envelope.Envelope, try int) (int, string)) {
	a.mu.Lock()
	a.policy = p
	a.mu.Unlock()
}

func (a *agent) delivered() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

func (a *agent) seqs(session string) []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int64(nil), a.order[session]...)
}

func (a *agent) triesOf(event string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tries[event]
}

// fakeSlack is chat.postMessage as documented, recording (token, channel, text).
type fakeSlack struct {
	mu   sync.Mutex
	sent [][3]string
	srv  *httptest.Server
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		json.NewDecoder(r.Body).Decode(&b)
		if r.URL.Path != "/api/chat.postMessage" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.sent = append(f.sent, [3]string{strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), b["channel"], b["text"]})
		f.mu.Unlock()
		io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1.1"}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) messages() [][3]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][3]string(nil), f.sent...)
}

type env struct {
	t      *testing.T
	redis  *servicetest.Redis
	rc     redis.UniversalClient
	st     store.Store
	keys   *secrets.Keyring
	prov   *provenance.Keys
	agent  *agent
	slack  *fakeSlack
	client *queue.Client
	shards int
}

func newEnv(t *testing.T, shards int) *env {
	t.Helper()
	r := servicetest.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { rc.Close() })
	e := newEnvOn(t, rc, shards)
	e.redis = r
	return e
}

// newEnvOn is newEnv on the Redis (single, cluster or failover) behind rc,
// which the queue client and every pool of the env share.
func newEnvOn(t *testing.T, rc redis.UniversalClient, shards int, opts ...queue.Option) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(secrets.NewKey()))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := provenance.ParseKeys(provenance.Generate("p1"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rc: rc, st: st, keys: keys, prov: prov, agent: newAgent(t), slack: newFakeSlack(t), shards: shards}
	e.client = queue.NewClient("", shards, append([]queue.Option{queue.WithRedisClient(rc), queue.WithSealer(prov)}, opts...)...)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateOrg(ctx, store.Org{ID: "org_a", Name: "A", CreatedAt: now}))
	must(st.CreateAgent(ctx, store.Agent{ID: "agt_a", OrgID: "org_a", Name: "bot", URL: e.agent.srv.URL + "/hook", CreatedAt: now}))
	must(st.CreateProfile(ctx, store.AppProfile{ID: "prof_plat", OwnerOrgID: store.OwnerPlatform, Provider: "slack", Name: "shared", IngressID: "00000000000000000000000000000001", CreatedAt: now}))
	must(st.CreateInstallation(ctx, store.Installation{ID: "inst_a", OrgID: "org_a", ProfileID: "prof_plat", Provider: "slack", ExternalID: "T1", IngressID: "00000000000000000000000000000002", CreatedAt: now}))
	e.secret("sec_agent", store.OwnerAgent, "agt_a", store.PurposeSigning, agentSecret)
	e.secret("sec_bot", store.OwnerInstallation, "inst_a", store.PurposeBotToken, botToken)
	e.secret("sec_plat", store.OwnerProfile, "prof_plat", store.PurposeBotToken, platToken)
	return e
}

func (e *env) secret(id, kind, owner, purpose, plaintext string) {
	kid, ct, err := e.keys.Seal([]byte(plaintext), id)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	if err := e.st.CreateSecret(context.Background(), store.Secret{ID: id, OwnerKind: kind, OwnerID: owner, Purpose: purpose,
		KeyID: kid, Ciphertext: ct, Fingerprint: e.keys.Fingerprint([]byte(plaintext)), NotBefore: now, CreatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) pool(id string, tweak func(*Config)) *Pool {
	e.t.Helper()
	cfg := Config{
		Redis: e.rc, Shards: e.shards, ID: id, Store: e.st, Keyring: e.keys, Provenance: e.prov,
		Senders:     map[string]TextSender{"slack": slack.NewSender(e.slack.srv.URL, nil)},
		LeaseTTL:    900 * time.Millisecond,
		Attempts:    4,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		FenceRetry: 30 * time.Millisecond, TaskCheckInterval: 20 * time.Millisecond,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		Logger:                   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run starts p and returns a stop function (clean stop) and a done channel.
func run(t *testing.T, p *Pool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func event(conv string, n int) envelope.Envelope {
	return envelope.Envelope{
		Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", ProfileID: "prof_plat",
		Conversation: conv, EventID: fmt.Sprintf("Ev-%s-%d", conv, n), AgentID: "agt_a",
		Text: fmt.Sprintf("message %d", n), ReceivedAt: time.Now().UTC(),
	}.Finish()
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ordered(seqs []int64, n int) bool {
	if len(seqs) != n {
		return false
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			return false
		}
	}
	return true
}

// 50 sessions x 20 events enqueued concurrently, 3 workers, transient agent
// failures on some events: every session is delivered exactly in order.
func TestOrderingUnderLoad(t *testing.T) {
	e := newEnv(t, 8)
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		// Every 7th event fails its first two attempts: it must hold its session.
		if n, _ := strconv.Atoi(env.EventID[strings.LastIndexByte(env.EventID, '-')+1:]); n%7 == 3 && try <= 2 {
			return http.StatusServiceUnavailable, ""
		}
		return 0, ""
	})
	for i := 0; i < 3; i++ {
		run(t, e.pool(fmt.Sprintf("w%d", i), nil))
	}
	const sessions, events = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, sessions*events)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// Each goroutine interleaves 5 sessions; within a session events go in order.
			for n := 1; n <= events; n++ {
				for s := g; s < sessions; s += 10 {
					if err := e.client.Enqueue(context.Background(), event(fmt.Sprintf("C%02d", s), n)); err != nil {
						errs <- err
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "1000 deliveries", 90*time.Second, func() bool { return e.agent.delivered() == sessions*events })
	for s := 0; s < sessions; s++ {
		sk := event(fmt.Sprintf("C%02d", s), 1).SessionKey
		if got := e.agent.seqs(sk); !ordered(got, events) {
			t.Fatalf("session C%02d delivered out of order: %v", s, got)
		}
	}
	e.agent.mu.Lock()
	defer e.agent.mu.Unlock()
	for id, n := range e.agent.okByID {
		if n != 1 {
			t.Errorf("task %s delivered %d times", id, n)
		}
	}
}

func TestDuplicateEnqueueDeliversOnce(t *testing.T) {
	e := newEnv(t, 4)
	run(t, e.pool("w1", nil))
	ev := event("C1", 1)
	if err := e.client.Enqueue(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Enqueue(context.Background(), ev); !errors.Is(err, queue.ErrDuplicate) {
		t.Fatalf("second enqueue: %v", err)
	}
	waitFor(t, "first delivery", 10*time.Second, func() bool { return e.agent.delivered() == 1 })
	// After completion the id is still retained: a late provider retry is refused too.
	if err := e.client.Enqueue(context.Background(), ev); !errors.Is(err, queue.ErrDuplicate) {
		t.Fatalf("enqueue after completion: %v", err)
	}
	if err := e.client.Enqueue(context.Background(), event("C1", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second event", 10*time.Second, func() bool { return e.agent.delivered() == 2 })
	if n := e.agent.triesOf(ev.EventID); n != 1 {
		t.Fatalf("event delivered %d times", n)
	}
	if got := e.agent.seqs(ev.SessionKey); !ordered(got, 2) {
		t.Fatalf("order %v", got)
	}
}

// A failing event holds its session (later events of it wait, other sessions
// flow), is dead-lettered after the last attempt, the session moves on, and a
// replay delivers it.
func TestFailingEventHoldsSessionThenDeadLetters(t *testing.T) {
	e := newEnv(t, 2)
	broken := true
	var mu sync.Mutex
	triesOf2AtEvent3 := -1
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if env.EventID == "Ev-C1-3" && triesOf2AtEvent3 < 0 {
			triesOf2AtEvent3 = e.agent.triesOf("Ev-C1-2")
		}
		if broken && env.EventID == "Ev-C1-2" {
			return http.StatusInternalServerError, ""
		}
		return 0, ""
	})
	run(t, e.pool("w1", func(c *Config) { c.Attempts = 3; c.BackoffBase = 150 * time.Millisecond }))
	ctx := context.Background()
	for n := 1; n <= 4; n++ {
		if err := e.client.Enqueue(ctx, event("C1", n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.client.Enqueue(ctx, event("C2", 1)); err != nil {
		t.Fatal(err)
	}
	sk := event("C1", 1).SessionKey
	waitFor(t, "C1 events 1,3,4", 20*time.Second, func() bool { return len(e.agent.seqs(sk)) == 3 })
	if got := e.agent.seqs(sk); got[0] != 1 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("session order %v, want [1 3 4]", got)
	}
	mu.Lock()
	if triesOf2AtEvent3 != 3 {
		t.Fatalf("event 3 reached the agent after %d attempts of event 2, want all 3 (Attempts) first", triesOf2AtEvent3)
	}
	mu.Unlock()
	if got := e.agent.seqs(event("C2", 1).SessionKey); len(got) != 1 {
		t.Fatalf("other session blocked: %v", got)
	}
	var dl []DeadLetter
	waitFor(t, "dead letter listed", 5*time.Second, func() bool {
		var err error
		dl, err = DeadLetters(ctx, e.rc, e.shards)
		return err == nil && len(dl) == 1
	})
	ev2 := event("C1", 2)
	if dl[0].ID != ev2.ID || dl[0].Seq != 2 || dl[0].EventID != "Ev-C1-2" || !strings.Contains(dl[0].LastError, "HTTP 500") {
		t.Fatalf("dead letter %+v", dl[0])
	}
	if err := Replay(ctx, e.rc, e.shards, "nope"); !errors.Is(err, ErrNoDeadLetter) {
		t.Fatalf("replay of unknown id: %v", err)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if err := Replay(ctx, e.rc, e.shards, ev2.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replayed event delivered", 10*time.Second, func() bool { return len(e.agent.seqs(sk)) == 4 })
	if dl, _ := DeadLetters(ctx, e.rc, e.shards); len(dl) != 0 {
		t.Fatalf("dead letters after replay: %v", dl)
	}
	// The session goes on after the replay.
	if err := e.client.Enqueue(ctx, event("C1", 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "event 5", 10*time.Second, func() bool { return len(e.agent.seqs(sk)) == 5 })
	if got := e.agent.seqs(sk); got[4] != 5 {
		t.Fatalf("order after replay %v", got)
	}
}

// A worker dies mid-task (its Redis connection gone, stopped without releasing
// anything): another worker takes the shard over after the lease expires and
// the event is delivered; the session stays in order.
func TestWorkerKilledMidTaskLosesNothing(t *testing.T) {
	e := newEnv(t, 2)
	entered := make(chan struct{})
	unblock := make(chan struct{})
	var once sync.Once
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		if env.EventID == "Ev-C1-1" && try == 1 {
			once.Do(func() { close(entered) })
			<-unblock
			return http.StatusServiceUnavailable, "" // the dying worker's attempt fails
		}
		return 0, ""
	})
	// Worker A gets its own Redis client whose connections the test can cut.
	// (Closing the client under running Asynq servers would crash them: their
	// cancelation subscriber reads from the closed pubsub channel.)
	cut := &cutter{}
	rcA := redis.NewClient(&redis.Options{Addr: e.redis.Addr, Dialer: cut.dial, MaxRetries: -1})
	t.Cleanup(func() { rcA.Close() })
	a := e.pool("wa", func(c *Config) { c.Redis = rcA; c.RedisAddr = "" })
	ctxA, killA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA); close(doneA) }()
	waitFor(t, "A owns both shards", 5*time.Second, func() bool { return len(a.Owned()) == 2 })
	ctx := context.Background()
	for n := 1; n <= 3; n++ {
		if err := e.client.Enqueue(ctx, event("C1", n)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("event 1 never reached the agent")
	}
	// Crash: the connection goes first, so nothing is released or requeued.
	cut.cut()
	killA()
	close(unblock)
	<-doneA
	// The dead worker could not hand its task back: it is still "active" in
	// Asynq, and Asynq alone would leave it there for a minute or more.
	ev1 := event("C1", 1)
	info, err := asynq.NewInspectorFromRedisClient(e.rc).GetTaskInfo(queue.QueueName(queue.Shard(ev1.SessionKey, 2)), ev1.ID)
	if err != nil || info.State != asynq.TaskStateActive {
		t.Fatalf("task of the crashed worker: %v %v, want active", info, err)
	}
	b := e.pool("wb", nil)
	run(t, b)
	sk := event("C1", 1).SessionKey
	waitFor(t, "all 3 events after takeover", 20*time.Second, func() bool { return len(e.agent.seqs(sk)) == 3 })
	if got := e.agent.seqs(sk); !ordered(got, 3) {
		t.Fatalf("order after takeover %v", got)
	}
	if len(b.Owned()) != 2 {
		t.Fatalf("B owns %v", b.Owned())
	}
}

// cutter dials Redis until cut, then refuses and drops every connection: a
// worker process that died or lost the network, as Redis sees it.
type cutter struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errors.New("cut off")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = true
	for _, conn := range c.conns {
		conn.Close()
	}
}

func TestRebalance(t *testing.T) {
	e := newEnv(t, 8)
	w1 := e.pool("w1", nil)
	run(t, w1)
	waitFor(t, "w1 owns all", 5*time.Second, func() bool { return len(w1.Owned()) == 8 })
	w2 := e.pool("w2", nil)
	stop2 := run(t, w2)
	waitFor(t, "4/4 split", 10*time.Second, func() bool { return len(w1.Owned()) == 4 && len(w2.Owned()) == 4 })
	seen := map[int]bool{}
	for _, s := range append(w1.Owned(), w2.Owned()...) {
		if seen[s] {
			t.Fatalf("shard %d owned twice", s)
		}
		seen[s] = true
	}
	// Work keeps flowing across the handover.
	for n := 1; n <= 5; n++ {
		for c := 0; c < 8; c++ {
			if err := e.client.Enqueue(context.Background(), event(fmt.Sprintf("R%d", c), n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop2()
	waitFor(t, "w1 takes everything back", 5*time.Second, func() bool { return len(w1.Owned()) == 8 })
	waitFor(t, "40 deliveries", 20*time.Second, func() bool { return e.agent.delivered() == 40 })
	for c := 0; c < 8; c++ {
		if got := e.agent.seqs(event(fmt.Sprintf("R%d", c), 1).SessionKey); !ordered(got, 5) {
			t.Fatalf("session R%d: %v", c, got)
		}
	}
}

func TestRepliesUseInstallationCredentials(t *testing.T) {
	e := newEnv(t, 2)
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		return 0, `{"replies":[{"text":"re: ` + env.Text + `"},{"text":"second"}]}`
	})
	run(t, e.pool("w1", nil))
	if err := e.client.Enqueue(context.Background(), event("C9", 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two replies", 10*time.Second, func() bool { return len(e.slack.messages()) == 2 })
	m := e.slack.messages()
	if m[0] != [3]string{botToken, "C9", "re: message 1"} || m[1][2] != "second" || m[1][0] != botToken {
		t.Fatalf("sent %v", m)
	}
}

// An installation without its own token: without the opt-in nothing is sent
// (dead letter); with it the platform token is used and audited.
func TestPlatformCredentialsNeedOptIn(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	if err := e.st.CreateInstallation(ctx, store.Installation{ID: "inst_b", OrgID: "org_a", ProfileID: "prof_plat", Provider: "slack",
		ExternalID: "T2", IngressID: "00000000000000000000000000000003", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateInstallation(ctx, store.Installation{ID: "inst_c", OrgID: "org_a", ProfileID: "prof_plat", Provider: "slack",
		ExternalID: "T3", IngressID: "00000000000000000000000000000004", PlatformCredentials: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) { return 0, `{"replies":[{"text":"hi"}]}` })
	run(t, e.pool("w1", nil))
	mk := func(inst string) envelope.Envelope {
		ev := event("C1", 1)
		ev.InstallationID = inst
		return ev.Finish()
	}
	if err := e.client.Enqueue(ctx, mk("inst_b")); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Enqueue(ctx, mk("inst_c")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "platform send", 10*time.Second, func() bool { return len(e.slack.messages()) == 1 })
	waitFor(t, "dead letter of inst_b", 10*time.Second, func() bool {
		dl, _ := DeadLetters(ctx, e.rc, e.shards)
		return len(dl) == 1 && dl[0].InstallationID == "inst_b" && strings.Contains(dl[0].LastError, "no bot token")
	})
	if m := e.slack.messages(); m[0][0] != platToken {
		t.Fatalf("sent with %q", m[0][0])
	}
	ev, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range ev {
		if a.Action == "send.platform_credentials" {
			n++
			if a.Target != "inst_c" || a.OrgID != "org_a" || strings.Contains(a.Detail, platToken) {
				t.Fatalf("audit event %+v", a)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d platform-credential audit events, want 1", n)
	}
}

// A sequence number whose task never arrives (its enqueue failed and the
// provider gave up) holds the session only for GapGrace; if the event comes
// after all, it is delivered (out of order) rather than lost.
func TestGapIsSkippedAfterGraceAndLateEventStillDelivered(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	e1, e2 := event("G1", 1), event("G1", 2)
	// e1's number is reserved but its task never written, as after a failed
	// two-step enqueue of an older release (the id key not marked written).
	if seq, err := e.client.ReserveWithoutTask(ctx, e1); err != nil || seq != 1 {
		t.Fatalf("reserve e1: %d, %v", seq, err)
	}
	if err := e.client.Enqueue(ctx, e2); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run(t, e.pool("w1", func(c *Config) { c.GapGrace = 400 * time.Millisecond }))
	waitFor(t, "event 2 after the gap", 10*time.Second, func() bool { return len(e.agent.seqs(e1.SessionKey)) == 1 })
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("the gap was skipped before its grace period")
	}
	// The provider's late retry of e1 keeps its number and is delivered.
	if err := e.client.Enqueue(ctx, e1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "late event 1", 10*time.Second, func() bool { return len(e.agent.seqs(e1.SessionKey)) == 2 })
	if got := e.agent.seqs(e1.SessionKey); got[0] != 2 || got[1] != 1 {
		t.Fatalf("deliveries %v, want [2 1]", got)
	}
}

// A worker cut off from Redis (alive, but it cannot renew its leases) aborts
// its active task before its lease can expire, so the worker that takes the
// shard over never processes it at the same time. ShutdownTimeout is long on
// purpose: the abort must not wait for the Asynq server to stop.
func TestPartitionedWorkerAbortsBeforeTakeover(t *testing.T) {
	e := newEnv(t, 1)
	entered := make(chan struct{})
	var mu sync.Mutex
	var abortedAt, takeoverAt time.Time
	release := make(chan struct{}) // closed when the first attempt's request is cancelled
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		if try == 1 {
			close(entered)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return http.StatusServiceUnavailable, ""
		}
		mu.Lock()
		if takeoverAt.IsZero() {
			takeoverAt = time.Now()
		}
		mu.Unlock()
		return 0, ""
	})
	// The policy cannot see the request context: wrap the agent to record
	// when the first attempt's request is cancelled by its sender.
	inner := e.agent.srv.Config.Handler
	e.agent.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func() { inner.ServeHTTP(w, r); close(done) }()
		select {
		case <-done:
		case <-r.Context().Done():
			mu.Lock()
			if abortedAt.IsZero() {
				abortedAt = time.Now()
				close(release)
			}
			mu.Unlock()
			<-done
		}
	})
	cut := &cutter{}
	rcA := redis.NewClient(&redis.Options{Addr: e.redis.Addr, Dialer: cut.dial, MaxRetries: -1})
	t.Cleanup(func() { rcA.Close() })
	a := e.pool("wa", func(c *Config) { c.Redis = rcA; c.RedisAddr = ""; c.ShutdownTimeout = 5 * time.Second })
	run(t, a)
	waitFor(t, "A owns the shard", 5*time.Second, func() bool { return len(a.Owned()) == 1 })
	if err := e.client.Enqueue(context.Background(), event("P1", 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("event never reached the agent")
	}
	cut.cut()
	run(t, e.pool("wb", nil))
	waitFor(t, "delivery by the new owner", 20*time.Second, func() bool { return e.agent.delivered() == 1 })
	mu.Lock()
	defer mu.Unlock()
	if abortedAt.IsZero() || !abortedAt.Before(takeoverAt) {
		t.Fatalf("partitioned worker's attempt aborted at %v, new owner's attempt at %v: they overlapped",
			abortedAt.Format(time.StampMilli), takeoverAt.Format(time.StampMilli))
	}
}

// TestCleanStopHandsOverAtOnce: with a lease of an hour, heartbeats tick every
// 20 minutes, so within this test the shards can move only through the
// announcements on queue.ChangesChannel: a joining worker gets its share, and a
// cleanly stopped worker's shards are owned by the other at once (the test
// asserts ownership; lease expiry or a tick cannot explain it).
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	e := newEnv(t, 8)
	long := func(c *Config) { c.LeaseTTL = time.Hour; c.ShutdownTimeout = time.Second }
	w1 := e.pool("w1", long)
	stop1 := run(t, w1)
	waitFor(t, "w1 owns all", 5*time.Second, func() bool { return len(w1.Owned()) == 8 })
	w2 := e.pool("w2", long)
	run(t, w2)
	waitFor(t, "4/4 split on join", 10*time.Second, func() bool { return len(w1.Owned()) == 4 && len(w2.Owned()) == 4 })
	for n := 1; n <= 3; n++ {
		for c := 0; c < 8; c++ {
			if err := e.client.Enqueue(context.Background(), event(fmt.Sprintf("H%d", c), n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop1()
	waitFor(t, "w2 owns w1's shards", 10*time.Second, func() bool { return len(w2.Owned()) == 8 })
	owners, err := queue.NewLeases(e.rc, 8, time.Hour).Owners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 8; s++ {
		if queue.TokenWorker(owners[s]) != "w2" {
			t.Fatalf("shard %d lease held by %q", s, owners[s])
		}
	}
	waitFor(t, "24 deliveries", 20*time.Second, func() bool { return e.agent.delivered() == 24 })
	for c := 0; c < 8; c++ {
		if got := e.agent.seqs(event(fmt.Sprintf("H%d", c), 1).SessionKey); !ordered(got, 3) {
			t.Fatalf("session H%d: %v", c, got)
		}
	}
}

// A number an older release reserved for an event whose id key then expired
// is taken again by that same event under a new number: the session waits on
// the old number, whose reservation names the task now running. The task
// must not wait for itself (it would forever: it is found, active): the old
// number is skipped and the event delivered once.
func TestTaskDoesNotWaitForItsOwnOldReservation(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	e1 := event("SELF", 1)
	if seq, err := e.client.ReserveWithoutTask(ctx, e1); err != nil || seq != 1 {
		t.Fatalf("reserve e1: %d, %v", seq, err)
	}
	if err := e.rc.Del(ctx, queue.IDKey(e1.SessionKey, e1.ID, e.shards)).Err(); err != nil { // its id key expired
		t.Fatal(err)
	}
	if err := e.client.Enqueue(ctx, e1); err != nil {
		t.Fatal(err)
	}
	run(t, e.pool("w1", func(c *Config) { c.GapGrace = time.Hour }))
	waitFor(t, "the event under its new number", 10*time.Second, func() bool { return len(e.agent.seqs(e1.SessionKey)) == 1 })
	if got := e.agent.seqs(e1.SessionKey); len(got) != 1 || got[0] != 2 {
		t.Fatalf("deliveries %v, want [2]", got)
	}
}
