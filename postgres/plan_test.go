package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"workspace"
	"workspace/internal/testpg"
)

// Ensure the page of the conversation list can use the partial activity
// indexes of migration 00009: its `kind = 'channel'` and `user_a = $1`
// must imply their predicates, also in the generic plan a prepared
// statement ends up with. Sequential scans are switched off, as the test
// tables are too small for the planner to prefer an index otherwise.
func TestConversationPagePlan(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, testpg.Schema(t), Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, q := range []string{
		`SET enable_seqscan = off`,
		`SET plan_cache_mode = force_generic_plan`,
		`PREPARE page(bigint, bigint, text, int) AS ` + conversationPage,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`EXPLAIN EXECUTE page(1, %d, '', 51)`, workspace.MaxID+1))
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
	text := strings.Join(plan, "\n")
	for _, idx := range []string{"idx_conversations_kind_activity", "idx_conversations_user_a_activity", "idx_conversations_user_b_activity"} {
		if !strings.Contains(text, "Index Scan Backward using "+idx) {
			t.Fatalf("plan does not scan %s backward:\n%s", idx, text)
		}
	}
}
