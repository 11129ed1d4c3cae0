package workspace

import (
	"context"
	"fmt"
	"math"
)

// Monitor answers the seed's monitoring queries (admin endpoints under
// /api/v1/admin/db). A report an engine cannot give has Available false and
// a Reason instead of failing: the endpoints answer 200 either way.
type Monitor interface {
	// DBConnections counts server connections per database
	// (pg_stat_activity). Not available on SQLite.
	DBConnections(ctx context.Context) (*ConnectionsReport, error)
	// DBTables lists the application's tables, largest first, with the
	// size of their data and indexes.
	DBTables(ctx context.Context) (*TablesReport, error)
	// DBSlowQueries lists the 10 statements with the highest mean execution
	// time (pg_stat_statements). When the extension is not installed or not
	// preloaded, Available is false and Reason says how to enable it.
	DBSlowQueries(ctx context.Context) (*SlowQueriesReport, error)
	// DBIndexUsage lists the application's indexes, least used first.
	DBIndexUsage(ctx context.Context) (*IndexUsageReport, error)
}

// Availability says whether a monitoring report could be produced.
type Availability struct {
	Engine    string `json:"engine" enum:"sqlite,postgres"`
	Available bool   `json:"available"`
	// Reason explains an unavailable report (and how to enable it), or
	// qualifies an available one.
	Reason string `json:"reason,omitempty"`
}

// ConnectionsReport is the number of connections per database.
type ConnectionsReport struct {
	Availability
	Databases []DatabaseConnections `json:"databases"`
}

// DatabaseConnections is one database's connections; background processes
// (no database) are reported under the empty name.
type DatabaseConnections struct {
	Database    string `json:"database"`
	Connections int64  `json:"connections"`
	Active      int64  `json:"active" doc:"Connections running a statement now."`
}

// TablesReport lists tables by size, largest first.
type TablesReport struct {
	Availability
	// DatabaseBytes is the whole database's size (SQLite: page_count ×
	// page_size; PostgreSQL: pg_database_size).
	DatabaseBytes int64       `json:"database_bytes"`
	DatabaseSize  string      `json:"database_size"`
	Tables        []TableSize `json:"tables"`
}

// TableSize is a table's total size: its rows, indexes and (PostgreSQL)
// TOAST data.
type TableSize struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	Size   string `json:"size" doc:"Human-readable, as pg_size_pretty."`
	Bytes  int64  `json:"bytes"`
	// Pages is the number of database pages (SQLite only).
	Pages *int64 `json:"pages,omitempty"`
	// EstimatedRows is the planner's estimate (PostgreSQL n_live_tup).
	EstimatedRows *int64 `json:"estimated_rows,omitempty"`
}

// SlowQueriesReport lists the statements with the highest mean time.
type SlowQueriesReport struct {
	Availability
	Queries []SlowQuery `json:"queries"`
}

// SlowQuery is one normalized statement from pg_stat_statements.
type SlowQuery struct {
	Query       string  `json:"query"`
	Calls       int64   `json:"calls"`
	MeanExecMs  float64 `json:"mean_exec_time" doc:"Milliseconds."`
	TotalExecMs float64 `json:"total_exec_time" doc:"Milliseconds."`
	Rows        int64   `json:"rows"`
}

// IndexUsageReport lists indexes, least used first.
type IndexUsageReport struct {
	Availability
	Indexes []IndexUsage `json:"indexes"`
}

// IndexUsage is one index and how often it was scanned.
type IndexUsage struct {
	Schema string `json:"schema,omitempty"`
	Table  string `json:"table"`
	Index  string `json:"index"`
	// Scans is the number of index scans since statistics were reset; nil
	// on SQLite, which keeps no such counter.
	Scans *int64 `json:"scans"`
	Size  string `json:"size"`
	Bytes int64  `json:"bytes"`
}

// PrettySize formats a byte count like PostgreSQL's pg_size_pretty: bytes
// below 10 kB, then kB, MB, GB, TB, PB in units of 1024, each used while
// the value stays under 10,240 of it, rounded to the nearest integer.
func PrettySize(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	f := math.Abs(float64(n))
	i := 0
	for i < len(units)-1 && f >= 10*1024 {
		f /= 1024
		i++
	}
	if n < 0 {
		f = -f
	}
	return fmt.Sprintf("%d %s", int64(math.Round(f)), units[i])
}
