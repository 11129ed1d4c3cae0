package postgres_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"workspace/internal/testpg"
	"workspace/postgres"
)

// testdata/seed_schema.sql and testdata/schema_snapshot.sql are copies of
// shared/tools/; when shared/ sits beside the checkout (as in CI) they must
// still be identical to it.
func TestSeedCopiesCurrent(t *testing.T) {
	for _, name := range []string{"seed_schema.sql", "schema_snapshot.sql"} {
		orig, err := os.ReadFile("../../shared/tools/" + name)
		if os.IsNotExist(err) {
			t.Logf("shared/tools/%s not beside the checkout; using the vendored copy", name)
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		vendored, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(orig, vendored) {
			t.Errorf("testdata/%s differs from shared/tools/%s: copy it again", name, name)
		}
	}
}

// Ensure the migrated schema of the seed's tables and views is the seed's:
// columns with types, defaults and nullability, constraints, indexes and
// view definitions, compared fact by fact with a database built from the
// seed's own SQL. Extra indexes on seed tables are allowed.
func TestSchemaEqualsSeed(t *testing.T) {
	ctx := context.Background()
	snapshotSQL, err := os.ReadFile("testdata/schema_snapshot.sql")
	if err != nil {
		t.Fatal(err)
	}
	seedSQL, err := os.ReadFile("testdata/seed_schema.sql")
	if err != nil {
		t.Fatal(err)
	}

	refDSN, _ := testpg.Database(t)
	ref, err := pgx.Connect(ctx, refDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close(ctx)
	if _, err := ref.Exec(ctx, string(seedSQL)); err != nil {
		t.Fatalf("build reference from the seed: %v", err)
	}

	dsn, _ := testpg.Database(t)
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close(ctx)

	want := snapshot(t, ref, string(snapshotSQL))
	have := snapshot(t, got, string(snapshotSQL))
	if len(want) < 60 {
		t.Fatalf("reference snapshot has only %d facts; the snapshot query is broken", len(want))
	}
	var missing, extra []string
	for _, f := range want {
		if !slices.Contains(have, f) {
			missing = append(missing, f)
		}
	}
	for _, f := range have {
		if !slices.Contains(want, f) && !bytes.HasPrefix([]byte(f), []byte("index ")) {
			extra = append(extra, f)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Fatalf("schema differs from the seed:\n%s", cmp.Diff(missing, extra))
	}
}

func snapshot(t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return facts
}

// Ensure both engines ship the same migration file names.
func TestMigrationNamesMatchSQLite(t *testing.T) {
	pg, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	lite, err := os.ReadDir("../sqlite/migrations")
	if err != nil {
		t.Fatal(err)
	}
	names := func(es []os.DirEntry) (out []string) {
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	if diff := cmp.Diff(names(pg), names(lite)); diff != "" {
		t.Fatalf("migration files differ (-postgres +sqlite):\n%s", diff)
	}
}

// Ensure several instances migrating one empty database at once do not race.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn, _ := testpg.Database(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := postgres.Open(ctx, dsn, postgres.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(ctx)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
}
