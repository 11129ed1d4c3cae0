package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"workspace"
	"workspace/postgres"
	"workspace/sqlite"
)

// seedMessages bulk-inserts n channel messages by userID spread over
// min(1000, n/100) conversations c0, c1, … (so a page of 50 is always
// full), inside the database (no HTTP, no per-row round trip), then
// checkpoints and analyzes as a settled deployment would be. It returns the
// conversation holding the newest message.
func seedMessages(tb testing.TB, store workspace.Store, userID, n int) string {
	tb.Helper()
	ctx := context.Background()
	convs := max(1, min(1000, n/100))
	switch db := store.(type) {
	case *sqlite.DB:
		stmts := []string{
			`WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ? - 1)
			 INSERT INTO conversations (id, kind, created_at) SELECT 'c' || i, 'channel', '2026-01-01 00:00:00.000000' FROM k`,
			`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
			 INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
			 SELECT ?, 'c' || (i % ?), 'seed message number ' || i, 1, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000' FROM k`,
			`UPDATE conversations SET last_message_id = (SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id)`,
			`ANALYZE`, `PRAGMA wal_checkpoint(TRUNCATE)`,
		}
		for i, args := range [][]any{{convs}, {n, userID, convs}, nil, nil, nil} {
			if _, err := db.SQL().ExecContext(ctx, stmts[i], args...); err != nil {
				tb.Fatal(err)
			}
		}
	case *postgres.DB:
		if _, err := db.Pool().Exec(ctx, `INSERT INTO conversations (id, kind, created_at)
			SELECT 'c' || i, 'channel', now() FROM generate_series(0, $1 - 1) i`, convs); err != nil {
			tb.Fatal(err)
		}
		if _, err := db.Pool().Exec(ctx, `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
			SELECT $2, 'c' || (i % $3), 'seed message number ' || i, true, now(), now() FROM generate_series(1, $1) i`, n, userID, convs); err != nil {
			tb.Fatal(err)
		}
		for _, q := range []string{`UPDATE conversations c SET last_message_id = (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id)`,
			`VACUUM ANALYZE messages`, `CHECKPOINT`} {
			if _, err := db.Pool().Exec(ctx, q); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return fmt.Sprintf("c%d", n%convs)
}

// pagePlan returns the engine's plan of the newest-page query.
func pagePlan(tb testing.TB, store workspace.Store, conv string) string {
	ctx := context.Background()
	var lines []string
	switch db := store.(type) {
	case *sqlite.DB:
		rows, err := db.SQL().QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT m.id FROM messages m JOIN users u ON u.id = m.user_id
			WHERE m.conversation_id = ? ORDER BY m.id DESC LIMIT 51`, conv)
		if err != nil {
			tb.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			lines = append(lines, detail)
		}
	case *postgres.DB:
		rows, err := db.Pool().Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT m.id FROM messages m JOIN users u ON u.id = m.user_id
			WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT 51`, conv)
		if err != nil {
			tb.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			rows.Scan(&l)
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// BenchmarkMessages measures, through the real router on each engine and
// at two table sizes, sending a message, reading the newest page of 50
// of a conversation and listing the conversations. Run: go test -run '^$' -bench Messages ./httpapi
func BenchmarkMessages(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, rows := range []int{10_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/rows=%d", engine, rows), func(b *testing.B) {
				store := engines[engine](b)
				h := newHarness(b, store)
				s := h.signup("alice")
				conv := seedMessages(b, store, s.ID, rows)
				b.Logf("plan of the page query:\n%s", pagePlan(b, store, conv))

				// GET path as alice, expecting 200.
				get := func(path string) func(*testing.B) {
					return func(b *testing.B) {
						req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
						req.Header.Set("Authorization", "Bearer "+s.Access)
						b.ReportAllocs()
						for b.Loop() {
							res, err := h.client.Do(req)
							if err != nil || res.StatusCode != 200 {
								b.Fatalf("GET %s: %v %v", path, res, err)
							}
							drain(res)
						}
					}
				}
				b.Run("page", get("/api/v1/messages?limit=50&conversation_id="+conv))
				// The conversation list: a page of 50 channels, each with
				// its last message and unread count.
				b.Run("conversations", get("/api/v1/conversations"))
				b.Run("send", func(b *testing.B) {
					body := `{"conversation_id":"` + conv + `","text":"benchmark message"}`
					b.ReportAllocs()
					for b.Loop() {
						req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/messages", strings.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+s.Access)
						req.Header.Set("Content-Type", "application/json")
						res, err := h.client.Do(req)
						if err != nil || res.StatusCode != 201 {
							b.Fatalf("send: %v %v", res, err)
						}
						drain(res)
					}
				})
			})
		}
	}
}
