package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"workspace"
)

// The seed's monitoring queries. Tables and indexes are those of the
// schemas on the search_path (the application's), not every schema of the
// database. The seed's index query names columns pg_stat_user_indexes does
// not have (tablename, indexname): they are relname and indexrelname.

const engineName = "postgres"

// DBConnections counts connections per database (pg_stat_activity).
func (db *DB) DBConnections(ctx context.Context) (*workspace.ConnectionsReport, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT coalesce(datname, ''), count(*), count(*) FILTER (WHERE state = 'active')
		FROM pg_stat_activity GROUP BY datname ORDER BY 2 DESC, 1`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := &workspace.ConnectionsReport{
		Availability: workspace.Availability{Engine: engineName, Available: true, Reason: "Background processes are counted under the empty database name. A role without pg_read_all_stats cannot see whether other roles' connections are active."},
		Databases:    []workspace.DatabaseConnections{},
	}
	for rows.Next() {
		var d workspace.DatabaseConnections
		if err := rows.Scan(&d.Database, &d.Connections, &d.Active); err != nil {
			return nil, mapErr(err)
		}
		out.Databases = append(out.Databases, d)
	}
	return out, mapErr(rows.Err())
}

// DBTables lists the application's tables by total size (rows, indexes,
// TOAST), largest first.
func (db *DB) DBTables(ctx context.Context) (*workspace.TablesReport, error) {
	out := &workspace.TablesReport{
		Availability: workspace.Availability{Engine: engineName, Available: true},
		Tables:       []workspace.TableSize{},
	}
	if err := db.pool.QueryRow(ctx, `SELECT pg_database_size(current_database()), pg_size_pretty(pg_database_size(current_database()))`).
		Scan(&out.DatabaseBytes, &out.DatabaseSize); err != nil {
		return nil, mapErr(err)
	}
	rows, err := db.pool.Query(ctx, `
		SELECT schemaname, relname, pg_size_pretty(pg_total_relation_size(relid)), pg_total_relation_size(relid), n_live_tup
		FROM pg_stat_user_tables WHERE schemaname = ANY (current_schemas(false))
		ORDER BY pg_total_relation_size(relid) DESC, relname`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t workspace.TableSize
		if err := rows.Scan(&t.Schema, &t.Name, &t.Size, &t.Bytes, &t.EstimatedRows); err != nil {
			return nil, mapErr(err)
		}
		out.Tables = append(out.Tables, t)
	}
	return out, mapErr(rows.Err())
}

// SlowQueriesHelp says how to enable pg_stat_statements.
const SlowQueriesHelp = "To enable it: set shared_preload_libraries = 'pg_stat_statements' in postgresql.conf (or ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; in this database as a superuser."

// DBSlowQueries returns the 10 statements of this database with the
// highest mean execution time, when pg_stat_statements is installed and
// preloaded; otherwise a report saying how to enable it.
func (db *DB) DBSlowQueries(ctx context.Context) (*workspace.SlowQueriesReport, error) {
	out := &workspace.SlowQueriesReport{Availability: workspace.Availability{Engine: engineName}, Queries: []workspace.SlowQuery{}}
	var schema string
	err := db.pool.QueryRow(ctx, `
		SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pg_stat_statements'`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		out.Reason = "The pg_stat_statements extension is not installed in this database. " + SlowQueriesHelp
		return out, nil
	} else if err != nil {
		return nil, mapErr(err)
	}
	// The view lives in the extension's schema, which need not be on the
	// search_path; the name comes from the catalog, quoted.
	view := pgx.Identifier{schema, "pg_stat_statements"}.Sanitize()
	rows, err := db.pool.Query(ctx, `
		SELECT query, calls, mean_exec_time, total_exec_time, rows FROM `+view+`
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY mean_exec_time DESC LIMIT 10`)
	if notPreloaded(err) {
		out.Reason = notLoaded
		return out, nil
	} else if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var q workspace.SlowQuery
		if err := rows.Scan(&q.Query, &q.Calls, &q.MeanExecMs, &q.TotalExecMs, &q.Rows); err != nil {
			return nil, mapErr(err)
		}
		out.Queries = append(out.Queries, q)
	}
	if err := rows.Err(); notPreloaded(err) {
		out.Queries = out.Queries[:0]
		out.Reason = notLoaded
		return out, nil
	} else if err != nil {
		return nil, mapErr(err)
	}
	out.Available = true
	out.Reason = "Times in milliseconds, since the statistics were last reset. Roles without pg_read_all_stats see <insufficient privilege> for other roles' statements."
	return out, nil
}

const notLoaded = "The pg_stat_statements extension is installed but not loaded: it must be in shared_preload_libraries. " + SlowQueriesHelp

// notPreloaded reports the error of reading pg_stat_statements when the
// library was not preloaded (object_not_in_prerequisite_state).
func notPreloaded(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55000"
}

// DBIndexUsage lists the application's indexes, least scanned first.
func (db *DB) DBIndexUsage(ctx context.Context) (*workspace.IndexUsageReport, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT schemaname, relname, indexrelname, idx_scan,
			pg_size_pretty(pg_relation_size(indexrelid)), pg_relation_size(indexrelid)
		FROM pg_stat_user_indexes WHERE schemaname = ANY (current_schemas(false))
		ORDER BY idx_scan ASC, pg_relation_size(indexrelid) DESC, relname, indexrelname`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := &workspace.IndexUsageReport{
		Availability: workspace.Availability{Engine: engineName, Available: true, Reason: "Scans since the statistics were last reset; an index never scanned is a candidate for removal, unless it enforces a constraint."},
		Indexes:      []workspace.IndexUsage{},
	}
	for rows.Next() {
		var ix workspace.IndexUsage
		if err := rows.Scan(&ix.Schema, &ix.Table, &ix.Index, &ix.Scans, &ix.Size, &ix.Bytes); err != nil {
			return nil, mapErr(err)
		}
		out.Indexes = append(out.Indexes, ix)
	}
	return out, mapErr(rows.Err())
}
