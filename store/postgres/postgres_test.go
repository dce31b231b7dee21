package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/postgres"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestMain(m *testing.M) { servicetest.Main(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		pg := servicetest.StartPostgres(t)
		s, err := postgres.Open(context.Background(), pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestReplicas: two stores on one database (two control-plane replicas) start
// at once (migrations serialise on an advisory lock) and see each other's
// writes through Generation.
func TestReplicas(t *testing.T) {
	ctx := context.Background()
	pg := servicetest.StartPostgres(t)
	stores := make([]*postgres.Store, 2)
	errs := make(chan error, 2)
	for i := range stores {
		go func(i int) {
			s, err := postgres.Open(ctx, pg.DSN)
			stores[i] = s
			errs <- err
		}(i)
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	g0, err := stores[1].Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stores[0].CreateOrg(ctx, store.Org{ID: "org_replica", Name: "r", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g1, err := stores[1].Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g1 <= g0 {
		t.Fatalf("replica did not see the write: generation %d -> %d", g0, g1)
	}
}
