package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"workspace"
)

// ErrNotEmpty means the target of a conversion already holds rows.
var ErrNotEmpty = errors.New("the target database is not empty")

// LoadOptions tune BeginLoad.
type LoadOptions struct {
	// Replace wipes (TRUNCATE … RESTART IDENTITY) a non-empty target
	// instead of refusing it, in the load's transaction.
	Replace bool
	// DryRun converts and checks every value but writes nothing: the
	// transaction is read-only and rolled back.
	DryRun bool
}

// Load is a bulk load of rows from another engine into this database, in
// one transaction: the target of `workspace convert`. Tables and column
// types come from information_schema (the current schema), so tables added
// by later migrations are loaded too.
type Load struct {
	db       *DB
	tx       pgx.Tx
	schema   string
	tables   map[string]*loadTable
	opts     LoadOptions
	NonEmpty []string // tables that held rows when the load began
	rebuild  []string // statements that recreate the dropped indexes and foreign keys
}

type loadTable struct {
	name    string
	columns []*column // in ordinal order
}

func (t *loadTable) column(name string) *column {
	for _, c := range t.columns {
		if c.name == name {
			return c
		}
	}
	return nil
}

// BeginLoad starts the load's transaction, reads the catalog and checks
// that the target is empty: if it is not, it returns ErrNotEmpty (naming
// the tables) unless opts.Replace, which truncates every table. Every table
// is locked against writes (EXCLUSIVE: reads go on) until Commit.
func (db *DB) BeginLoad(ctx context.Context, opts LoadOptions) (*Load, error) {
	txOpts := pgx.TxOptions{}
	if opts.DryRun {
		txOpts.AccessMode = pgx.ReadOnly
	}
	tx, err := db.pool.BeginTx(ctx, txOpts)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	l := &Load{db: db, tx: tx, opts: opts, tables: map[string]*loadTable{}}
	if err := l.begin(ctx); err != nil {
		l.Rollback()
		return nil, err
	}
	return l, nil
}

func (l *Load) begin(ctx context.Context) error {
	if err := l.tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&l.schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	rows, err := l.tx.Query(ctx, `
		SELECT c.table_name, c.column_name, c.udt_name, COALESCE(c.character_maximum_length, 0), c.is_nullable = 'YES'
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.table_name <> 'goose_db_version'
		ORDER BY c.table_name, c.ordinal_position`, l.schema)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	for rows.Next() {
		var table string
		c := &column{}
		if err := rows.Scan(&table, &c.name, &c.typ, &c.maxLen, &c.nullable); err != nil {
			rows.Close()
			return fmt.Errorf("read catalog: %w", err)
		}
		c.kind, c.bits = kindOf(c.typ)
		t := l.tables[table]
		if t == nil {
			t = &loadTable{name: table}
			l.tables[table] = t
		}
		t.columns = append(t.columns, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	names := l.tableNames()
	for _, name := range names {
		var nonEmpty bool
		if err := l.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+l.ident(name)+`)`).Scan(&nonEmpty); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if nonEmpty {
			l.NonEmpty = append(l.NonEmpty, name)
		}
	}
	if len(l.NonEmpty) > 0 && !l.opts.Replace {
		return fmt.Errorf("%w: %s hold rows (use --replace to wipe them)", ErrNotEmpty, strings.Join(l.NonEmpty, ", "))
	}
	if l.opts.DryRun || len(names) == 0 {
		return nil
	}
	idents := make([]string, len(names))
	for i, n := range names {
		idents[i] = l.ident(n)
	}
	// Wait a bounded time for a lock: a busy `serve` on the target should
	// fail the conversion, not hang it.
	if _, err := l.tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if len(l.NonEmpty) > 0 {
		if _, err := l.tx.Exec(ctx, `TRUNCATE `+strings.Join(idents, ", ")+` RESTART IDENTITY`); err != nil {
			return fmt.Errorf("wipe the target: %w", err)
		}
	}
	if _, err := l.tx.Exec(ctx, `LOCK TABLE `+strings.Join(idents, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return l.dropSecondary(ctx)
}

// dropSecondary drops the foreign keys and the indexes that back no
// constraint, remembering their definitions (pg_get_constraintdef,
// pg_get_indexdef) for Rebuild: building an index once after the load is
// several times faster than maintaining it row by row, and so is checking
// a foreign key once. Primary keys and unique constraints stay. All of it
// is inside the load's transaction: a failed load leaves them as they were.
func (l *Load) dropSecondary(ctx context.Context) error {
	type object struct{ table, name, def string }
	query := func(q string) ([]object, error) {
		rows, err := l.tx.Query(ctx, q, l.schema)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []object
		for rows.Next() {
			var o object
			if err := rows.Scan(&o.table, &o.name, &o.def); err != nil {
				return nil, err
			}
			out = append(out, o)
		}
		return out, rows.Err()
	}
	fks, err := query(`
		SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND c.contype = 'f' AND t.relname <> 'goose_db_version'
		ORDER BY t.relname, c.conname`)
	if err != nil {
		return fmt.Errorf("read foreign keys: %w", err)
	}
	indexes, err := query(`
		SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND t.relkind = 'r' AND t.relname <> 'goose_db_version'
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
		                  WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY t.relname, i.relname`)
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	for _, fk := range fks {
		if _, err := l.tx.Exec(ctx, `ALTER TABLE `+l.ident(fk.table)+` DROP CONSTRAINT `+pgx.Identifier{fk.name}.Sanitize()); err != nil {
			return fmt.Errorf("drop foreign key %s: %w", fk.name, err)
		}
	}
	for _, ix := range indexes {
		if _, err := l.tx.Exec(ctx, `DROP INDEX `+l.ident(ix.name)); err != nil {
			return fmt.Errorf("drop index %s: %w", ix.name, err)
		}
		l.rebuild = append(l.rebuild, ix.def)
	}
	for _, fk := range fks {
		l.rebuild = append(l.rebuild, `ALTER TABLE `+l.ident(fk.table)+` ADD CONSTRAINT `+pgx.Identifier{fk.name}.Sanitize()+` `+fk.def)
	}
	return nil
}

// Rebuild recreates the indexes and foreign keys dropped for the load
// (Commit does it if it has not been done). A foreign key the loaded rows
// break fails here, naming the constraint.
func (l *Load) Rebuild(ctx context.Context) error {
	if len(l.rebuild) > 0 {
		// A bigger sort memory for this transaction's index builds.
		if _, err := l.tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
	}
	for len(l.rebuild) > 0 {
		if _, err := l.tx.Exec(ctx, l.rebuild[0]); err != nil {
			return fmt.Errorf("rebuild: %s: %w", l.rebuild[0], err)
		}
		l.rebuild = l.rebuild[1:]
	}
	return nil
}

// ident returns the quoted, schema-qualified name of a table.
func (l *Load) ident(table string) string { return pgx.Identifier{l.schema, table}.Sanitize() }

func (l *Load) tableNames() []string {
	names := make([]string, 0, len(l.tables))
	for n := range l.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Schema returns the schema the load writes to.
func (l *Load) Schema() string { return l.schema }

// CheckTables fails unless the target has exactly the source's tables, each
// with the same column names and a type convert can load.
func (l *Load) CheckTables(tables []workspace.Table) error {
	seen := map[string]bool{}
	var errs []error
	for _, t := range tables {
		seen[t.Name] = true
		lt := l.tables[t.Name]
		if lt == nil {
			errs = append(errs, fmt.Errorf("table %s is not in the target", t.Name))
			continue
		}
		for _, c := range t.Columns {
			tc := lt.column(c)
			switch {
			case tc == nil:
				errs = append(errs, fmt.Errorf("column %s.%s is not in the target", t.Name, c))
			case tc.kind == kindUnsupported:
				errs = append(errs, fmt.Errorf("column %s.%s has type %s, which convert does not support", t.Name, c, tc.typ))
			}
		}
		for _, tc := range lt.columns {
			if !slices.Contains(t.Columns, tc.name) {
				errs = append(errs, fmt.Errorf("column %s.%s is not in the source", t.Name, tc.name))
			}
		}
	}
	for _, n := range l.tableNames() {
		if !seen[n] {
			errs = append(errs, fmt.Errorf("table %s is not in the source", n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("source and target schemas differ: %w", errors.Join(errs...))
	}
	return nil
}

// Copy converts the rows of t from src to the target's column types and
// writes them with COPY (in a dry run it only converts them). A value that
// cannot be stored exactly fails the load with a *workspace.RowError. It
// returns the checksum of the rows as converted; progress, if not nil, is
// called with the number of rows done so far.
func (l *Load) Copy(ctx context.Context, t workspace.Table, src workspace.RowSource, progress func(rows int64)) (Checksum, error) {
	lt := l.tables[t.Name]
	if lt == nil {
		return Checksum{}, fmt.Errorf("table %s is not in the target", t.Name)
	}
	cs := &copySource{table: t, src: src, progress: progress, out: make([]any, len(t.Columns))}
	for _, name := range t.Columns {
		cs.cols = append(cs.cols, lt.column(name))
	}
	if l.opts.DryRun {
		for cs.Next() {
			if _, err := cs.Values(); err != nil {
				return cs.sum, err
			}
		}
		if err := cs.Err(); err != nil {
			return cs.sum, err
		}
	} else {
		n, err := l.tx.CopyFrom(ctx, pgx.Identifier{l.schema, t.Name}, t.Columns, cs)
		if cs.rowErr != nil {
			return cs.sum, cs.rowErr
		}
		if err != nil {
			return cs.sum, copyError(t.Name, err)
		}
		if n != cs.sum.Rows {
			return cs.sum, fmt.Errorf("copy %s: %d rows written, %d read", t.Name, n, cs.sum.Rows)
		}
	}
	if progress != nil {
		progress(cs.sum.Rows)
	}
	return cs.sum, nil
}

// copyError adds what PostgreSQL says about the failing row (the COPY line
// number, the constraint) to a COPY error.
func copyError(table string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		var parts []string
		for _, p := range []string{pe.Detail, pe.Where, pe.ConstraintName} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			return fmt.Errorf("copy %s: %w (%s)", table, err, strings.Join(parts, "; "))
		}
	}
	return fmt.Errorf("copy %s: %w", table, err)
}

// copySource feeds pgx's COPY: each source row is converted, and its
// canonical form hashed into the checksum, as it goes.
type copySource struct {
	table    workspace.Table
	src      workspace.RowSource
	cols     []*column
	out      []any
	row      row
	sum      Checksum
	progress func(int64)
	rowErr   error
}

func (s *copySource) Next() bool { return s.rowErr == nil && s.src.Next() }

func (s *copySource) Values() ([]any, error) {
	raw, err := s.src.Values()
	if err != nil {
		return nil, err
	}
	s.row.reset()
	for i, c := range s.cols {
		v, err := c.convert(raw[i], &s.row)
		if err != nil {
			s.rowErr = &workspace.RowError{Table: s.table.Name, Key: workspace.RowKey(s.table, raw, s.sum.Rows+1), Column: c.name, Err: err}
			return nil, s.rowErr
		}
		s.out[i] = v
	}
	s.sum.add(s.row.sum())
	if s.progress != nil && s.sum.Rows%4096 == 0 {
		s.progress(s.sum.Rows)
	}
	return s.out, nil
}

func (s *copySource) Err() error {
	if s.rowErr != nil {
		return s.rowErr
	}
	return s.src.Err()
}

// Verify reads every row of t back from the target, in the load's
// transaction, and fails naming the table unless its count and checksum
// equal want.
func (l *Load) Verify(ctx context.Context, t workspace.Table, want Checksum) (Checksum, error) {
	got, err := l.Checksum(ctx, t.Name, t.Columns)
	if err != nil {
		return got, err
	}
	if got != want {
		return got, fmt.Errorf("verification of table %s failed: source %s; target %s", t.Name, want, got)
	}
	return got, nil
}

// Checksum computes the checksum of the named columns of every row of a
// table, read through pgx.
func (l *Load) Checksum(ctx context.Context, table string, columns []string) (Checksum, error) {
	var sum Checksum
	lt := l.tables[table]
	if lt == nil {
		return sum, fmt.Errorf("table %s is not in the target", table)
	}
	cols := make([]*column, len(columns))
	sel := make([]string, len(columns))
	for i, name := range columns {
		c := lt.column(name)
		if c == nil {
			return sum, fmt.Errorf("column %s.%s is not in the target", table, name)
		}
		cols[i] = c
		sel[i] = pgx.Identifier{name}.Sanitize()
		if c.kind == kindJSON {
			// As text: pgx would decode JSON numbers into float64.
			sel[i] += "::text"
		}
	}
	rows, err := l.tx.Query(ctx, `SELECT `+strings.Join(sel, ", ")+` FROM `+l.ident(table))
	if err != nil {
		return sum, fmt.Errorf("read back %s: %w", table, err)
	}
	defer rows.Close()
	var r row
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return sum, fmt.Errorf("read back %s: %w", table, err)
		}
		r.reset()
		for i, c := range cols {
			if err := c.canonical(vals[i], &r); err != nil {
				return sum, fmt.Errorf("read back %s.%s: %w", table, c.name, err)
			}
		}
		sum.add(r.sum())
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("read back %s: %w", table, err)
	}
	return sum, nil
}

// SequenceReset is one sequence set by ResetSequences.
type SequenceReset struct {
	Table, Column, Sequence string
	Value                   int64
}

// ResetSequences sets every serial/identity sequence of the loaded tables
// (found with pg_get_serial_sequence) to the largest value in its column,
// or to the table's Seq (the source's high-water mark) when that is larger,
// so the next insert gets a fresh id and ids deleted in the source are not
// handed out again. A sequence of an empty column is left as is.
func (l *Load) ResetSequences(ctx context.Context, tables []workspace.Table) ([]SequenceReset, error) {
	var out []SequenceReset
	for _, t := range tables {
		lt := l.tables[t.Name]
		if lt == nil {
			continue
		}
		for _, c := range lt.columns {
			if c.kind != kindInt {
				continue
			}
			var seq *string
			if err := l.tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, l.ident(t.Name), c.name).Scan(&seq); err != nil {
				return out, fmt.Errorf("sequence of %s.%s: %w", t.Name, c.name, err)
			}
			if seq == nil {
				continue
			}
			var maxID *int64
			if err := l.tx.QueryRow(ctx, `SELECT max(`+pgx.Identifier{c.name}.Sanitize()+`)::bigint FROM `+l.ident(t.Name)).Scan(&maxID); err != nil {
				return out, fmt.Errorf("sequence of %s.%s: %w", t.Name, c.name, err)
			}
			v := int64(0)
			if maxID != nil {
				v = *maxID
			}
			if len(t.Key) == 1 && t.Key[0] == c.name {
				v = max(v, t.Seq)
			}
			if v < 1 {
				continue
			}
			if l.opts.DryRun {
				out = append(out, SequenceReset{Table: t.Name, Column: c.name, Sequence: *seq, Value: v})
				continue
			}
			if _, err := l.tx.Exec(ctx, `SELECT setval($1::regclass, $2)`, *seq, v); err != nil {
				return out, fmt.Errorf("reset %s: %w", *seq, err)
			}
			out = append(out, SequenceReset{Table: t.Name, Column: c.name, Sequence: *seq, Value: v})
		}
	}
	return out, nil
}

// Commit commits the load (a dry run is rolled back instead).
func (l *Load) Commit(ctx context.Context) error {
	if l.opts.DryRun {
		return l.tx.Rollback(ctx)
	}
	if err := l.Rebuild(ctx); err != nil {
		return err
	}
	if err := l.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback abandons the load; after Commit it does nothing.
func (l *Load) Rollback() { _ = l.tx.Rollback(context.Background()) }

// Analyze refreshes the planner's statistics of the loaded tables, which
// a bulk load leaves stale. Call it after Commit.
func (l *Load) Analyze(ctx context.Context, tables []workspace.Table) error {
	if l.opts.DryRun {
		return nil
	}
	for _, t := range tables {
		if _, err := l.db.pool.Exec(ctx, `ANALYZE `+l.ident(t.Name)); err != nil {
			return fmt.Errorf("analyze %s: %w", t.Name, err)
		}
	}
	return nil
}

// SchemaVersion reads the database's migration version without changing
// anything (goose's status creates its table when it is missing): 0 for a
// database never migrated.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, mapSchemaErr(err)
	}
	var v int64
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, mapSchemaErr(err)
	}
	return v, nil
}

func mapSchemaErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("schema version: %w", err)
}
