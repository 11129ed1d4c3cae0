package workspace

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Table describes one table of a database being converted, as its engine's
// catalog reports it: nothing about the schema is hard-coded, so tables
// added by later migrations are converted too.
type Table struct {
	Name    string
	Columns []string // in the table's order
	Key     []string // primary key columns (empty: none), used to name rows in errors
	Refs    []string // tables its foreign keys reference (itself excluded)
	Rows    int64    // row count in the snapshot
	// Seq is the highest id ever handed out (SQLite's sqlite_sequence), which
	// may exceed the largest id still present; 0 when unknown.
	Seq int64
}

// RowSource streams the rows of one table. Values returns the engine's raw
// values in the order of Table.Columns (for SQLite: nil, int64, float64,
// string or []byte). Its shape is pgx.CopyFromSource's, plus Close.
type RowSource interface {
	Next() bool
	Values() ([]any, error)
	Err() error
	Close() error
}

// Dumper reads a whole database from one consistent snapshot: the source
// of `workspace convert`.
type Dumper interface {
	// SchemaVersion is the snapshot's migration version.
	SchemaVersion() int64
	// Tables lists the data tables (migration bookkeeping excluded) in
	// foreign-key order: every table comes after the tables it references.
	Tables() []Table
	// Rows streams the rows of t, in primary key order.
	Rows(ctx context.Context, t Table) (RowSource, error)
	// Close ends the snapshot.
	Close() error
}

// RowError reports a source value that cannot be stored as the target
// column's type: the conversion fails with it rather than dropping or
// altering the value.
type RowError struct {
	Table  string
	Key    string // "id 42", "user_id 3, conversation_id general", or "row 7"
	Column string
	Err    error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("table %s, %s, column %s: %v", e.Table, e.Key, e.Column, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// RowKey formats the key of a row for a RowError: the primary key columns
// of t with their values in row (raw values in the order of t.Columns), or
// the row's position n (1-based) when t has no primary key.
func RowKey(t Table, row []any, n int64) string {
	if len(t.Key) == 0 {
		return fmt.Sprintf("row %d", n)
	}
	parts := make([]string, 0, len(t.Key))
	for _, k := range t.Key {
		i := slices.Index(t.Columns, k)
		var v any = "?"
		if i >= 0 && i < len(row) {
			v = row[i]
		}
		if b, ok := v.([]byte); ok {
			v = fmt.Sprintf("x'%x'", b)
		}
		parts = append(parts, fmt.Sprintf("%s %v", k, v))
	}
	return strings.Join(parts, ", ")
}

// SortTables orders tables so that every table follows the tables it
// references (a topological sort; ties keep name order, so the order is
// stable). References to tables not in the list are ignored. A cycle is an
// error: such tables cannot be loaded one after the other.
func SortTables(tables []Table) ([]Table, error) {
	byName := make(map[string]Table, len(tables))
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	slices.Sort(names)
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(tables))
	out := make([]Table, 0, len(tables))
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("foreign keys form a cycle: %s", strings.Join(append(path, name), " -> "))
		}
		state[name] = visiting
		refs := slices.Clone(byName[name].Refs)
		slices.Sort(refs)
		for _, r := range refs {
			if _, ok := byName[r]; !ok || r == name {
				continue
			}
			if err := visit(r, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = done
		out = append(out, byName[name])
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
