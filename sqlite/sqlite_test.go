package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"workspace"
	"workspace/sqlite"
	"workspace/storetest"
)

// MustOpenDB opens and migrates a database file in a temporary directory.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "data", "workspace.db"))
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
