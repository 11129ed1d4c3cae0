package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"workspace"
)

// refusal is a request the API must refuse without changing anything.
type refusal struct {
	name         string
	method, path string
	token        string
	body         any
	status       int
	field        string // the field the problem names, "" not to check
	detail       string // a substring of the body, "" not to check
}

// refuse sends each request and checks its status, the named field and
// that state (the database read back through the store) is unchanged.
func (h *harness) refuse(t *testing.T, state func() string, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := state()
			r := h.do(c.method, c.path, c.token, c.body).want(t, c.status)
			if c.field != "" && !slices.Contains(fieldNames(r), c.field) {
				t.Fatalf("fields = %v, want %q; body: %s", fieldNames(r), c.field, r)
			}
			if c.detail != "" && !strings.Contains(r.String(), c.detail) {
				t.Fatalf("body lacks %q: %s", c.detail, r)
			}
			if after := state(); after != before {
				t.Fatalf("refused call changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// dbState reads every lot, every user's shortcuts and the number of audit
// rows back through the store.
func (h *harness) dbState() string {
	h.t.Helper()
	ctx := context.Background()
	lots, _, err := h.store.FindLots(ctx, workspace.LotFilter{Limit: workspace.MaxPageSize})
	if err != nil {
		h.t.Fatal(err)
	}
	users, _, err := h.store.FindUsers(ctx, workspace.UserFilter{Limit: workspace.MaxPageSize})
	if err != nil {
		h.t.Fatal(err)
	}
	shortcuts := map[int][]*workspace.Shortcut{}
	for _, u := range users {
		if shortcuts[u.ID], err = h.store.FindShortcuts(ctx, u.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	logs, _, err := h.store.FindActivityLogs(ctx, workspace.ActivityFilter{Limit: workspace.MaxPageSize})
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"lots": lots, "users": users, "shortcuts": shortcuts, "audit_rows": len(logs)})
	return string(b)
}

func lotPath(id any) string { return fmt.Sprintf("/api/v1/lots/%v", id) }

func TestLots(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		bob := h.signup("bob")
		carol := h.signup("carol")

		// Ensure a lot is received by its creator, now or at the given time.
		lot := h.do("POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 12, "description": "pallets"}).want(t, 201).JSON()
		if lot["user_id"] != float64(bob.ID) || lot["status"] != "received" || lot["processed_at"] != nil || lot["received_at"] == nil {
			t.Fatalf("created: %v", lot)
		}
		id := int(lot["id"].(float64))
		old := h.do("POST", "/api/v1/lots", carol.Access, map[string]any{"item_count": 1, "status": "received",
			"received_at": "2024-05-01T10:00:00+02:00"}).want(t, 201).JSON()
		if old["received_at"] != "2024-05-01T08:00:00Z" || old["user_id"] != float64(carol.ID) {
			t.Fatalf("created with received_at: %v", old)
		}
		oldID := int(old["id"].(float64))

		// Ensure every signed-in user lists and filters the team's lots.
		list := h.do("GET", "/api/v1/lots", carol.Access, nil).want(t, 200).JSON()
		if n := len(list["lots"].([]any)); n != 2 {
			t.Fatalf("list: %v", list)
		}
		page := h.do("GET", "/api/v1/lots?limit=1", bob.Access, nil).want(t, 200).JSON()
		if first := page["lots"].([]any)[0].(map[string]any); first["id"] != float64(oldID) || page["next_cursor"] == "" {
			t.Fatalf("first page: %v", page)
		}
		page = h.do("GET", "/api/v1/lots?limit=1&cursor="+page["next_cursor"].(string), bob.Access, nil).want(t, 200).JSON()
		if next := page["lots"].([]any)[0].(map[string]any); next["id"] != float64(id) || page["next_cursor"] != nil {
			t.Fatalf("second page: %v", page)
		}
		ranged := h.do("GET", "/api/v1/lots?received_from=2024-05-01T00:00:00Z&received_to=2024-05-02T00:00:00Z", bob.Access, nil).want(t, 200).JSON()
		if l := ranged["lots"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != float64(oldID) {
			t.Fatalf("range: %v", ranged)
		}
		if l := h.do("GET", "/api/v1/lots?status=processing", bob.Access, nil).want(t, 200).JSON()["lots"].([]any); len(l) != 0 {
			t.Fatalf("status filter: %v", l)
		}
		h.do("GET", "/api/v1/lots?status=lost", bob.Access, nil).want(t, 400)
		h.do("GET", "/api/v1/lots?received_from=yesterday", bob.Access, nil).want(t, 400)
		h.do("GET", "/api/v1/lots?cursor=bogus", bob.Access, nil).want(t, 400)
		if got := h.do("GET", lotPath(id), carol.Access, nil).want(t, 200).JSON(); got["description"] != "pallets" {
			t.Fatalf("get: %v", got)
		}
		h.do("GET", lotPath(99999), carol.Access, nil).want(t, 404)
		h.do("GET", "/api/v1/lots", "", nil).want(t, 401)

		// Ensure every seed CHECK, read-only and unknown field is a field-level
		// 400, permissions are 403, illegal moves 409, and nothing changes.
		h.refuse(t, h.dbState, []refusal{
			{"ItemCountZero", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 0}, 400, "item_count", ""},
			{"ItemCountNegative", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": -5}, 400, "item_count", ""},
			{"ItemCountTooBig", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 2147483648}, 400, "item_count", ""},
			{"ItemCountString", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": "12"}, 400, "item_count", ""},
			{"ItemCountMissing", "POST", "/api/v1/lots", bob.Access, map[string]any{"description": "x"}, 400, "", "item_count"},
			{"StatusUnknown", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "status": "lost"}, 400, "status", ""},
			{"StatusNotReceived", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "status": "completed"}, 400, "status", ""},
			{"DescriptionLong", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "description": strings.Repeat("d", 10001)}, 400, "description", ""},
			{"DescriptionNUL", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "description": "a\x00b"}, 400, "description", ""},
			{"ReceivedAtBad", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "received_at": "yesterday"}, 400, "received_at", ""},
			{"CreateID", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "id": 77}, 400, "id", ""},
			{"CreateUserID", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "user_id": admin.ID}, 400, "user_id", ""},
			{"CreateProcessedAt", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "processed_at": "2024-01-01T00:00:00Z"}, 400, "processed_at", ""},
			{"CreateCreatedAt", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "created_at": "2024-01-01T00:00:00Z"}, 400, "created_at", ""},
			{"CreateUnknown", "POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 1, "sku": "A-1"}, 400, "sku", ""},
			{"CreateNotJSON", "POST", "/api/v1/lots", bob.Access, "{item_count: 1", 400, "", ""},
			{"UpdateItemCountZero", "PATCH", lotPath(id), bob.Access, map[string]any{"item_count": 0}, 400, "item_count", ""},
			{"UpdateStatusUnknown", "PATCH", lotPath(id), bob.Access, map[string]any{"status": "lost"}, 400, "status", ""},
			{"UpdateUserID", "PATCH", lotPath(id), bob.Access, map[string]any{"user_id": carol.ID}, 400, "user_id", ""},
			{"UpdateProcessedAt", "PATCH", lotPath(id), bob.Access, map[string]any{"processed_at": "2024-01-01T00:00:00Z"}, 400, "processed_at", ""},
			{"UpdateReceivedAt", "PATCH", lotPath(id), bob.Access, map[string]any{"received_at": "2024-01-01T00:00:00Z"}, 400, "received_at", ""},
			{"UpdateUpdatedAt", "PATCH", lotPath(id), bob.Access, map[string]any{"updated_at": "2024-01-01T00:00:00Z"}, 400, "updated_at", ""},
			{"UpdateNotFound", "PATCH", lotPath(99999), bob.Access, map[string]any{"status": "processing"}, 404, "", ""},
			{"UpdateBadID", "PATCH", lotPath("abc"), bob.Access, map[string]any{"status": "processing"}, 400, "", ""},
			{"NonReceiverItemCount", "PATCH", lotPath(id), carol.Access, map[string]any{"item_count": 3}, 403, "", ""},
			{"NonReceiverDescription", "PATCH", lotPath(id), carol.Access, map[string]any{"description": ""}, 403, "", ""},
			{"NonReceiverWithStatus", "PATCH", lotPath(id), carol.Access, map[string]any{"status": "processing", "item_count": 3}, 403, "", ""},
			{"SameStatus", "PATCH", lotPath(id), carol.Access, map[string]any{"status": "received"}, 409, "status", `\"received\"`},
			{"SkipToCompleted", "PATCH", lotPath(id), carol.Access, map[string]any{"status": "completed"}, 409, "status", `\"received\"`},
			{"NonAdminDelete", "DELETE", lotPath(id), bob.Access, nil, 403, "", ""},
			{"NoTokenDelete", "DELETE", lotPath(id), "", nil, 401, "", ""},
		})

		// Ensure the receiver and an admin edit; a teammate moves the status.
		if got := h.do("PATCH", lotPath(id), bob.Access, map[string]any{"item_count": 13}).want(t, 200).JSON(); got["item_count"] != float64(13) {
			t.Fatalf("receiver's edit: %v", got)
		}
		if got := h.do("PATCH", lotPath(id), admin.Access, map[string]any{"description": ""}).want(t, 200).JSON(); got["description"] != nil {
			t.Fatalf("admin's edit: %v", got)
		}
		if got := h.do("PATCH", lotPath(id), carol.Access, map[string]any{"status": "processing"}).want(t, 200).JSON(); got["status"] != "processing" || got["processed_at"] != nil {
			t.Fatalf("to processing: %v", got)
		}
		h.refuse(t, h.dbState, []refusal{
			{"BackToReceived", "PATCH", lotPath(id), carol.Access, map[string]any{"status": "received"}, 409, "status", `\"processing\"`},
			{"ProcessingAgain", "PATCH", lotPath(id), bob.Access, map[string]any{"status": "processing"}, 409, "status", `\"processing\"`},
		})
		done := h.do("PATCH", lotPath(id), carol.Access, map[string]any{"status": "completed"}).want(t, 200).JSON()
		if done["status"] != "completed" || done["processed_at"] == nil {
			t.Fatalf("to completed: %v", done)
		}
		h.refuse(t, h.dbState, []refusal{
			{"CompletedToRejected", "PATCH", lotPath(id), admin.Access, map[string]any{"status": "rejected"}, 409, "status", `\"completed\"`},
			{"CompletedToProcessing", "PATCH", lotPath(id), admin.Access, map[string]any{"status": "processing"}, 409, "status", `\"completed\"`},
		})
		if rej := h.do("PATCH", lotPath(oldID), bob.Access, map[string]any{"status": "rejected"}).want(t, 200).JSON(); rej["processed_at"] == nil {
			t.Fatalf("received to rejected: %v", rej)
		}
		if l := h.do("GET", "/api/v1/lots?status=completed", bob.Access, nil).want(t, 200).JSON()["lots"].([]any); len(l) != 1 {
			t.Fatalf("completed lots: %v", l)
		}

		// Ensure only an admin deletes, and every change was audited.
		h.do("DELETE", lotPath(id), admin.Access, nil).want(t, 204)
		h.do("DELETE", lotPath(id), admin.Access, nil).want(t, 404)
		h.do("GET", lotPath(id), bob.Access, nil).want(t, 404)
		logs, _, err := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr("lot.*"), Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]int{}
		for _, l := range logs {
			actions[l.Action]++
		}
		want := map[string]int{"lot.create": 2, "lot.update": 2, "lot.status_change": 3, "lot.delete": 1}
		if fmt.Sprint(actions) != fmt.Sprint(want) {
			t.Fatalf("lot.* rows = %v, want %v", actions, want)
		}
	})
}

// Ensure deleting a user who received lots is a 409 that says why, and
// the user stays.
func TestDeleteUserWithLots(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		bob := h.signup("bob")
		lot := h.do("POST", "/api/v1/lots", bob.Access, map[string]any{"item_count": 4}).want(t, 201).JSON()
		h.refuse(t, h.dbState, []refusal{
			{"ByAdmin", "DELETE", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin.Access, nil, 409, "", "lot"},
			{"BySelf", "DELETE", fmt.Sprintf("/api/v1/users/%d", bob.ID), bob.Access, nil, 409, "", "lot"},
		})
		if _, err := h.store.FindUserByID(context.Background(), bob.ID); err != nil {
			t.Fatalf("bob after the refused delete: %v", err)
		}
		h.do("GET", "/api/v1/auth/me", bob.Access, nil).want(t, 200)
		// Once the lot is gone the user can be deleted.
		h.do("DELETE", lotPath(lot["id"]), admin.Access, nil).want(t, 204)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin.Access, nil).want(t, 204)
	})
}
