// Package sqlite implements workspace.Store on an embedded SQLite file with
// the pure-Go modernc.org/sqlite driver, so the binary needs no cgo.
//
// One connection writes (transactions begin IMMEDIATE, so writers queue on
// busy_timeout instead of failing with "database is locked" mid-transaction)
// and a pool of read-only connections reads concurrently thanks to WAL.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// ReadPoolSize is the number of read connections Open keeps: one per CPU
// Go runs on, at least two. Reads are CPU work once their pages are
// cached, so more readers than CPUs add no throughput; they only split the
// 32 MiB of page cache (ReaderDSN) into smaller caches that each
// need the same hot pages. On 2 CPUs, 2 readers of 16 MiB against 4 of
// 8 MiB (the previous max(4, 2×GOMAXPROCS)): page p50 at 1M ÷ 10k messages
// at peak 1.32-1.37 (four runs) against 1.25-1.58 (seven runs), the same
// page, conversation and calendar rates within run-to-run noise, and
// peak RSS 102-108 MB against 108-114 MB.
func ReadPoolSize() int { return max(2, runtime.GOMAXPROCS(0)) }

// readerCacheSize is the cache_size pragma of each of n read connections:
// 32 MiB shared among them, and never below SQLite's 2 MiB default.
func readerCacheSize(n int) string {
	return fmt.Sprintf("cache_size(-%d)", max(2048, 32768/max(n, 1)))
}

// dsn names the database at path with every connection's pragmas, then
// extra ones. busy_timeout comes first (the driver orders it so).
// auto_vacuum only takes effect on a new file: it lets `activity prune`
// give space back.
func dsn(path string, extra ...string) string {
	q := url.Values{"_pragma": append([]string{
		"busy_timeout(10000)", "auto_vacuum(incremental)", "journal_mode(WAL)",
		"foreign_keys(1)", "synchronous(NORMAL)",
	}, extra...)}
	return "file:" + path + "?" + q.Encode()
}

// WriterDSN is the writer connection's: transactions begin IMMEDIATE, and
// it leaves the copying of the WAL into the database file to the
// checkpointer (checkpoint.go), checkpointing itself only past
// AutocheckpointPages. It keeps SQLite's default 2 MiB page cache: a
// 32 MiB one made sends ~15 % faster (fewer preads of index leaves), but
// SQLite's page caches of one process share a pool, and with the writer's
// share idle the readers' pages churned through it: paced page reads went
// from a p99 of 4 ms to 18-22 ms, in stalls of ~90 ms about once a second
// (bisected to that one change; GOMEMLIMIT ruled out).
func WriterDSN(path string) string {
	return dsn(path, fmt.Sprintf("wal_autocheckpoint(%d)", AutocheckpointPages)) + "&_txlock=immediate"
}

// ReaderDSN is a read-only connection's, one of n sharing 32 MiB of page
// cache (at least SQLite's 2 MiB default each): a page of 50 messages of
// a busy channel touches ~50 table pages, scattered among other channels'
// messages, and with 2 MiB a reader read them back from the OS page cache
// one pread at a time. With 8 MiB each (4 readers) page reads went from
// 2,072-2,733 to 3,085 req/s and the 1M ÷ 10k message p50 from 1.64-1.69
// to 1.31; paced reads show no stall (p99 3.4 ms). On 2 CPUs there are
// now 2 readers of 16 MiB (see ReadPoolSize).
func ReaderDSN(path string, n int) string {
	return dsn(path, "query_only(1)", readerCacheSize(n))
}

// DB is a SQLite database.
type DB struct {
	path   string
	write  *sql.DB     // exactly one connection
	wstmts *writeCache // statements prepared on it
	read   *stmtCache  // read-only pool, with cached statements
	// monitor: one read-only connection of its own for the monitoring
	// reports, which walk every page of the file (dbstat).
	monitor *sql.DB
	ckpt    *checkpointer // copies the WAL into the file beside the writer
	sends   groupcommit.Batcher[send]

	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// Cipher encrypts sensitive audit metadata on write and decrypts it on
	// read; nil stores metadata as given (after redaction). Set it before
	// use.
	Cipher *workspace.AuditCipher
}

var _ workspace.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path. Its directory is
// created 0700 and the file 0600. It does not migrate: call Migrate.
func Open(path string) (*DB, error) { return open(path, checkpointTest{}) }

// open is Open, with the checkpointer's test settings.
func open(path string, test checkpointTest) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Create the file ourselves so its mode is 0600 from the first byte.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	f.Close()

	write, err := sql.Open("sqlite", WriterDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)

	n := ReadPoolSize()
	read, err := sql.Open("sqlite", ReaderDSN(path, n))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	// The monitoring reports sum the pages of every table with dbstat,
	// which reads the whole file: on a reader it would hold one of the
	// few connections behind every request for as long as that takes,
	// and flush that reader's cache of hot pages. They get a connection
	// of their own, with SQLite's default cache, opened on first use and
	// closed after a minute idle.
	monitor, err := sql.Open("sqlite", dsn(path, "query_only(1)"))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	monitor.SetMaxOpenConns(1)
	monitor.SetMaxIdleConns(1)
	monitor.SetConnMaxIdleTime(time.Minute)

	ckpt, err := startCheckpointer(dsn(path), test)
	if err != nil {
		write.Close()
		read.Close()
		monitor.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}

	db := &DB{path: path, write: write, wstmts: newWriteCache(write), read: newStmtCache(read), monitor: monitor, ckpt: ckpt, Now: workspace.Now}
	db.sends.Run = db.createMessages
	if err := write.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Close closes every connection.
func (db *DB) Close() error {
	ckptErr := db.ckpt.close()
	db.read.close()
	db.wstmts.close()
	return errors.Join(ckptErr, db.read.db.Close(), db.monitor.Close(), db.write.Close())
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return mapErr(err)
	}
	return nil
}

// Migrate applies the pending migrations and returns their names.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return migrate.Up(ctx, db.write, goose.DialectSQLite3, Migrations())
}

// MigrationStatus reports the applied and pending migrations.
func (db *DB) MigrationStatus(ctx context.Context) (migrate.Status, error) {
	return migrate.GetStatus(ctx, db.write, goose.DialectSQLite3, Migrations())
}

// CheckSchema fails if the database is not exactly at the binary's version.
func (db *DB) CheckSchema(ctx context.Context) error {
	return migrate.Check(ctx, db.write, goose.DialectSQLite3, Migrations())
}

// SQL returns the writer connection, for tools and tests that need raw SQL.
func (db *DB) SQL() *sql.DB { return db.write }

// Tx is a write transaction whose writes all share one timestamp. Its
// queries go through the writer's statement cache (stmt.go).
type Tx struct {
	*sql.Tx
	now    time.Time
	cipher *workspace.AuditCipher
	stmts  *writeCache
	ckpt   *checkpointer // told of each commit
	missed []string      // queries run uncached, prepared when the transaction ends
}

func (db *DB) begin(ctx context.Context) (*Tx, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapErr(err)
	}
	return &Tx{Tx: tx, now: workspace.Truncate(db.Now()), cipher: db.Cipher, stmts: db.wstmts, ckpt: db.ckpt}, nil
}

// exec runs one write on the writer outside a transaction of ours (it is
// its own) and tells the checkpointer.
func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := db.write.ExecContext(ctx, q, args...)
	if err == nil {
		db.ckpt.committed()
	}
	return res, err
}

// timeLayout is the fixed-width UTC text form of every timestamp.
const timeLayout = "2006-01-02 15:04:05.000000"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func fmtNullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return fmtTime(*t)
}

// timeScanner scans a text timestamp into a time.Time.
type timeScanner struct{ dst *time.Time }

func (s timeScanner) Scan(v any) error {
	str, ok := asString(v)
	if !ok {
		return fmt.Errorf("timestamp: unexpected %T", v)
	}
	t, err := parseTime(str)
	if err != nil {
		return err
	}
	*s.dst = t
	return nil
}

// nullTimeScanner scans a nullable text timestamp into a *time.Time.
type nullTimeScanner struct{ dst **time.Time }

func (s nullTimeScanner) Scan(v any) error {
	if v == nil {
		*s.dst = nil
		return nil
	}
	var t time.Time
	if err := (timeScanner{&t}).Scan(v); err != nil {
		return err
	}
	*s.dst = &t
	return nil
}

func asString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case time.Time:
		return fmtTime(v), true
	}
	return "", false
}

// parseTime parses a stored timestamp. Nearly every value is in timeLayout,
// which parseFixedTime reads by hand (time.Parse was 7% of the CPU of
// reading a page of messages); anything else takes the general path.
func parseTime(s string) (time.Time, error) {
	if t, ok := parseFixedTime(s); ok {
		return t, nil
	}
	return parseTimeLayouts(s)
}

// parseFixedTime parses s if it is exactly in timeLayout with every field in
// range, giving the same time as time.Parse(timeLayout, s).UTC(). Otherwise
// it returns false, and the caller's general path decides: it accepts or
// rejects the value as it always has (a comma before the fraction, a
// one-digit hour, February 30th, ...).
func parseFixedTime(s string) (time.Time, bool) {
	// 2006-01-02 15:04:05.000000
	// 01234567890123456789012345
	if len(s) != len(timeLayout) || s[4] != '-' || s[7] != '-' || s[10] != ' ' ||
		s[13] != ':' || s[16] != ':' || s[19] != '.' {
		return time.Time{}, false
	}
	year, month, day := timeDigits(s[0:4]), timeDigits(s[5:7]), timeDigits(s[8:10])
	hour, minute, sec, usec := timeDigits(s[11:13]), timeDigits(s[14:16]), timeDigits(s[17:19]), timeDigits(s[20:26])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > timeDaysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 || usec < 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, usec*1000, time.UTC), true
}

// timeDigits returns the value of the decimal digits s, or -1 if s holds
// anything else.
func timeDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return -1
		}
		n = n*10 + int(d)
	}
	return n
}

// timeDaysIn returns the number of days in month of the (proleptic Gregorian)
// year, as time.Parse validates them.
func timeDaysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseTimeLayouts is the general path of parseTime.
func parseTimeLayouts(s string) (time.Time, error) {
	// Accept the fixed layout and shorter fractions (rows written by hand
	// with the sqlite3 CLI).
	for _, layout := range []string{timeLayout, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp: cannot parse %q", s)
}

// mapErr translates driver errors to application errors by code, never by
// message text. Errors it does not recognise are returned unchanged (and
// read as EINTERNAL).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return workspace.Errorf(workspace.ENOTFOUND, "Not found.")
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &workspace.Error{Code: workspace.ECONFLICT, Message: "Already exists."}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &workspace.Error{Code: workspace.ECONFLICT, Message: "Still referenced by other records."}
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return &workspace.Error{Code: workspace.EUNPROCESSABLE, Message: "Refused by a database constraint."}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
			return &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "The database is busy; try again.", RetryAfter: time.Second}
		}
	}
	if errors.Is(err, driver.ErrBadConn) {
		return &workspace.Error{Code: workspace.EUNAVAILABLE, Message: "The database is unavailable.", RetryAfter: time.Second}
	}
	return err
}
