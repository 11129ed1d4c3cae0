package sqlite

import (
	"context"
	"database/sql"

	"workspace"
)

// The monitoring reports on SQLite. The driver is built with the dbstat
// virtual table (SQLITE_ENABLE_DBSTAT_VTAB), which gives exact page counts
// per table and index; its aggregate mode ('main', 1) returns one row per
// b-tree instead of one per page.

const engineName = "sqlite"

// DBConnections is not available: SQLite is a file opened by this process,
// with no server and no other sessions to count.
func (db *DB) DBConnections(ctx context.Context) (*workspace.ConnectionsReport, error) {
	return &workspace.ConnectionsReport{
		Availability: workspace.Availability{Engine: engineName, Reason: "Not available on SQLite: the database is a file opened by this process, with no server connections to count. The process's own pool is on /metrics (workspace_db_* metrics)."},
		Databases:    []workspace.DatabaseConnections{},
	}, nil
}

// DBSlowQueries is not available: SQLite keeps no statement statistics.
func (db *DB) DBSlowQueries(ctx context.Context) (*workspace.SlowQueriesReport, error) {
	return &workspace.SlowQueriesReport{
		Availability: workspace.Availability{Engine: engineName, Reason: "Not available on SQLite: it keeps no statement statistics (pg_stat_statements is a PostgreSQL extension). Request latencies per route are on /metrics."},
		Queries:      []workspace.SlowQuery{},
	}, nil
}

// DBTables sums the pages of each table and its indexes (dbstat).
func (db *DB) DBTables(ctx context.Context) (*workspace.TablesReport, error) {
	pageSize, pageCount, err := db.pages(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := db.monitor.QueryContext(ctx, `
		SELECT m.tbl_name, sum(s.pgsize)
		FROM sqlite_schema m JOIN dbstat('main', 1) s ON s.name = m.name
		WHERE m.type IN ('table', 'index')
		GROUP BY m.tbl_name
		ORDER BY 2 DESC, 1`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := &workspace.TablesReport{
		Availability:  workspace.Availability{Engine: engineName, Available: true, Reason: "Sizes include each table's indexes, as pg_total_relation_size (dbstat)."},
		DatabaseBytes: pageSize * pageCount, DatabaseSize: workspace.PrettySize(pageSize * pageCount),
		Tables: []workspace.TableSize{},
	}
	for rows.Next() {
		var t workspace.TableSize
		if err := rows.Scan(&t.Name, &t.Bytes); err != nil {
			return nil, mapErr(err)
		}
		pages := t.Bytes / pageSize
		t.Size, t.Pages = workspace.PrettySize(t.Bytes), &pages
		out.Tables = append(out.Tables, t)
	}
	return out, mapErr(rows.Err())
}

// DBIndexUsage lists the indexes with their sizes. SQLite counts no index
// scans, so Scans is nil and the list is ordered by table and name.
func (db *DB) DBIndexUsage(ctx context.Context) (*workspace.IndexUsageReport, error) {
	rows, err := db.monitor.QueryContext(ctx, `
		SELECT m.tbl_name, m.name, coalesce(s.pgsize, 0)
		FROM sqlite_schema m LEFT JOIN dbstat('main', 1) s ON s.name = m.name
		WHERE m.type = 'index'
		ORDER BY m.tbl_name, m.name`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := &workspace.IndexUsageReport{
		Availability: workspace.Availability{Engine: engineName, Available: true, Reason: "SQLite keeps no index usage counters: scans is null; sizes from dbstat. EXPLAIN QUERY PLAN shows which index a query uses."},
		Indexes:      []workspace.IndexUsage{},
	}
	for rows.Next() {
		var ix workspace.IndexUsage
		if err := rows.Scan(&ix.Table, &ix.Index, &ix.Bytes); err != nil {
			return nil, mapErr(err)
		}
		ix.Size = workspace.PrettySize(ix.Bytes)
		out.Indexes = append(out.Indexes, ix)
	}
	return out, mapErr(rows.Err())
}

func (db *DB) pages(ctx context.Context) (size, count int64, err error) {
	if err := db.monitor.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		return 0, 0, mapErr(err)
	}
	if err := db.monitor.QueryRowContext(ctx, "PRAGMA page_count").Scan(&count); err != nil {
		return 0, 0, mapErr(err)
	}
	return size, count, nil
}

// SQLPools returns the connection pools by name ("write": the single
// writer, "read": the readers, "monitor": the monitoring reports'), for
// pool metrics.
func (db *DB) SQLPools() map[string]*sql.DB {
	return map[string]*sql.DB{"write": db.write, "read": db.read.db, "monitor": db.monitor}
}
