package storetest

import (
	"context"
	"strings"
	"testing"

	"workspace"
)

func testMonitor(t *testing.T, newStore NewStore) {
	// Ensure every report answers, with the seed's tables, sizes and
	// indexes, and that what an engine cannot report says why.
	t.Run("Reports", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		u := MustCreateUser(t, s, "alice", nil)
		for i := 0; i < 20; i++ {
			if err := s.WriteAudit(ctxAs(u), workspace.Audit{Action: "test.monitor", Metadata: map[string]any{"i": i}}); err != nil {
				t.Fatal(err)
			}
		}

		tables, err := s.DBTables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !tables.Available || tables.DatabaseBytes <= 0 || tables.DatabaseSize == "" {
			t.Fatalf("tables report = %+v", tables)
		}
		seen := map[string]workspace.TableSize{}
		for i, tb := range tables.Tables {
			seen[tb.Name] = tb
			if i > 0 && tb.Bytes > tables.Tables[i-1].Bytes {
				t.Fatalf("tables not largest first: %+v", tables.Tables)
			}
			if tb.Size != workspace.PrettySize(tb.Bytes) && tables.Engine == "sqlite" {
				t.Fatalf("size of %s = %q for %d bytes", tb.Name, tb.Size, tb.Bytes)
			}
		}
		for _, name := range []string{"users", "messages", "events", "activity_logs"} {
			if tb, ok := seen[name]; !ok || tb.Bytes <= 0 || tb.Size == "" {
				t.Fatalf("table %s: %+v (ok=%v)", name, tb, ok)
			}
		}

		idx, err := s.DBIndexUsage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for i, ix := range idx.Indexes {
			found = found || (ix.Index == "idx_activity_logs_created" && ix.Table == "activity_logs")
			if idx.Engine == "postgres" {
				if ix.Scans == nil || (i > 0 && *ix.Scans < *idx.Indexes[i-1].Scans) {
					t.Fatalf("index usage not least used first: %+v", ix)
				}
			} else if ix.Scans != nil {
				t.Fatalf("SQLite reported scans: %+v", ix)
			}
		}
		if !idx.Available || !found {
			t.Fatalf("index report = %+v", idx)
		}

		conns, err := s.DBConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := s.DBSlowQueries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch conns.Engine {
		case "sqlite":
			if conns.Available || !strings.Contains(conns.Reason, "Not available on SQLite") ||
				slow.Available || !strings.Contains(slow.Reason, "Not available on SQLite") {
				t.Fatalf("SQLite reports: %+v %+v", conns, slow)
			}
		case "postgres":
			var total int64
			for _, d := range conns.Databases {
				total += d.Connections
			}
			if !conns.Available || total < 1 {
				t.Fatalf("connections = %+v", conns)
			}
			if !slow.Available && (!strings.Contains(slow.Reason, "shared_preload_libraries") || !strings.Contains(slow.Reason, "CREATE EXTENSION pg_stat_statements")) {
				t.Fatalf("slow queries without the extension: %+v", slow)
			}
		default:
			t.Fatalf("engine = %q", conns.Engine)
		}
	})
}
