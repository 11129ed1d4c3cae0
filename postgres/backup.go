package postgres

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"workspace/internal/migrate"
)

// LatestVersion returns the schema version of the binary's migrations.
func LatestVersion() (int64, error) { return migrate.Latest(Migrations()) }

// tool finds a PostgreSQL client program, or says plainly that it is
// missing.
func tool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not on the PATH: backups of a PostgreSQL database use the PostgreSQL client tools "+
			"(pg_dump and pg_restore, of the server's major version or newer; Debian: apt-get install postgresql-client)", name)
	}
	return path, nil
}

// libpq is the connection of a DSN as the PostgreSQL client tools take it:
// a URL without the password, the password in PGPASSWORD (not in the
// arguments, which any user can read from the process list), and pgx
// runtime parameters that libpq does not know (search_path, …) in
// PGOPTIONS.
type libpq struct {
	url     string
	env     []string
	schemas []string // from search_path: the schemas to back up
}

// libpqParams are the URL parameters libpq itself understands.
var libpqParams = []string{"host", "hostaddr", "port", "dbname", "user", "passfile", "channel_binding",
	"connect_timeout", "client_encoding", "options", "application_name", "fallback_application_name",
	"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"replication", "gssencmode", "sslmode", "requiressl", "sslcompression", "sslcert", "sslkey",
	"sslpassword", "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
	"ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation",
	"service", "target_session_attrs", "load_balance_hosts"}

func parseLibpq(dsn string) (libpq, error) {
	var c libpq
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return c, errors.New("postgres: invalid connection string: want postgres://…")
	}
	c.env = []string{"PGCONNECT_TIMEOUT=10"}
	if pw, ok := u.User.Password(); ok {
		c.env = append(c.env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	var options []string
	for key, vals := range q {
		switch {
		case key == "password":
			c.env = append(c.env, "PGPASSWORD="+vals[0])
			q.Del(key)
		case slices.Contains(libpqParams, key):
		case strings.HasPrefix(key, "pool_") || key == "statement_cache_capacity" || key == "description_cache_capacity" || key == "default_query_exec_mode":
			q.Del(key) // pgx settings
		default:
			// A runtime parameter pgx sends at startup: libpq takes it as
			// "-c key=value" in options.
			options = append(options, "-c "+key+"="+strings.ReplaceAll(vals[0], " ", `\ `))
			if key == "search_path" {
				for _, s := range strings.Split(vals[0], ",") {
					if s = strings.TrimSpace(s); s != "" && s != `"$user"` {
						c.schemas = append(c.schemas, s)
					}
				}
			}
			q.Del(key)
		}
	}
	if len(options) > 0 {
		slices.Sort(options)
		c.env = append(c.env, "PGOPTIONS="+strings.Join(options, " "))
	}
	u.RawQuery = q.Encode()
	c.url = u.String()
	return c, nil
}

// runTool runs a client program with the connection's environment; its
// standard error (never holding the password) is returned in the error.
func runTool(ctx context.Context, c libpq, stdout io.Writer, name string, args ...string) error {
	path, err := tool(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

// Backup writes a logical backup of the database at dsn to dest with
// `pg_dump -Fc` (custom format, compressed; with a search_path in the DSN,
// only those schemas). The file is written 0600 beside dest, synced and
// renamed over it.
func Backup(ctx context.Context, dsn, dest string) error {
	c, err := parseLibpq(dsn)
	if err != nil {
		return err
	}
	if _, err := tool("pg_dump"); err != nil {
		return err
	}
	var b [6]byte
	rand.Read(b[:])
	tmp := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp) // after a successful rename: nothing to remove
	args := []string{"--format=custom", "--no-password", "--dbname=" + c.url}
	for _, s := range c.schemas {
		args = append(args, "--schema="+s)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = runTool(ctx, c, w, "pg_dump", args...)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	d, err := os.Open(filepath.Dir(dest))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// IsDumpFile reports whether the file at path starts like a pg_dump
// custom-format archive.
func IsDumpFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 5)
	_, err = io.ReadFull(f, head)
	return err == nil && string(head) == "PGDMP"
}

// BackupVersion reads the schema version recorded in a pg_dump archive
// (the rows of its goose_db_version table, extracted with pg_restore).
func BackupVersion(ctx context.Context, path string) (int64, error) {
	if !IsDumpFile(path) {
		return 0, fmt.Errorf("%s is not a pg_dump custom-format archive", path)
	}
	var out bytes.Buffer
	if err := runTool(ctx, libpq{}, &out, "pg_restore", "--data-only", "--table=goose_db_version", "--file=-", path); err != nil {
		return 0, err
	}
	var (
		inCopy  bool
		found   bool
		col     = -1
		version int64
	)
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case !inCopy && strings.HasPrefix(line, "COPY ") && strings.Contains(line, "goose_db_version"):
			start, end := strings.Index(line, "("), strings.Index(line, ")")
			if start < 0 || end < start {
				continue
			}
			for i, name := range strings.Split(line[start+1:end], ",") {
				if strings.TrimSpace(name) == "version_id" {
					col = i
				}
			}
			inCopy, found = true, true
		case inCopy && line == `\.`:
			inCopy = false
		case inCopy && col >= 0:
			fields := strings.Split(line, "\t")
			if col < len(fields) {
				v, err := strconv.ParseInt(fields[col], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%s: unreadable goose_db_version row %q", path, line)
				}
				version = max(version, v)
			}
		}
	}
	if !found || col < 0 {
		return 0, fmt.Errorf("%s is not a workspace backup: it has no goose_db_version data", path)
	}
	return version, nil
}

// Restore restores the pg_dump archive at from into the database at dsn
// with `pg_restore --clean --if-exists --single-transaction`: the objects of
// the archive are dropped and recreated, all or nothing. The archive's
// schema must not be newer than the binary's. Stop every `serve` on the
// database first: the restore takes exclusive locks on its tables.
func Restore(ctx context.Context, dsn, from string) (version int64, err error) {
	c, err := parseLibpq(dsn)
	if err != nil {
		return 0, err
	}
	if _, err := tool("pg_restore"); err != nil {
		return 0, err
	}
	if version, err = BackupVersion(ctx, from); err != nil {
		return 0, err
	}
	latest, err := LatestVersion()
	if err != nil {
		return 0, err
	}
	if version > latest {
		return 0, fmt.Errorf("the backup's schema (version %d) is newer than this binary's (%d): restore it with a newer binary", version, latest)
	}
	// pg_restore --clean drops only what the archive holds: into a database
	// migrated further, the newer tables would stay while the recorded
	// version goes back, and the next migration would fail.
	current, err := databaseVersion(ctx, dsn)
	if err != nil {
		return 0, err
	}
	if current > version {
		return 0, fmt.Errorf("the database is at schema version %d, newer than the backup's (%d): restore into an empty database, then run `workspace migrate`", current, version)
	}
	err = runTool(ctx, c, io.Discard, "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
		"--no-password", "--dbname="+c.url, from)
	return version, err
}

// databaseVersion is the goose schema version of the database at dsn (0 for
// a database never migrated).
func databaseVersion(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", mapErr(err))
	}
	defer conn.Close(ctx)
	var v int64
	err = conn.QueryRow(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // no goose table: never migrated
		return 0, nil
	}
	return v, err
}
