package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"time"

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

func TestConformanceInternals(t *testing.T) {
	storetest.RunInternals(t, func(tb testing.TB) workspace.Store { return MustOpenDB(tb) }, storetest.Internals{
		SetNow:    func(s workspace.Store, now func() time.Time) { s.(*postgres.DB).Now = now },
		SetCipher: func(s workspace.Store, c *workspace.AuditCipher) { s.(*postgres.DB).Cipher = c },
		RawMetadata: func(tb testing.TB, s workspace.Store, id int) string {
			var meta string
			if err := s.(*postgres.DB).Pool().QueryRow(context.Background(), "SELECT metadata::text FROM activity_logs WHERE id = $1", id).Scan(&meta); err != nil {
				tb.Fatal(err)
			}
			return meta
		},
		Exec: func(tb testing.TB, s workspace.Store, q string) {
			if _, err := s.(*postgres.DB).Pool().Exec(context.Background(), q); err != nil {
				tb.Fatal(err)
			}
		},
		Rows: func(tb testing.TB, s workspace.Store, q string) []string {
			rows, err := s.(*postgres.DB).Pool().Query(context.Background(), q)
			if err != nil {
				tb.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, fmt.Sprint(vals))
			}
			if err := rows.Err(); err != nil {
				tb.Fatal(err)
			}
			return out
		},
		Migration: func(tb testing.TB, name string) string {
			b, err := fs.ReadFile(postgres.Migrations(), name)
			if err != nil {
				tb.Fatal(err)
			}
			return string(b)
		},
	})
}
