package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrInUse means another connection (a running `workspace serve`) has the
// database open, so it cannot be replaced.
var ErrInUse = errors.New("the database is in use: stop `workspace serve` (and anything else using it) first")

// magic starts every SQLite database file.
var magic = []byte("SQLite format 3\x00")

// IsDatabaseFile reports whether the file at path starts like a SQLite
// database.
func IsDatabaseFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(magic))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, magic)
}

// Backup writes a consistent copy of the database at db's path to dest.
// See the package function Backup.
func (db *DB) Backup(ctx context.Context, dest string) error { return Backup(ctx, db.path, dest) }

// sameDatabase reports whether dest names the database at path or one of
// its WAL files: replacing those under a running server loses its writes.
func sameDatabase(path, dest string) bool {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		a, errA := filepath.Abs(path + suffix)
		b, errB := filepath.Abs(dest)
		if errA == nil && errB == nil && a == b {
			return true
		}
		sa, errA := os.Stat(path + suffix)
		sb, errB := os.Stat(dest)
		if errA == nil && errB == nil && os.SameFile(sa, sb) {
			return true
		}
	}
	return false
}

// Backup writes a consistent copy of the database file at path to dest
// with VACUUM INTO, on a read-only connection of its own: it reads one
// snapshot, so writers (a running `serve`) go on meanwhile. The copy is
// written 0600 beside dest, synced, then renamed over dest, so dest is
// either the old file or the complete new one.
func Backup(ctx context.Context, path, dest string) error {
	if sameDatabase(path, dest) {
		return fmt.Errorf("backup: %s is the database itself (or its -wal/-shm): write the backup elsewhere", dest)
	}
	src, err := openReadOnly(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := tempFile(dest)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after a successful rename: nothing to remove
	// VACUUM INTO accepts an existing empty file: creating it first makes
	// its mode 0600 (it holds password hashes).
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncDir(filepath.Dir(dest))
}

// CheckBackup checks the database file at path as a restore would: it must
// pass PRAGMA integrity_check and be a workspace database. It returns the
// file's schema version.
func CheckBackup(ctx context.Context, path string) (version int64, err error) {
	if !IsDatabaseFile(path) {
		return 0, fmt.Errorf("%s is not a SQLite database", path)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, fmt.Errorf("integrity check: %w", err)
		}
		problems = append(problems, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return 0, fmt.Errorf("integrity check of %s failed: %v", path, problems)
	}
	var hasGoose bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version')`).Scan(&hasGoose); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !hasGoose {
		return 0, fmt.Errorf("%s is not a workspace database: it has no goose_db_version table", path)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return version, nil
}

// Restore replaces the database file at path with the backup at from. The
// backup is copied beside path first and checked there (CheckBackup; its
// schema must not be newer than the binary's). Then, holding an exclusive
// lock on the current database (refused with ErrInUse while another
// connection has it open), stale -wal/-shm files are removed and the copy
// is renamed over path. It returns the restored schema version; an older
// one is migrated by the next `serve` or `migrate`.
func Restore(ctx context.Context, from, path string) (version int64, err error) {
	if !IsDatabaseFile(from) {
		return 0, fmt.Errorf("%s is not a SQLite database", from)
	}
	latest, err := LatestVersion()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := tempFile(path)
	if err != nil {
		return 0, err
	}
	installed := false
	defer func() {
		if !installed {
			os.Remove(tmp)
		}
		removeSidecars(tmp)
	}()
	if err := copyFile(from, tmp); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if version, err = CheckBackup(ctx, tmp); err != nil {
		return 0, err
	}
	if version > latest {
		return 0, fmt.Errorf("the backup's schema (version %d) is newer than this binary's (%d): restore it with a newer binary", version, latest)
	}

	release, err := lockExclusive(ctx, path)
	if err != nil {
		return 0, err
	}
	defer release()
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	installed = true
	return version, syncDir(filepath.Dir(path))
}

// lockExclusive takes an exclusive lock on the database at path, if it
// exists, and returns the function that releases it. Leaving WAL mode needs
// every other connection closed, so it fails (without waiting) while one is
// open; the rollback-journal EXCLUSIVE lock then keeps new ones out.
func lockExclusive(ctx context.Context, path string) (release func(), err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	q := url.Values{"_pragma": {"busy_timeout(0)"}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, inUse(path, err)
	}
	release = func() {
		conn.ExecContext(context.Background(), `ROLLBACK`)
		conn.Close()
		db.Close()
	}
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		release()
		return nil, inUse(path, err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		release()
		return nil, inUse(path, err)
	}
	return release, nil
}

func inUse(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED) {
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	return fmt.Errorf("lock %s: %w", path, err)
}

// tempFile creates an empty 0600 file beside path, for an atomic rename.
func tempFile(path string) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	return tmp, f.Close()
}

// removeSidecars removes the -wal and -shm files that opening a WAL
// database read-only may leave beside a file that is not a live database.
func removeSidecars(path string) {
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Sync(), out.Close())
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
