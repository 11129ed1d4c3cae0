package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"workspace"
	"workspace/internal/migrate"
)

// LatestVersion returns the schema version of the binary's migrations.
func LatestVersion() (int64, error) { return migrate.Latest(Migrations()) }

// Dump is a consistent, read-only snapshot of a database file: one read
// transaction, held from OpenDump to Close, so `serve` may keep writing
// (WAL) while everything is read as of one instant.
type Dump struct {
	db      *sql.DB
	tx      *sql.Tx
	version int64
	tables  []workspace.Table
}

var _ workspace.Dumper = (*Dump)(nil)

// openReadOnly opens the existing file at path read-only (mode=ro: the file
// is never created or written; unlike query_only, VACUUM INTO still works)
// on a single connection.
func openReadOnly(path string) (*sql.DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: not a regular file", path)
	}
	q := url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(10000)"}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// OpenDump opens the database file at path read-only and starts the read
// transaction of the snapshot. Tables are discovered from sqlite_schema and
// the table_info and foreign_key_list pragmas, and sorted in foreign-key
// order; goose's bookkeeping and SQLite's internal tables are left out.
func OpenDump(ctx context.Context, path string) (*Dump, error) {
	db, err := openReadOnly(path)
	if err != nil {
		return nil, err
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	d := &Dump{db: db, tx: tx}
	if err := d.load(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dump) load(ctx context.Context) error {
	// The first read of the transaction fixes the snapshot.
	var hasGoose bool
	if err := d.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version')`).Scan(&hasGoose); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if !hasGoose {
		return errors.New("not a workspace database: it has no goose_db_version table")
	}
	if err := d.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version`).Scan(&d.version); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	names, err := queryStrings(ctx, d.tx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	seqs := map[string]int64{}
	var hasSeq bool
	if err := d.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence')`).Scan(&hasSeq); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if hasSeq {
		rows, err := d.tx.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
		if err != nil {
			return fmt.Errorf("read sqlite_sequence: %w", err)
		}
		for rows.Next() {
			var name string
			var seq int64
			if err := rows.Scan(&name, &seq); err != nil {
				rows.Close()
				return fmt.Errorf("read sqlite_sequence: %w", err)
			}
			seqs[name] = seq
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read sqlite_sequence: %w", err)
		}
	}
	tables := make([]workspace.Table, 0, len(names))
	for _, name := range names {
		t := workspace.Table{Name: name, Seq: seqs[name]}
		rows, err := d.tx.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		keys := map[int]string{}
		for rows.Next() {
			var col string
			var pk int
			if err := rows.Scan(&col, &pk); err != nil {
				rows.Close()
				return fmt.Errorf("columns of %s: %w", name, err)
			}
			t.Columns = append(t.Columns, col)
			if pk > 0 {
				keys[pk] = col
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("columns of %s: %w", name, err)
		}
		for i := 1; i <= len(keys); i++ {
			t.Key = append(t.Key, keys[i])
		}
		refs, err := queryStrings(ctx, d.tx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, name)
		if err != nil {
			return fmt.Errorf("foreign keys of %s: %w", name, err)
		}
		for _, r := range refs {
			if r != name {
				t.Refs = append(t.Refs, r)
			}
		}
		if err := d.tx.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(name)).Scan(&t.Rows); err != nil {
			return fmt.Errorf("count %s: %w", name, err)
		}
		tables = append(tables, t)
	}
	d.tables, err = workspace.SortTables(tables)
	return err
}

// SchemaVersion is the snapshot's migration version.
func (d *Dump) SchemaVersion() int64 { return d.version }

// Tables lists the data tables in foreign-key order.
func (d *Dump) Tables() []workspace.Table { return d.tables }

// Rows streams the rows of t in primary key order (rowid order for a
// table without one), as the driver returns them: nil, int64, float64,
// string or []byte.
func (d *Dump) Rows(ctx context.Context, t workspace.Table) (workspace.RowSource, error) {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c)
	}
	order := "rowid"
	if len(t.Key) > 0 {
		keys := make([]string, len(t.Key))
		for i, k := range t.Key {
			keys[i] = quoteIdent(k)
		}
		order = strings.Join(keys, ", ")
	}
	rows, err := d.tx.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quoteIdent(t.Name)+` ORDER BY `+order)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.Name, err)
	}
	src := &rowSource{rows: rows, vals: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range src.vals {
		src.ptrs[i] = &src.vals[i]
	}
	return src, nil
}

// Close ends the read transaction and closes the file.
func (d *Dump) Close() error {
	return errors.Join(d.tx.Rollback(), d.db.Close())
}

type rowSource struct {
	rows *sql.Rows
	vals []any
	ptrs []any
	err  error
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	clear(s.vals)
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	return true
}

// Values returns the current row; the slice is reused by the next call to
// Next.
func (s *rowSource) Values() ([]any, error) { return s.vals, nil }

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

func (s *rowSource) Close() error { return s.rows.Close() }

// quoteIdent quotes a SQLite identifier (names come from the catalog).
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func queryStrings(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
