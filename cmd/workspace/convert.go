package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"workspace"
	"workspace/postgres"
	"workspace/sqlite"
)

func runConvert(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: workspace convert [--from FILE] [--to postgres://…] [--dry-run] [--replace]

Copies every table of a SQLite database into PostgreSQL (migrating the target's
schema first), resets the sequences and verifies each table's row count and
checksum, all in one PostgreSQL transaction. The source is read from one
snapshot, so 'serve' may keep running on it. Prefer DATABASE_URL to --to: a
password given as a flag is visible in the process list.`)
		fs.PrintDefaults()
	}
	cfg := DefaultConfig()
	if err := cfg.LoadEnv(getenv); err != nil {
		return err
	}
	from := filepath.Join(cfg.DataDir, "workspace.db")
	var to string
	if kind, target := cfg.Engine(); kind == "postgres" {
		to = target
	} else if cfg.DatabaseURL != "" {
		from = target
	}
	var dryRun, replace bool
	fs.StringVar(&from, "from", from, "SQLite database file to read (default: the configured one)")
	fs.StringVar(&to, "to", to, "PostgreSQL database to fill, postgres://… (env DATABASE_URL)")
	fs.BoolVar(&dryRun, "dry-run", false, "check everything and report what would be copied; write nothing")
	fs.BoolVar(&replace, "replace", false, "wipe the target's rows if it is not empty (in the same transaction)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("convert: unexpected argument %q", fs.Arg(0))
	}
	if to == "" {
		return errors.New("convert: no target: give --to postgres://… or set DATABASE_URL")
	}
	if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
		return errors.New("convert: the target must be a postgres:// URL")
	}
	return convert(ctx, convertOptions{From: from, To: to, DryRun: dryRun, Replace: replace}, stdout, stderr)
}

type convertOptions struct {
	From, To        string
	DryRun, Replace bool
}

// convert copies the SQLite database opts.From into the PostgreSQL
// database opts.To; see runConvert.
func convert(ctx context.Context, opts convertOptions, stdout, stderr io.Writer) error {
	started := time.Now()
	src, err := sqlite.OpenDump(ctx, opts.From)
	if err != nil {
		return fmt.Errorf("convert: source: %w", err)
	}
	defer src.Close()
	latest, err := sqlite.LatestVersion()
	if err != nil {
		return err
	}
	tables := src.Tables()
	var total int64
	for _, t := range tables {
		total += t.Rows
	}
	fmt.Fprintf(stdout, "source %s: schema version %d, %d tables, %d rows (one snapshot)\n", opts.From, src.SchemaVersion(), len(tables), total)
	switch v := src.SchemaVersion(); {
	case v > latest:
		return fmt.Errorf("convert: the source schema (version %d) is newer than this binary's (%d): use a newer binary", v, latest)
	case v < latest:
		return fmt.Errorf("convert: the source schema (version %d) is older than this binary's (%d): migrate it first (`workspace migrate -db %s`, or start `serve` once)", v, latest, opts.From)
	}

	dst, err := postgres.Open(ctx, opts.To, postgres.Options{MaxConns: 4})
	if err != nil {
		return fmt.Errorf("convert: target: %w", err)
	}
	defer dst.Close()
	target := redactDSN(opts.To)
	current, err := dst.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("convert: target: %w", err)
	}
	if current > latest {
		return fmt.Errorf("convert: the target schema (version %d) is newer than this binary's (%d)", current, latest)
	}
	if opts.DryRun && current < latest {
		fmt.Fprintf(stdout, "target %s: schema version %d; convert would migrate it to %d first\n", target, current, latest)
		for _, t := range tables {
			fmt.Fprintf(stdout, "would copy %-16s %10d rows\n", t.Name, t.Rows)
		}
		fmt.Fprintln(stdout, "dry run: nothing written. The values are checked against the target's column types only once its schema exists: run `workspace migrate` on the target for a full dry run.")
		return nil
	}
	if !opts.DryRun {
		applied, err := dst.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("convert: migrate the target: %w", err)
		}
		if current, err = dst.SchemaVersion(ctx); err != nil {
			return fmt.Errorf("convert: target: %w", err)
		}
		if len(applied) > 0 {
			fmt.Fprintf(stdout, "target %s: migrated to schema version %d (%d files applied)\n", target, current, len(applied))
		}
	}
	if current != src.SchemaVersion() {
		return fmt.Errorf("convert: the source schema (version %d) and the target's (%d) differ", src.SchemaVersion(), current)
	}
	fmt.Fprintf(stdout, "target %s: schema version %d\n", target, current)

	load, err := dst.BeginLoad(ctx, postgres.LoadOptions{Replace: opts.Replace, DryRun: opts.DryRun})
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer load.Rollback()
	if err := load.CheckTables(tables); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if len(load.NonEmpty) > 0 {
		verb := "wiping"
		if opts.DryRun {
			verb = "would wipe"
		}
		fmt.Fprintf(stdout, "%s the target's rows (--replace): %s\n", verb, strings.Join(load.NonEmpty, ", "))
	}

	type result struct {
		table        workspace.Table
		copy, verify time.Duration
	}
	var results []result
	prog := newProgress(stderr, total)
	for _, t := range tables {
		prog.begin(t.Name, t.Rows)
		t0 := time.Now()
		rows, err := src.Rows(ctx, t)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		sum, err := load.Copy(ctx, t, rows, prog.update)
		rows.Close()
		prog.end(sum.Rows)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		if sum.Rows != t.Rows {
			return fmt.Errorf("convert: table %s: %d rows read, the snapshot counted %d", t.Name, sum.Rows, t.Rows)
		}
		r := result{table: t, copy: time.Since(t0)}
		if !opts.DryRun {
			t1 := time.Now()
			if _, err := load.Verify(ctx, t, sum); err != nil {
				return fmt.Errorf("convert: %w", err)
			}
			r.verify = time.Since(t1)
		}
		results = append(results, r)
	}
	t0 := time.Now()
	if err := load.Rebuild(ctx); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	rebuilt := time.Since(t0)
	seqs, err := load.ResetSequences(ctx, tables)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := load.Commit(ctx); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := load.Analyze(ctx, tables); err != nil {
		return fmt.Errorf("convert: %w", err)
	}

	fmt.Fprintf(stdout, "%-20s %10s %9s %10s %9s\n", "table", "rows", "copy", "rows/s", "verify")
	for _, r := range results {
		fmt.Fprintf(stdout, "%-20s %10d %8.2fs %10.0f %8.2fs\n", r.table.Name, r.table.Rows, r.copy.Seconds(),
			float64(r.table.Rows)/max(r.copy.Seconds(), 1e-9), r.verify.Seconds())
	}
	if !opts.DryRun {
		fmt.Fprintf(stdout, "indexes and foreign keys rebuilt in %.2fs\n", rebuilt.Seconds())
	}
	var setvals []string
	for _, s := range seqs {
		setvals = append(setvals, fmt.Sprintf("%s.%s=%d", s.Table, s.Column, s.Value))
	}
	if len(setvals) > 0 {
		verb := "sequences set"
		if opts.DryRun {
			verb = "sequences would be set"
		}
		fmt.Fprintf(stdout, "%s: %s\n", verb, strings.Join(setvals, ", "))
	}
	elapsed := time.Since(started)
	if opts.DryRun {
		fmt.Fprintf(stdout, "dry run: %d rows in %d tables would be copied; every value converts; nothing written (%.1fs)\n", total, len(tables), elapsed.Seconds())
		return nil
	}
	fmt.Fprintf(stdout, "converted %d rows in %d tables in %.1fs (%.0f rows/s); every table verified (row count and checksum)\n",
		total, len(tables), elapsed.Seconds(), float64(total)/max(elapsed.Seconds(), 1e-9))
	warnAuditKey(stdout, opts.From, "copied as is")
	return nil
}

// warnAuditKey tells the operator that sensitive audit values encrypted
// with the key generated beside a SQLite database stay readable only with
// that key (it is a file, not a row: nothing copies it along).
func warnAuditKey(w io.Writer, dbPath, what string) {
	key := filepath.Join(filepath.Dir(dbPath), "audit_key")
	if _, err := os.Stat(key); err != nil {
		return
	}
	fmt.Fprintf(w, "NOTE: sensitive audit metadata encrypted with %s was %s; to read it, give the new deployment that key:\n"+
		"      AUDIT_ENCRYPTION_KEYS=\"$(cat %s)\" (first in the list if it is the only key), and keep the file.\n", key, what, key)
}

// redactDSN returns a DSN fit for output: no password, in the user part or
// in a parameter.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
