package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"workspace/internal/testpg"
	"workspace/sqlite"
)

// seedConvertSource builds a SQLite database of one user, 1,000 channels and
// n messages, inserted inside the database with a recursive CTE (as
// httpapi's seedMessages does), a tenth of them soft-deleted.
func seedConvertSource(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "workspace.db")
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	convs := max(1, min(1000, n/100))
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, username, password_hash, email, created_at, updated_at)
		  VALUES (1, 'alice', '$2a$10$abcdefghijklmnopqrstuv', 'alice@example.com', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')`, nil},
		{`WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ? - 1)
		  INSERT INTO conversations (id, kind, created_at) SELECT 'c' || i, 'channel', '2026-01-01 00:00:00.000000' FROM k`, []any{convs}},
		{`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
		  INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at, deleted_at)
		  SELECT 1, 'c' || (i % ?), 'seed message number ' || i || ' — ünïcödé ✓', i % 2,
		    strftime('%Y-%m-%d %H:%M:%f000', '2026-01-01', '+' || (i % 86400) || ' seconds'),
		    strftime('%Y-%m-%d %H:%M:%f000', '2026-01-01', '+' || (i % 86400) || ' seconds'),
		    CASE WHEN i % 10 = 0 THEN '2026-02-01 00:00:00.000000' END
		  FROM k`, []any{n, convs}},
		{`UPDATE conversations SET last_message_id = COALESCE(
		  (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL), 0)`, nil},
		{`PRAGMA wal_checkpoint(TRUNCATE)`, nil},
	}
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(ctx, s.q, s.args...); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

var rateRE = regexp.MustCompile(`(?m)^(\w+)\s+(\d+)\s+([\d.]+)s\s+(\d+)\s+([\d.]+)s$`)

// BenchmarkConvert measures `workspace convert` of 1,000,000 messages from
// SQLite into a fresh PostgreSQL schema, and reports rows/s per table.
// Run: go test -run '^$' -bench Convert -benchtime 1x ./cmd/workspace
func BenchmarkConvert(b *testing.B) {
	src := seedConvertSource(b, 1_000_000)
	for b.Loop() {
		b.StopTimer()
		dsn := testpg.Schema(b)
		b.StartTimer()
		var out bytes.Buffer
		if err := run(context.Background(), []string{"convert", "--from", src, "--to", dsn}, env(), nil, &out, io.Discard); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// b.Log truncates benchmark output to a few lines.
		fmt.Fprint(os.Stdout, out.String())
		for _, m := range rateRE.FindAllStringSubmatch(out.String(), -1) {
			if rows, _ := strconv.Atoi(m[2]); rows >= 1000 {
				rate, _ := strconv.ParseFloat(m[4], 64)
				b.ReportMetric(rate, m[1]+"-rows/s")
			}
		}
		b.StartTimer()
	}
}
