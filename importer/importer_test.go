package importer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/importer"
	"github.com/switchboard-dev/switchboard/routing"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/postgres"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { servicetest.Main(m) }

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
)

const (
	orgAcme         = "org_acme"
	orgOther        = "org_other"
	platformSlack   = "prof_platslack"
	platformSigning = "8f742231b10e8888abcd99yyyzzz85a5"
)

func newKeys(t testing.TB) *secrets.Keyring {
	k, err := secrets.ParseKeys(secrets.FormatKey("k1", bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openSQLite(t testing.TB) store.Store {
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB) store.Store {
	pg := servicetest.StartPostgres(t)
	s, err := postgres.Open(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seal(t testing.TB, st store.Store, k *secrets.Keyring, kind, owner, id, purpose, value string) {
	keyID, ct, err := k.Seal([]byte(value), id)
	must(t, err)
	must(t, st.CreateSecret(ctx, store.Secret{ID: id, OwnerKind: kind, OwnerID: owner, Purpose: purpose, KeyID: keyID,
		Ciphertext: ct, Fingerprint: k.Fingerprint([]byte(value)), NotBefore: t0, CreatedAt: t0}))
}

// seed: two orgs, the platform's shared Slack app, and org_other's
// installation of it for workspace T0OTHER.
func seed(t testing.TB, st store.Store, k *secrets.Keyring) {
	must(t, st.CreateOrg(ctx, store.Org{ID: orgAcme, Name: "Acme", CreatedAt: t0}))
	must(t, st.CreateOrg(ctx, store.Org{ID: orgOther, Name: "Other", CreatedAt: t0}))
	must(t, st.CreateProfile(ctx, store.AppProfile{ID: platformSlack, Provider: "slack", Name: "Switchboard for Slack",
		ExternalAppID: "A0PLAT", IngressID: "00000000000000000000000000000001", CreatedAt: t0}))
	seal(t, st, k, store.OwnerProfile, platformSlack, "sec_platslack", store.PurposeSigning, platformSigning)
	must(t, st.CreateInstallation(ctx, store.Installation{ID: "inst_other", OrgID: orgOther, ProfileID: platformSlack,
		Provider: "slack", ExternalID: "T0OTHER", IngressID: "00000000000000000000000000000002", CreatedAt: t0}))
}

func parse(t testing.TB, name string) *importer.Source {
	f, err := os.Open(filepath.Join("testdata", name))
	must(t, err)
	defer f.Close()
	var src *importer.Source
	if strings.HasPrefix(name, "openclaw") {
		src, err = importer.ParseOpenClaw("testdata/"+name, f, importer.OpenClawOptions{
			AgentBase: "https://agents.acme.example", AgentURLs: map[string]string{"main": "https://agents.acme.example/front"}})
	} else {
		src, err = importer.ParseLegacy("testdata/"+name, f)
	}
	must(t, err)
	return src
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (go test ./importer -run %s -update to accept):\n%s", path, t.Name(), got)
	}
}

// TestPlanGolden: the dry-run plan of each fixture against the seeded store.
func TestPlanGolden(t *testing.T) {
	for _, name := range []string{"legacy.json", "legacy-conflicts.json", "openclaw.json5"} {
		t.Run(name, func(t *testing.T) {
			st, k := openSQLite(t), newKeys(t)
			seed(t, st, k)
			g0, _ := st.Generation(ctx)
			res, err := importer.Run(ctx, st, k, parse(t, name), importer.Options{OrgID: orgAcme, DryRun: true, RunID: "imp_test"})
			must(t, err)
			var buf bytes.Buffer
			must(t, importer.WriteText(&buf, res.Plan))
			golden(t, strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".json5")+".plan.golden", buf.Bytes())
			if g, _ := st.Generation(ctx); g != g0 {
				t.Fatalf("dry run changed the store: generation %d -> %d", g0, g)
			}
			for _, secret := range []string{platformSigning, "AAHacmeSupportBotToken", "acme-legacy-webhook-secret", "a1b2c3d4e5f6", "xoxb-", "whsec_"} {
				if strings.Contains(buf.String(), secret) {
					t.Fatalf("plan output carries a secret (%s…)", secret[:6])
				}
			}
		})
	}
}

type counts map[string]int

func tableCounts(t testing.TB, st store.Store) counts {
	c := counts{}
	ps, err := st.ListProfiles(ctx, nil)
	must(t, err)
	c["profiles"] = len(ps)
	is, err := st.ListInstallations(ctx, "")
	must(t, err)
	c["installations"] = len(is)
	as, err := st.ListAgents(ctx, "")
	must(t, err)
	c["agents"] = len(as)
	bs, err := st.ListBindings(ctx, "")
	must(t, err)
	c["bindings"] = len(bs)
	ss, err := st.ListAllSecrets(ctx)
	must(t, err)
	c["secrets"] = len(ss)
	ev, err := st.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	c["audit"] = len(ev)
	ks, err := st.(store.ImportKeys).ListImportKeys(ctx, orgAcme)
	must(t, err)
	c["import_keys"] = len(ks)
	return c
}

func equalCounts(t testing.TB, got, want counts, what string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s = %d, want %d (all: %v)", what, k, got[k], v, got)
		}
	}
}

// TestLegacyApply: objects created, each with its import key and an audit
// event naming the run; a rerun changes nothing; the bindings route as the
// legacy rows did.
func TestLegacyApply(t *testing.T) {
	st, k := openSQLite(t), newKeys(t)
	seed(t, st, k)
	before := tableCounts(t, st)
	res, err := importer.Run(ctx, st, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme, RunID: "imp_one", Now: func() time.Time { return t0 }})
	must(t, err)
	// telegram profile; slack installation for T0ACME, telegram installation; 2 agents; 4 bindings.
	if res.Created != 9 || !res.Applied {
		t.Fatalf("created %d (applied %v), want 9:\n%s", res.Created, res.Applied, planText(t, res.Plan))
	}
	if len(res.AgentSecrets) != 1 {
		t.Fatalf("generated agent secrets: %d, want 1 (sales has its own)", len(res.AgentSecrets))
	}
	after := tableCounts(t, st)
	equalCounts(t, after, counts{"profiles": before["profiles"] + 1, "installations": before["installations"] + 2,
		"agents": 2, "bindings": 4, "import_keys": 9}, "after import")
	ev, err := st.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{orgAcme}})
	must(t, err)
	creates := 0
	for _, e := range ev {
		var d map[string]any
		must(t, json.Unmarshal([]byte(e.Detail), &d))
		if d["import_run"] != "imp_one" || e.Actor != importer.Actor {
			t.Fatalf("audit event without the run id: %+v", e)
		}
		if strings.HasSuffix(e.Action, ".create") {
			creates++
		}
	}
	if creates != 9 || len(ev) != 10 {
		t.Fatalf("audit: %d create events of %d, want 9 of 10 (with import.run)", creates, len(ev))
	}
	// The Slack installation is the platform app's, for T0ACME, with no
	// platform credentials; Telegram's is of the org's own new profile.
	is, err := st.ListInstallations(ctx, orgAcme)
	must(t, err)
	for _, in := range is {
		switch in.Provider {
		case "slack":
			if in.ProfileID != platformSlack || in.ExternalID != "T0ACME" || in.PlatformCredentials {
				t.Fatalf("slack installation %+v", in)
			}
		case "telegram":
			p, err := st.GetProfile(ctx, in.ProfileID)
			must(t, err)
			if p.OwnerOrgID != orgAcme || in.ExternalID != "7012345678" {
				t.Fatalf("telegram installation %+v of profile %+v", in, p)
			}
		}
	}
	g, _ := st.Generation(ctx)
	res2, err := importer.Run(ctx, st, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme, RunID: "imp_two"})
	must(t, err)
	if c := res2.Plan.Counts(); res2.Created != 0 || c[importer.Create] != 0 || c[importer.Conflict] != 0 {
		t.Fatalf("rerun: created %d, counts %v\n%s", res2.Created, c, planText(t, res2.Plan))
	}
	if g2, _ := st.Generation(ctx); g2 != g {
		t.Fatalf("rerun changed the store: generation %d -> %d", g, g2)
	}
	equalCounts(t, tableCounts(t, st), after, "after rerun")
}

// TestLegacyChangedRow: a row edited after its import is a conflict, not a
// silent second object.
func TestLegacyChangedRow(t *testing.T) {
	st, k := openSQLite(t), newKeys(t)
	seed(t, st, k)
	_, err := importer.Run(ctx, st, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme})
	must(t, err)
	src := parse(t, "legacy.json")
	src.Bindings[0].Persona = "other persona"
	src.Accounts[1].Secrets[store.PurposeSecretToken] = "a-rotated-webhook-secret"
	res, err := importer.Run(ctx, st, k, src, importer.Options{OrgID: orgAcme})
	if !errors.Is(err, importer.ErrConflicts) {
		t.Fatalf("changed rows: err %v, want ErrConflicts\n%s", err, planText(t, res.Plan))
	}
	changed := map[string]bool{}
	for _, r := range res.Plan.Rows {
		if r.Reason == importer.ReasonChanged {
			changed[r.Key] = true
		}
	}
	if !changed[src.Bindings[0].Key] || !changed["telegram/profile"] || len(changed) != 2 {
		t.Fatalf("changed rows %v\n%s", changed, planText(t, res.Plan))
	}
}

func planText(t testing.TB, pl *importer.Plan) string {
	var b bytes.Buffer
	must(t, importer.WriteText(&b, pl))
	return b.String()
}

// TestConflictsWriteNothing: the conflicts fixture is refused whole; with
// SkipConflicts the rest is imported and a rerun changes nothing.
func TestConflictsWriteNothing(t *testing.T) {
	st, k := openSQLite(t), newKeys(t)
	seed(t, st, k)
	before := tableCounts(t, st)
	res, err := importer.Run(ctx, st, k, parse(t, "legacy-conflicts.json"), importer.Options{OrgID: orgAcme})
	if !errors.Is(err, importer.ErrConflicts) || res.Applied {
		t.Fatalf("conflicts: err %v applied %v", err, res.Applied)
	}
	equalCounts(t, tableCounts(t, st), before, "after a refused run")
	reasons := map[importer.Reason]int{}
	for _, r := range res.Plan.Rows {
		reasons[r.Reason]++
	}
	for _, want := range []importer.Reason{importer.ReasonOtherOrg, importer.ReasonMissingSecret, importer.ReasonDuplicate,
		importer.ReasonNoTenant, importer.ReasonNoAgentURL, importer.ReasonDependency} {
		if reasons[want] == 0 {
			t.Errorf("no %s row in the conflicts plan", want)
		}
	}
	res, err = importer.Run(ctx, st, k, parse(t, "legacy-conflicts.json"), importer.Options{OrgID: orgAcme, SkipConflicts: true})
	must(t, err)
	if res.Created == 0 {
		t.Fatalf("skip-conflicts created nothing:\n%s", planText(t, res.Plan))
	}
	res, err = importer.Run(ctx, st, k, parse(t, "legacy-conflicts.json"), importer.Options{OrgID: orgAcme, SkipConflicts: true})
	must(t, err)
	if res.Created != 0 || res.Plan.Counts()[importer.Create] != 0 {
		t.Fatalf("rerun with skip-conflicts: created %d\n%s", res.Created, planText(t, res.Plan))
	}
}

// TestOpenClawApply: the OpenClaw fixture (its conflicts skipped) lands with
// OpenClaw's precedence as priorities and a default-agent binding per account.
func TestOpenClawApply(t *testing.T) {
	st, k := openSQLite(t), newKeys(t)
	seed(t, st, k)
	res, err := importer.Run(ctx, st, k, parse(t, "openclaw.json5"), importer.Options{OrgID: orgAcme, SkipConflicts: true})
	must(t, err)
	bs, err := st.ListOrgBindings(ctx, orgAcme)
	must(t, err)
	prio := map[string]int{}
	for _, b := range bs {
		a, err := st.GetAgent(ctx, b.AgentID)
		must(t, err)
		prio[fmt.Sprintf("%s|%s|%s|%s", a.Name, b.Selector.Account, b.Selector.Channel, b.Selector.Peer)] = b.Priority
	}
	want := map[string]int{
		"Acme Support||-1001234567890|": 500, // peer group
		"ops||424242|":                  500, // telegram direct: the private chat
		"Acme Support|T0ACME||":         300, // team
		"ops|T0ACME|C0OPS|":             500, // peer + team
		"Acme Support|||U0BOSS":         499, // slack direct
		"Acme Support|||":               100, // line, any account
		"main|||":                       0,   // default agent
	}
	for key, p := range want {
		if got, ok := prio[key]; !ok || got != p {
			t.Errorf("binding %s: priority %d (present %v), want %d", key, got, ok, p)
		}
	}
	if t.Failed() {
		t.Logf("bindings: %v\n%s", prio, planText(t, res.Plan))
	}
	// Routing the imported bindings picks the agent OpenClaw picks.
	names := map[string]string{}
	as, err := st.ListAgents(ctx, orgAcme)
	must(t, err)
	for _, a := range as {
		names[a.ID] = a.Name
	}
	insts, err := st.ListInstallations(ctx, orgAcme)
	must(t, err)
	byProvider := map[string]string{}
	for _, in := range insts {
		byProvider[in.Provider] = in.ID
	}
	for _, tc := range []struct {
		provider string
		ev       routing.Event
		want     string
	}{
		{"telegram", routing.Event{Channel: "-1001234567890", Peer: "7"}, "Acme Support"}, // peer group
		{"telegram", routing.Event{Channel: "424242", Peer: "424242"}, "ops"},             // direct chat
		{"telegram", routing.Event{Channel: "-100555", Peer: "424242"}, "main"},           // that user in another group: default agent
		{"slack", routing.Event{Account: "T0ACME", Channel: "C0OPS", Peer: "U1"}, "ops"},  // peer + team
		{"slack", routing.Event{Account: "T0ACME", Channel: "C9", Peer: "U1"}, "Acme Support"},
		{"slack", routing.Event{Account: "T0ELSE", Channel: "C9", Peer: "U0BOSS"}, "Acme Support"}, // direct peer
		{"slack", routing.Event{Account: "T0ELSE", Channel: "C9", Peer: "U1"}, "main"},
		{"line", routing.Event{Channel: "Cgroup", Peer: "Uline"}, "Acme Support"}, // accountId "*" beats the default agent
	} {
		bs, err := st.ListBindings(ctx, byProvider[tc.provider])
		must(t, err)
		got := routing.Select(bs, tc.ev)
		if len(got) != 1 || names[got[0].AgentID] != tc.want {
			var gotNames []string
			for _, b := range got {
				gotNames = append(gotNames, names[b.AgentID])
			}
			t.Errorf("%s %+v: routed to %v, want %s", tc.provider, tc.ev, gotNames, tc.want)
		}
	}
}

// failingStore fails the n-th CreateBinding of a transaction.
type failingStore struct {
	store.Store
	n int
}

type failingQueries struct {
	store.Queries
	store.ImportKeys
	left *int
}

var errInjected = errors.New("injected failure")

func (q failingQueries) CreateBinding(ctx context.Context, b store.Binding) error {
	if *q.left--; *q.left == 0 {
		return errInjected
	}
	return q.Queries.CreateBinding(ctx, b)
}

func (s failingStore) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	left := s.n
	return s.Store.InTx(ctx, func(q store.Queries) error {
		return fn(failingQueries{Queries: q, ImportKeys: q.(store.ImportKeys), left: &left})
	})
}

// TestFailureLeavesNothing: a failure at the last binding rolls back every
// object, secret, import key and audit event; the rerun imports it all.
func TestFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(tc.name, func(t *testing.T) {
			st, k := tc.open(t), newKeys(t)
			seed(t, st, k)
			before := tableCounts(t, st)
			g0, _ := st.Generation(ctx)
			_, err := importer.Run(ctx, failingStore{Store: st, n: 4}, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme})
			if !errors.Is(err, errInjected) {
				t.Fatalf("run with an injected failure: %v", err)
			}
			equalCounts(t, tableCounts(t, st), before, "after the failed run")
			if g, _ := st.Generation(ctx); g != g0 {
				t.Fatalf("failed run moved the generation %d -> %d", g0, g)
			}
			res, err := importer.Run(ctx, st, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme})
			must(t, err)
			if res.Created != 9 {
				t.Fatalf("rerun after the failure created %d, want 9", res.Created)
			}
		})
	}
}

// bigLegacy writes a legacy file with n bindings (n/100 Slack workspaces of
// the platform app, 100 channels each, 10 agents).
func bigLegacy(t testing.TB, n int) string {
	var b strings.Builder
	b.WriteString(`{"format": "switchboard-legacy/v1", "providers": {"slack": {"identity": "platform"}}, "agents": {`)
	for i := 0; i < 10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"a%d": {"url": "https://agents.example/a%d", "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`, i, i)
	}
	b.WriteString(`}, "bindings": [`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"provider": "slack", "account": "T%04d", "channel": "C%06d", "agent": "a%d", "persona": "p%d"}`, i/100, i, i%10, i%3)
	}
	b.WriteString("]}\n")
	path := filepath.Join(t.TempDir(), "big.json")
	must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path
}

func parseFile(t testing.TB, path string) *importer.Source {
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	src, err := importer.ParseLegacy(path, f)
	must(t, err)
	return src
}

// Test10kBindings: 10,000 bindings on each store; the rerun changes nothing;
// a second file claiming another org's workspace is refused whole.
func Test10kBindings(t *testing.T) {
	if testing.Short() {
		t.Skip("10k bindings: not in -short")
	}
	for _, tc := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		t.Run(tc.name, func(t *testing.T) {
			st, k := tc.open(t), newKeys(t)
			seed(t, st, k)
			path := bigLegacy(t, 10000)
			var progress bytes.Buffer
			res, err := importer.Run(ctx, st, k, parseFile(t, path), importer.Options{OrgID: orgAcme, Progress: &progress, ProgressEvery: 2500})
			must(t, err)
			// 100 installations + 10 agents + 10,000 bindings
			if res.Created != 10110 {
				t.Fatalf("created %d, want 10110", res.Created)
			}
			if !strings.Contains(progress.String(), "applied 10110/10110") || strings.Count(progress.String(), "\n") != 5 {
				t.Fatalf("progress output:\n%s", progress.String())
			}
			bs, err := st.ListOrgBindings(ctx, orgAcme)
			must(t, err)
			if len(bs) != 10000 {
				t.Fatalf("%d bindings in the store", len(bs))
			}
			after := tableCounts(t, st)
			g, _ := st.Generation(ctx)
			res, err = importer.Run(ctx, st, k, parseFile(t, path), importer.Options{OrgID: orgAcme})
			must(t, err)
			if c := res.Plan.Counts(); res.Created != 0 || c[importer.Unchanged] != 10111 {
				t.Fatalf("rerun: created %d, counts %v", res.Created, c)
			}
			if g2, _ := st.Generation(ctx); g2 != g {
				t.Fatalf("rerun moved the generation %d -> %d", g, g2)
			}
			equalCounts(t, tableCounts(t, st), after, "after the rerun")
			// Conflicts: org_other's workspace T0OTHER among the rows.
			src := parseFile(t, path)
			src.Bindings = append(src.Bindings, importer.Binding{Key: "binding/slack/T0OTHER/C1//", Where: "bindings[10000]",
				Account: "slack", Tenant: "T0OTHER", Selector: store.Selector{Account: "T0OTHER", Channel: "C1"}, Agent: "agent/a1"})
			res, err = importer.Run(ctx, st, k, src, importer.Options{OrgID: orgAcme})
			if !errors.Is(err, importer.ErrConflicts) {
				t.Fatalf("conflicting run: %v", err)
			}
			if c := res.Plan.Counts(); c[importer.Conflict] != 2 {
				t.Fatalf("conflicting run: counts %v, want 2 conflicts (installation, binding)", c)
			}
			equalCounts(t, tableCounts(t, st), after, "after the conflicting run")
		})
	}
}

// TestExistingBot: the organisation already runs the legacy Telegram bot on
// a profile of its own (another secret token): a second installation of the
// bot is refused, and so are the bindings through it.
func TestExistingBot(t *testing.T) {
	st, k := openSQLite(t), newKeys(t)
	seed(t, st, k)
	must(t, st.CreateProfile(ctx, store.AppProfile{ID: "prof_own", OwnerOrgID: orgAcme, Provider: "telegram", Name: "by hand", CreatedAt: t0}))
	seal(t, st, k, store.OwnerProfile, "prof_own", "sec_own", store.PurposeSecretToken, "a-hand-made-secret-token")
	must(t, st.CreateInstallation(ctx, store.Installation{ID: "inst_own", OrgID: orgAcme, ProfileID: "prof_own", Provider: "telegram",
		ExternalID: "7012345678", IngressID: "00000000000000000000000000000003", CreatedAt: t0}))
	res, err := importer.Run(ctx, st, k, parse(t, "legacy.json"), importer.Options{OrgID: orgAcme, DryRun: true})
	must(t, err)
	got := map[string]importer.Reason{}
	for _, r := range res.Plan.Rows {
		if r.Action == importer.Conflict {
			got[r.Key] = r.Reason
		}
	}
	want := map[string]importer.Reason{"telegram/installation/7012345678": importer.ReasonExists,
		"binding/telegram//-1001234567890//": importer.ReasonDependency, "binding/telegram////": importer.ReasonDependency}
	if len(got) != len(want) {
		t.Fatalf("conflicts %v, want %v\n%s", got, want, planText(t, res.Plan))
	}
	for key, r := range want {
		if got[key] != r {
			t.Fatalf("%s: %q, want %q\n%s", key, got[key], r, planText(t, res.Plan))
		}
	}
}
