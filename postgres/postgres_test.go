package postgres_test

import (
	"context"
	"testing"

	"workspace"
	"workspace/internal/testpg"
	"workspace/postgres"
	"workspace/storetest"
)

// MustOpenDB opens and migrates a fresh schema of the test server.
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	dsn := testpg.Schema(tb)
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) workspace.Store { return MustOpenDB(tb) })
}
