// Package migrate runs the embedded, versioned SQL migrations of one engine
// with goose. Both engines keep their files under migrations/ with the same
// names; each file runs in its own transaction.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Status is the schema state of a database against the binary's migrations.
type Status struct {
	Current int64    // version applied to the database (0: empty)
	Latest  int64    // newest version the binary knows
	Pending []string // files not yet applied
}

// ErrAhead means the database was migrated by a newer binary.
var ErrAhead = errors.New("database schema is newer than this binary")

func provider(db *sql.DB, dialect goose.Dialect, fsys fs.FS) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if dialect == goose.DialectPostgres {
		// A session-level advisory lock: several instances starting at
		// once against one database apply each migration exactly once.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db, fsys, opts...)
}

// Up applies every pending migration and returns the names applied.
func Up(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) ([]string, error) {
	p, err := provider(db, dialect, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := checkAhead(ctx, p); err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	names := make([]string, 0, len(results))
	for _, r := range results {
		names = append(names, r.Source.Path)
	}
	return names, nil
}

// GetStatus reports the applied and pending migrations.
func GetStatus(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) (Status, error) {
	p, err := provider(db, dialect, fsys)
	if err != nil {
		return Status{}, fmt.Errorf("migrations: %w", err)
	}
	var st Status
	list, err := p.Status(ctx)
	if err != nil {
		return st, fmt.Errorf("migration status: %w", err)
	}
	for _, m := range list {
		if m.Source.Version > st.Latest {
			st.Latest = m.Source.Version
		}
		if m.State == goose.StatePending {
			st.Pending = append(st.Pending, m.Source.Path)
		}
	}
	if st.Current, err = p.GetDBVersion(ctx); err != nil {
		return st, fmt.Errorf("schema version: %w", err)
	}
	return st, nil
}

// Check returns ErrAhead if the database is newer than the binary, and an
// error naming the pending migrations if it is older.
func Check(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) error {
	st, err := GetStatus(ctx, db, dialect, fsys)
	if err != nil {
		return err
	}
	if st.Current > st.Latest {
		return fmt.Errorf("%w (database at version %d, binary knows %d)", ErrAhead, st.Current, st.Latest)
	}
	if len(st.Pending) > 0 {
		return fmt.Errorf("database schema is not up to date: %d pending migrations (run `workspace migrate up`)", len(st.Pending))
	}
	return nil
}

func checkAhead(ctx context.Context, p *goose.Provider) error {
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	var latest int64
	for _, s := range p.ListSources() {
		latest = max(latest, s.Version)
	}
	if current > latest {
		return fmt.Errorf("%w (database at version %d, binary knows %d)", ErrAhead, current, latest)
	}
	return nil
}

// Latest returns the newest version among the migration files of fsys (the
// binary's schema version), without a database.
func Latest(fsys fs.FS) (int64, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var latest int64
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: %w", name, err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}
