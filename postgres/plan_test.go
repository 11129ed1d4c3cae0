package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"workspace"
	"workspace/internal/testpg"
)

// openMigrated opens a fresh migrated schema with at most maxConns
// connections.
func openMigrated(t *testing.T, maxConns int32) *DB {
	t.Helper()
	return openMigratedAt(t, testpg.Schema(t), maxConns)
}

// openMigratedAt opens and migrates the database at dsn.
func openMigratedAt(t *testing.T, dsn string, maxConns int32) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, Options{MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// genericPlan prepares a statement on a fresh migrated schema and returns
// the lines of EXPLAIN of its execution in the generic plan a prepared
// statement ends up with. Sequential scans are switched off, as the test
// tables are too small for the planner to prefer an index otherwise.
func genericPlan(t *testing.T, prepare, execute string) []string {
	t.Helper()
	ctx := context.Background()
	db := openMigrated(t, 2)
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{`SET enable_seqscan = off`, `SET plan_cache_mode = force_generic_plan`, prepare} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN `+execute)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// Ensure the page of the conversation list can use the partial activity
// indexes of migration 00009: its `kind = 'channel'` and `user_a = $1`
// must imply their predicates, also in the generic plan a prepared
// statement ends up with. Sequential scans are switched off, as the test
// tables are too small for the planner to prefer an index otherwise.
func TestConversationPagePlan(t *testing.T) {
	plan := genericPlan(t, `PREPARE page(bigint, bigint, text, int) AS `+conversationPage,
		fmt.Sprintf(`EXECUTE page(1, %d, '', 51)`, workspace.MaxID+1))
	text := strings.Join(plan, "\n")
	for _, idx := range []string{"idx_conversations_kind_activity", "idx_conversations_user_a_activity", "idx_conversations_user_b_activity"} {
		if !strings.Contains(text, "Index Scan Backward using "+idx) {
			t.Fatalf("plan does not scan %s backward:\n%s", idx, text)
		}
	}
}

// Ensure a page of a large conversation runs on the prepared statement's
// generic plan, not planned again on every read (see pageLimit): with a
// LIMIT parameter, a conversation of 3,000 messages kept every execution
// on a custom plan.
func TestMessagePageGenericPlan(t *testing.T) {
	ctx := context.Background()
	// One connection, so the store's prepared statements are the ones
	// pg_prepared_statements lists below.
	db := openMigrated(t, 1)
	var userID int
	var err error
	for _, q := range []string{
		`INSERT INTO users (username, password_hash) VALUES ('planner', 'x') RETURNING id`,
		`INSERT INTO conversations (id, kind, created_at) SELECT 'c' || i, 'channel', now() FROM generate_series(0, 1) i`,
		`INSERT INTO messages (user_id, conversation_id, text, is_read)
			SELECT (SELECT id FROM users), 'c' || (i % 2), 'message ' || i, true FROM generate_series(1, 6000) i`,
		`ANALYZE messages`,
	} {
		if strings.HasSuffix(q, "RETURNING id") {
			err = db.pool.QueryRow(ctx, q).Scan(&userID)
		} else {
			_, err = db.pool.Exec(ctx, q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i := range 8 {
		for _, f := range []workspace.MessageFilter{
			{ConversationID: "c0", Limit: 50},
			{ConversationID: "c1", Limit: 50, Before: 5000 - i},
		} {
			page, _, err := db.FindMessages(ctx, userID, f)
			if err != nil || len(page) != 50 {
				t.Fatalf("%+v: %d messages, %v", f, len(page), err)
			}
		}
	}
	rows, err := db.pool.Query(ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%FROM messages m JOIN users u%' AND statement NOT LIKE '%pg_prepared_statements%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var stmt string
		var generic, custom int64
		if err := rows.Scan(&stmt, &generic, &custom); err != nil {
			t.Fatal(err)
		}
		seen++
		if generic == 0 {
			t.Errorf("%d custom plans and no generic one for\n%s", custom, stmt)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != 2 {
		t.Fatalf("%d page statements prepared, want 2", seen)
	}
}

// Ensure the conversation list runs on a generic plan too. It binds its
// LIMIT, but its keyset bound keeps the generic plan's estimate small.
func TestConversationListGenericPlan(t *testing.T) {
	ctx := context.Background()
	db := openMigrated(t, 1)
	var userID int
	if err := db.pool.QueryRow(ctx, `INSERT INTO users (username, password_hash) VALUES ('lister', 'x') RETURNING id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO conversations (id, kind, created_at, last_message_id) SELECT 'c' || i, 'channel', now(), i FROM generate_series(1, 3000) i`,
		`ANALYZE conversations`,
	} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	cursor := ""
	for range 8 {
		list, next, err := db.FindConversations(ctx, userID, workspace.ConversationFilter{Limit: 50, Cursor: cursor})
		if err != nil || len(list) != 50 {
			t.Fatalf("%d conversations, %v", len(list), err)
		}
		cursor = next
	}
	var generic, custom int64
	if err := db.pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE 'WITH page AS%'`).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic == 0 {
		t.Errorf("conversation list: %d custom plans and no generic one", custom)
	}
}

// Ensure every page size gets a LIMIT at least as large, from a handful
// of literals (each literal is a cached statement per connection).
func TestPageLimitSizes(t *testing.T) {
	seen := map[string]bool{}
	for n := 2; n <= workspace.MaxPageSize+1; n++ {
		l := pageLimit(n)
		var got int
		if _, err := fmt.Sscanf(l, " LIMIT %d", &got); err != nil || got < n {
			t.Fatalf("pageLimit(%d) = %q", n, l)
		}
		seen[l] = true
	}
	if len(seen) > 5 {
		t.Fatalf("%d distinct limits: %v", len(seen), seen)
	}
}

// Ensure a calendar range query tests the range inside the two user
// indexes (migration 00011), in the generic plan too, rather than reading
// every event of the reader.
func TestCalendarRangePlan(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	q, _, err := eventsQuery("events", 1, workspace.CalendarEventFilter{From: &from, To: &to})
	if err != nil {
		t.Fatal(err)
	}
	plan := genericPlan(t, `PREPARE cal AS `+q, `EXECUTE cal(1, '2026-03-01', '2026-04-01', 51)`)
	text := strings.Join(plan, "\n")
	for _, idx := range []string{"idx_events_user_window", "idx_event_attendees_user_window"} {
		i := slices.IndexFunc(plan, func(line string) bool { return strings.Contains(line, "using "+idx) })
		if i < 0 || i+1 == len(plan) {
			t.Fatalf("plan does not use %s:\n%s", idx, text)
		}
		if cond := plan[i+1]; !strings.Contains(cond, "Index Cond:") || !strings.Contains(cond, "end_time >") {
			t.Fatalf("%s is not searched by end_time:\n%s", idx, text)
		}
	}
}
