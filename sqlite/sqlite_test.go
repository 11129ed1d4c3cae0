package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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

func TestConformanceInternals(t *testing.T) {
	storetest.RunInternals(t, func(tb testing.TB) workspace.Store { return MustOpenDB(tb) }, storetest.Internals{
		SetNow:    func(s workspace.Store, now func() time.Time) { s.(*sqlite.DB).Now = now },
		SetCipher: func(s workspace.Store, c *workspace.AuditCipher) { s.(*sqlite.DB).Cipher = c },
		RawMetadata: func(tb testing.TB, s workspace.Store, id int) string {
			var meta string
			if err := s.(*sqlite.DB).SQL().QueryRow("SELECT metadata FROM activity_logs WHERE id = ?", id).Scan(&meta); err != nil {
				tb.Fatal(err)
			}
			return meta
		},
	})
}
