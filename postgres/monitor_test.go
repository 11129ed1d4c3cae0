package postgres

import (
	"context"
	"strings"
	"testing"

	"workspace/internal/testpg"
)

// Ensure slow queries never fail for want of pg_stat_statements: not
// installed, or installed but not preloaded, the report says how to enable
// it; preloaded, it lists statements. The extension is created in a
// database of its own, so other tests still see it missing.
func TestSlowQueriesExtension(t *testing.T) {
	ctx := context.Background()
	db := openOwnDatabase(t)
	r, err := db.DBSlowQueries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Available || !strings.Contains(r.Reason, "not installed") || !strings.Contains(r.Reason, "shared_preload_libraries") {
		t.Fatalf("without the extension: %+v", r)
	}

	if _, err := db.Pool().Exec(ctx, "CREATE EXTENSION pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	var preloaded bool
	if err := db.Pool().QueryRow(ctx, "SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'").Scan(&preloaded); err != nil {
		t.Fatal(err)
	}
	r, err = db.DBSlowQueries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case preloaded && (!r.Available || len(r.Queries) == 0):
		t.Fatalf("with the extension preloaded: %+v", r)
	case !preloaded && (r.Available || !strings.Contains(r.Reason, "not loaded") || !strings.Contains(r.Reason, "shared_preload_libraries")):
		t.Fatalf("with the extension created but not preloaded: %+v", r)
	}
}

// TestSettingsAdvice checks the startup advice against the server's own
// autovacuum setting: one line naming it when it is off, none when on.
func TestSettingsAdvice(t *testing.T) {
	ctx := context.Background()
	db := openOwnDatabase(t)
	var setting string
	if err := db.Pool().QueryRow(ctx, "SHOW autovacuum").Scan(&setting); err != nil {
		t.Fatal(err)
	}
	advice, err := db.SettingsAdvice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch setting {
	case "on":
		if len(advice) != 0 {
			t.Fatalf("autovacuum on: advice %q", advice)
		}
	case "off":
		if len(advice) != 1 || !strings.Contains(advice[0], "autovacuum off") {
			t.Fatalf("autovacuum off: advice %q", advice)
		}
	default:
		t.Fatalf("SHOW autovacuum = %q", setting)
	}
}

// openOwnDatabase opens a migrated database of the test's own (not a
// schema: an extension created in it must not reach other tests).
func openOwnDatabase(t *testing.T) *DB {
	t.Helper()
	dsn, _ := testpg.Database(t)
	return openMigratedAt(t, dsn, 2)
}
