// Package postgres implements workspace.Store on PostgreSQL with pgx/v5's
// pool. Its first migration is the seed's DDL verbatim; extensions live in
// tables of their own.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"workspace"
	"workspace/internal/groupcommit"
	"workspace/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migration files.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

// DB is a PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool

	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// Cipher encrypts sensitive audit metadata on write and decrypts it on
	// read; nil stores metadata as given (after redaction). Set it before
	// use.
	Cipher *workspace.AuditCipher

	// messageChannel is the NOTIFY channel of the database's Notifier,
	// once one exists: sending a message then notifies inside its own
	// transaction (see Notifier.NotifiesMessageCreated).
	messageChannel atomic.Pointer[string]

	sends groupcommit.Batcher[send] // CreateMessage's group commit
}

var _ workspace.Store = (*DB)(nil)

// Options tune the pool.
type Options struct {
	MaxConns int32 // 0: pgxpool's default (max(4, NumCPU))
}

// Open connects to the database at dsn. Every connection runs with the UTC
// time zone, so the seed's TIMESTAMP defaults (NOW()) and the views agree
// with the UTC times the application writes. It does not migrate.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error can quote the DSN, password included: say less.
		return nil, errors.New("postgres: invalid connection string (DATABASE_URL / DB_*)")
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// JIT compilation pays off for long analytic queries, not for this
	// workload: the conversation list's estimated cost crosses the JIT
	// threshold, and compiling took ~260 ms of a 280 ms query (EXPLAIN
	// ANALYZE). A DSN may still turn it back on (jit=on).
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "workspace"
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, Now: workspace.Now}
	db.sends.Run = db.createMessages
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return db, nil
}

// Pool returns the connection pool, for tools and tests that need raw SQL.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return mapErr(db.pool.Ping(ctx))
}

func (db *DB) withSQL(fn func(*sql.DB) error) error {
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	return fn(sqlDB)
}

// SettingsAdvice returns what an operator should change in the
// server's settings for this store, one sentence each; none when all is
// well. Today it checks that autovacuum is on: every message sent
// rewrites its conversation's row and that row's index entries, so without
// it the dead versions pile up and the conversation list slows with every
// message (a 10 s load benchmark of sends left 50k dead versions of 1,000
// conversation rows; the list then ran 15-25 % slower than after a VACUUM).
func (db *DB) SettingsAdvice(ctx context.Context) ([]string, error) {
	var autovacuum bool
	if err := db.pool.QueryRow(ctx, `SELECT current_setting('autovacuum') = 'on'`).Scan(&autovacuum); err != nil {
		return nil, fmt.Errorf("read autovacuum: %w", err) // for the log: not mapErr's API wording
	}
	if autovacuum {
		return nil, nil
	}
	return []string{"PostgreSQL runs with autovacuum off: dead rows of conversations and read cursors accumulate with every message and slow the conversation list; turn it on (autovacuum = on) or run VACUUM (ANALYZE) regularly"}, nil
}

// Migrate applies the pending migrations; concurrent callers on several
// instances are serialised by an advisory lock.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	err = db.withSQL(func(s *sql.DB) error {
		applied, err = migrate.Up(ctx, s, goose.DialectPostgres, Migrations())
		return err
	})
	return applied, err
}

// MigrationStatus reports the applied and pending migrations.
func (db *DB) MigrationStatus(ctx context.Context) (st migrate.Status, err error) {
	err = db.withSQL(func(s *sql.DB) error {
		st, err = migrate.GetStatus(ctx, s, goose.DialectPostgres, Migrations())
		return err
	})
	return st, err
}

// CheckSchema fails if the database is not exactly at the binary's version.
func (db *DB) CheckSchema(ctx context.Context) error {
	return db.withSQL(func(s *sql.DB) error {
		return migrate.Check(ctx, s, goose.DialectPostgres, Migrations())
	})
}

// Tx is a transaction whose writes all share one timestamp.
type Tx struct {
	pgx.Tx
	now    time.Time
	cipher *workspace.AuditCipher
}

func (db *DB) begin(ctx context.Context) (*Tx, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	return &Tx{Tx: tx, now: workspace.Truncate(db.Now()), cipher: db.Cipher}, nil
}

// rollback ends a transaction that was not committed; its error (the
// transaction is already closed after a commit) does not matter.
func (tx *Tx) rollback() { _ = tx.Rollback(context.Background()) }

// mapErr translates driver errors to application errors by SQLSTATE and
// error type, never by message text.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return workspace.Errorf(workspace.ENOTFOUND, "Not found.")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return &workspace.Error{Code: workspace.ECONFLICT, Message: "Already exists."}
		case "23503":
			return &workspace.Error{Code: workspace.ECONFLICT, Message: "Still referenced by other records."}
		case "23514", "23502", "22001", "22003", "22007", "22008", "22P02", "22P05", "22021":
			return &workspace.Error{Code: workspace.EUNPROCESSABLE, Message: "Refused by a database constraint."}
		case "40001", "40P01", "55P03", "57014":
			return &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "The database is busy; try again.", RetryAfter: time.Second}
		}
		if len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:2] == "57" || pe.Code[:2] == "53") {
			return unavailable()
		}
		return err
	}
	// The connection broke under the query (server restarted, backend
	// killed, network): the database is unavailable, not the request bad.
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return unavailable()
	}
	return err
}

func unavailable() error {
	return &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "The database is unavailable; try again.", RetryAfter: 2 * time.Second}
}
