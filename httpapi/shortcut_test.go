package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"workspace"
)

func shortcutPath(id any) string { return fmt.Sprintf("/api/v1/shortcuts/%v", id) }

// shortcutIDs returns the ids of a list answer, checking order_index is
// the position.
func shortcutIDs(t *testing.T, r response) []int {
	t.Helper()
	var ids []int
	for i, v := range r.JSON()["shortcuts"].([]any) {
		sc := v.(map[string]any)
		if sc["order_index"] != float64(i) {
			t.Fatalf("position %d has order_index %v: %s", i, sc["order_index"], r)
		}
		ids = append(ids, int(sc["id"].(float64)))
	}
	return ids
}

func TestShortcuts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		h.signup("admin")
		alice := h.signup("alice")
		bob := h.signup("bob")

		// Ensure creates append to the caller's list, whatever the type.
		var ids []int
		for i, body := range []map[string]any{
			{"name": "Wiki", "icon": "book", "action_type": "url", "action_data": map[string]any{"url": "https://wiki.example.com/start"}},
			{"name": "Editor", "description": "code", "action_type": "app", "action_data": map[string]any{"app": "code", "args": []string{"-n"}}},
			{"name": "Inbox", "action_type": "folder", "action_data": map[string]any{"path": "/srv/inbox"}},
		} {
			sc := h.do("POST", "/api/v1/shortcuts", alice.Access, body).want(t, 201).JSON()
			if sc["user_id"] != float64(alice.ID) || sc["order_index"] != float64(i) || sc["name"] != body["name"] {
				t.Fatalf("created: %v", sc)
			}
			ids = append(ids, int(sc["id"].(float64)))
		}
		mine := int(h.do("POST", "/api/v1/shortcuts", bob.Access, map[string]any{"name": "Mine", "action_type": "file",
			"action_data": map[string]any{"path": "/home/bob/todo.txt"}}).want(t, 201).JSON()["id"].(float64))
		if got := shortcutIDs(t, h.do("GET", "/api/v1/shortcuts", alice.Access, nil).want(t, 200)); fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("alice's list = %v, want %v", got, ids)
		}
		if r := h.do("GET", "/api/v1/shortcuts", bob.Access, nil).want(t, 200); strings.Contains(r.String(), "wiki.example.com") {
			t.Fatalf("bob sees alice's shortcuts: %s", r)
		}
		if got := h.do("GET", shortcutPath(ids[1]), alice.Access, nil).want(t, 200).JSON(); got["action_data"].(map[string]any)["app"] != "code" {
			t.Fatalf("get: %v", got)
		}

		// Ensure another user's shortcut is 404 everywhere, every seed CHECK,
		// action rule, read-only and unknown field is a field-level 400, and
		// nothing changes.
		url := func(u string) map[string]any {
			return map[string]any{"name": "x", "action_type": "url", "action_data": map[string]any{"url": u}}
		}
		h.refuse(t, h.dbState, []refusal{
			{"OtherGet", "GET", shortcutPath(ids[0]), bob.Access, nil, 404, "", ""},
			{"OtherUpdate", "PATCH", shortcutPath(ids[0]), bob.Access, map[string]any{"name": "pwned"}, 404, "", ""},
			{"OtherDelete", "DELETE", shortcutPath(ids[0]), bob.Access, nil, 404, "", ""},
			{"OtherReorder", "PUT", "/api/v1/shortcuts/order", bob.Access, map[string]any{"ids": []int{ids[0], mine}}, 404, "", ""},
			{"OtherReorderSwap", "PUT", "/api/v1/shortcuts/order", bob.Access, map[string]any{"ids": []int{ids[0]}}, 404, "", ""},
			{"Missing", "GET", shortcutPath(99999), alice.Access, nil, 404, "", ""},
			{"NameEmpty", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "name", ""},
			{"NameBlank", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "   ", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "name", ""},
			{"NameLong", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": strings.Repeat("n", 256), "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "name", ""},
			{"NameMissing", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "", "name"},
			{"IconLong", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "icon": strings.Repeat("i", 101), "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "icon", ""},
			{"TypeUnknown", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "action_type": "shell", "action_data": map[string]any{"cmd": "ls"}}, 400, "action_type", ""},
			{"DataMissing", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "action_type": "url"}, 400, "", "action_data"},
			{"DataNotObject", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "action_type": "url", "action_data": "https://a.example"}, 400, "action_data", ""},
			{"URLJavascript", "POST", "/api/v1/shortcuts", alice.Access, url("javascript:alert(1)"), 400, "action_data.url", ""},
			{"URLData", "POST", "/api/v1/shortcuts", alice.Access, url("data:text/html,<script>alert(1)</script>"), 400, "action_data.url", ""},
			{"URLFile", "POST", "/api/v1/shortcuts", alice.Access, url("file:///etc/passwd"), 400, "action_data.url", ""},
			{"URLNoHost", "POST", "/api/v1/shortcuts", alice.Access, url("https://"), 400, "action_data.url", ""},
			{"DataUnknownKey", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "action_type": "file", "action_data": map[string]any{"path": "/x", "mode": "rw"}}, 400, "action_data.mode", ""},
			{"PathEmpty", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "x", "action_type": "folder", "action_data": map[string]any{"path": ""}}, 400, "action_data.path", ""},
			{"CreateID", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"id": 5, "name": "x", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "id", ""},
			{"CreateUserID", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"user_id": bob.ID, "name": "x", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "user_id", ""},
			{"CreateOrderIndex", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"order_index": 0, "name": "x", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "order_index", ""},
			{"CreateCreatedAt", "POST", "/api/v1/shortcuts", alice.Access, map[string]any{"created_at": "2024-01-01T00:00:00Z", "name": "x", "action_type": "file", "action_data": map[string]any{"path": "/x"}}, 400, "created_at", ""},
			{"UpdateNameEmpty", "PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"name": ""}, 400, "name", ""},
			{"UpdateJavascript", "PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"action_data": map[string]any{"url": "javascript:alert(1)"}}, 400, "action_data.url", ""},
			{"UpdateTypeAlone", "PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"action_type": "file"}, 400, "action_data.url", ""},
			{"UpdateOrderIndex", "PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"order_index": 2}, 400, "order_index", ""},
			{"UpdateUserID", "PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"user_id": bob.ID}, 400, "user_id", ""},
			{"ReorderDuplicate", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []int{ids[0], ids[0], ids[1], ids[2]}}, 400, "ids", ""},
			{"ReorderMissing", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []int{ids[2], ids[0]}}, 400, "ids", ""},
			{"ReorderEmpty", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []int{}}, 400, "ids", ""},
			{"ReorderUnknown", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []int{ids[0], ids[1], ids[2], 99999}}, 404, "", ""},
			{"ReorderForeign", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []int{ids[0], ids[1], mine}}, 404, "", ""},
			{"ReorderNotInts", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": []string{"a"}}, 400, "", ""},
			{"ReorderUnknownField", "PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": ids, "order": "asc"}, 400, "order", ""},
		})

		// Ensure the owner updates, reorders in one call and deletes, and
		// the order stays dense.
		upd := h.do("PATCH", shortcutPath(ids[0]), alice.Access, map[string]any{"name": "Team wiki", "icon": "",
			"action_data": map[string]any{"url": "https://wiki.example.com/team"}}).want(t, 200).JSON()
		if upd["name"] != "Team wiki" || upd["icon"] != nil || upd["action_data"].(map[string]any)["url"] != "https://wiki.example.com/team" {
			t.Fatalf("updated: %v", upd)
		}
		h.do("PATCH", shortcutPath(ids[2]), alice.Access, map[string]any{"action_type": "file", "action_data": map[string]any{"path": "/srv/inbox/today.txt"}}).want(t, 200)
		order := []int{ids[2], ids[0], ids[1]}
		if got := shortcutIDs(t, h.do("PUT", "/api/v1/shortcuts/order", alice.Access, map[string]any{"ids": order}).want(t, 200)); fmt.Sprint(got) != fmt.Sprint(order) {
			t.Fatalf("reordered = %v, want %v", got, order)
		}
		h.do("DELETE", shortcutPath(ids[0]), alice.Access, nil).want(t, 204)
		h.do("DELETE", shortcutPath(ids[0]), alice.Access, nil).want(t, 404)
		if got := shortcutIDs(t, h.do("GET", "/api/v1/shortcuts", alice.Access, nil).want(t, 200)); fmt.Sprint(got) != fmt.Sprint([]int{ids[2], ids[1]}) {
			t.Fatalf("after delete = %v", got)
		}
		next := h.do("POST", "/api/v1/shortcuts", alice.Access, map[string]any{"name": "Last", "action_type": "url",
			"action_data": map[string]any{"url": "http://intranet.local/"}}).want(t, 201).JSON()
		if next["order_index"] != float64(2) {
			t.Fatalf("appended at %v, want 2", next["order_index"])
		}
		if got := shortcutIDs(t, h.do("GET", "/api/v1/shortcuts", bob.Access, nil).want(t, 200)); fmt.Sprint(got) != fmt.Sprint([]int{mine}) {
			t.Fatalf("bob's list = %v", got)
		}

		// Ensure every change was audited by alice, without action data.
		logs, _, err := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr("shortcut.*"), UserID: &alice.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, l := range logs {
			actions[l.Action]++
			if strings.Contains(string(l.Metadata), "example.com") || strings.Contains(string(l.Metadata), "/srv/") {
				t.Fatalf("action data in the audit trail: %s", l.Metadata)
			}
		}
		want := map[string]int{"shortcut.create": 4, "shortcut.update": 2, "shortcut.reorder": 1, "shortcut.delete": 1}
		if fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Fatalf("alice's shortcut.* rows = %v, want %v", actions, want)
		}
	})
}
