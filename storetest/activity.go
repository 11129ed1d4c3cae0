package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"workspace"
)

func testActivity(t *testing.T, newStore NewStore) {
	// Ensure audit rows carry actor, IP and agent and never a secret.
	t.Run("WriteRedacted", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		err := s.WriteAudit(ctxAs(u), workspace.Audit{Action: workspace.ActionLoginFailed, Metadata: map[string]any{
			"login": "alice", "password": "hunter22", "nested": map[string]any{"refresh_token": "abc"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		logs := mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionLoginFailed)})
		if len(logs) != 1 {
			t.Fatalf("rows = %d", len(logs))
		}
		l := logs[0]
		if strings.Contains(string(l.Metadata), "hunter22") || strings.Contains(string(l.Metadata), "abc") {
			t.Fatalf("secret stored: %s", l.Metadata)
		}
		var meta map[string]any
		if err := json.Unmarshal(l.Metadata, &meta); err != nil || meta["login"] != "alice" {
			t.Fatalf("metadata = %s (%v)", l.Metadata, err)
		}
		if l.UserID == nil || *l.UserID != u.ID || l.IPAddress == nil || *l.IPAddress != "203.0.113.7" ||
			l.UserAgent == nil || *l.UserAgent != "storetest/1.0" {
			t.Fatalf("row = %+v", l)
		}
	})

	// Ensure the filters and the cursor select the right rows.
	t.Run("Filter", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		for i := 0; i < 3; i++ {
			if err := s.WriteAudit(ctxAs(b), workspace.Audit{Action: "auth.login_failed"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{UserID: &b.ID})); n != 4 { // user.create + 3
			t.Fatalf("bob's rows = %d, want 4", n)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{UserID: &a.ID})); n != 1 {
			t.Fatalf("alice's rows = %d, want 1", n)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr("auth.*")})); n != 3 {
			t.Fatalf("auth.* rows = %d, want 3", n)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr("auth.")})); n != 0 {
			t.Fatalf("exact 'auth.' rows = %d, want 0", n)
		}
		future := time.Now().Add(time.Hour)
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Since: &future})); n != 0 {
			t.Fatalf("rows since the future = %d", n)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Until: &future})); n != 5 {
			t.Fatalf("rows until the future = %d, want 5", n)
		}
		if err := s.WriteAudit(ctxAs(a), workspace.Audit{Action: "lot.status_change", Metadata: map[string]any{"lot_id": 7, "to": "completed", "flag": true}}); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteAudit(ctxAs(a), workspace.Audit{Action: "lot.status_change", Metadata: map[string]any{"lot_id": 8, "to": "7"}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			filter map[string]any
			want   int
		}{
			{map[string]any{"lot_id": 7.0}, 1},
			{map[string]any{"lot_id": 7.0, "to": "completed"}, 1},
			{map[string]any{"lot_id": 7.0, "to": "rejected"}, 0},
			{map[string]any{"to": 7.0}, 0}, // a number never matches a string
			{map[string]any{"to": "7"}, 1},
			{map[string]any{"flag": true}, 1},
			{map[string]any{"flag": false}, 0},
			{map[string]any{"missing": "x"}, 0},
		} {
			if n := len(mustLogs(t, s, workspace.ActivityFilter{Metadata: tc.filter})); n != tc.want {
				t.Errorf("metadata %v: %d rows, want %d", tc.filter, n, tc.want)
			}
		}
		_, _, err := s.FindActivityLogs(context.Background(), workspace.ActivityFilter{Metadata: map[string]any{"a'b": "x"}})
		wantCode(t, err, workspace.EINVALID)
		_, _, err = s.FindActivityLogs(context.Background(), workspace.ActivityFilter{Metadata: map[string]any{"a": []any{1}}})
		wantCode(t, err, workspace.EINVALID)
		_, _, err = s.FindActivityLogs(context.Background(), workspace.ActivityFilter{Metadata: map[string]any{"a": "nul\x00"}})
		wantCode(t, err, workspace.EINVALID)
		zone := time.FixedZone("UTC-5", -5*3600)
		sinceZ := time.Now().Add(time.Hour).In(zone)
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Since: &sinceZ})); n != 0 {
			t.Fatalf("rows since an hour ahead (written in UTC-5) = %d", n)
		}

		// Pages of 3 over the 7 rows: 3, 3, 1, strictly decreasing ids.
		var sizes []int
		last, cursor := int(^uint(0)>>1), ""
		for {
			page, next, err := s.FindActivityLogs(context.Background(), workspace.ActivityFilter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page))
			for _, l := range page {
				if l.ID >= last {
					t.Fatalf("ids not decreasing across pages: %d after %d", l.ID, last)
				}
				last = l.ID
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if fmt.Sprint(sizes) != "[3 3 1]" {
			t.Fatalf("page sizes = %v", sizes)
		}
	})
}
