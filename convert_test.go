package workspace_test

import (
	"strings"
	"testing"

	"workspace"
)

func TestSortTables(t *testing.T) {
	names := func(ts []workspace.Table) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, " ")
	}
	// Ensure every table follows the tables it references, self-references
	// and references to unknown tables are ignored, and ties keep name order.
	t.Run("OK", func(t *testing.T) {
		got, err := workspace.SortTables([]workspace.Table{
			{Name: "refresh_tokens", Refs: []string{"sessions"}},
			{Name: "sessions", Refs: []string{"users"}},
			{Name: "users"},
			{Name: "messages", Refs: []string{"users", "messages", "elsewhere"}},
			{Name: "channel_reads", Refs: []string{"users", "conversations"}},
			{Name: "conversations", Refs: []string{"users"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "users conversations channel_reads messages sessions refresh_tokens"; names(got) != want {
			t.Fatalf("order = %s, want %s", names(got), want)
		}
	})
	// Ensure a cycle is an error naming it.
	t.Run("ErrCycle", func(t *testing.T) {
		_, err := workspace.SortTables([]workspace.Table{{Name: "a", Refs: []string{"b"}}, {Name: "b", Refs: []string{"a"}}})
		if err == nil || !strings.Contains(err.Error(), "a -> b -> a") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRowKey(t *testing.T) {
	tbl := workspace.Table{Name: "channel_reads", Columns: []string{"user_id", "conversation_id", "last_read_id"}, Key: []string{"user_id", "conversation_id"}}
	if got, want := workspace.RowKey(tbl, []any{int64(3), "general", int64(9)}, 1), "user_id 3, conversation_id general"; got != want {
		t.Fatalf("RowKey = %q, want %q", got, want)
	}
	tbl = workspace.Table{Name: "refresh_tokens", Columns: []string{"token_hash"}, Key: []string{"token_hash"}}
	if got, want := workspace.RowKey(tbl, []any{[]byte{0xab, 0x01}}, 1), "token_hash x'ab01'"; got != want {
		t.Fatalf("RowKey = %q, want %q", got, want)
	}
	if got, want := workspace.RowKey(workspace.Table{Name: "t", Columns: []string{"a"}}, []any{"x"}, 7), "row 7"; got != want {
		t.Fatalf("RowKey = %q, want %q", got, want)
	}
}
