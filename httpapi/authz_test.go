package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"workspace"
	"workspace/postgres"
	"workspace/sqlite"
)

// fingerprintTables are every table a refused call could have touched.
var fingerprintTables = []string{"users", "user_roles", "sessions", "refresh_tokens", "messages", "conversations",
	"channel_reads", "events", "calendar_feeds", "lots", "shortcuts", "activity_logs", "presence"}

// fingerprint hashes the full contents of every table, read in key order.
func fingerprint(tb testing.TB, store workspace.Store) string {
	tb.Helper()
	h := sha256.New()
	ctx := context.Background()
	for _, table := range fingerprintTables {
		switch db := store.(type) {
		case *sqlite.DB:
			rows, err := db.SQL().QueryContext(ctx, `SELECT * FROM "`+table+`" ORDER BY 1`)
			if err != nil {
				tb.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					tb.Fatal(err)
				}
				fmt.Fprintf(h, "%s%v\n", table, vals)
			}
			rows.Close()
		case *postgres.DB:
			rows, err := db.Pool().Query(ctx, `SELECT t::text FROM "`+table+`" t ORDER BY 1`)
			if err != nil {
				tb.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					tb.Fatal(err)
				}
				fmt.Fprintf(h, "%s%s\n", table, s)
			}
			rows.Close()
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Ensure two ordinary users and an admin, across every resource and
// method, see and change only what they may: another user's private
// resource is a 404, a shared one they may not change a 403, a body that
// names an owner or any read-only field a 400 — and after every refused
// call the database is exactly as it was.
func TestAuthorizationMatrix(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		store := open(t)
		h := newHarness(t, store)
		admin := h.signup("admin")
		a := h.signup("alice")
		b := h.signup("bob")

		// Alice's resources.
		shortcut := h.do("POST", "/api/v1/shortcuts", a.Access, map[string]any{"name": "Wiki", "action_type": "url",
			"action_data": map[string]any{"url": "https://wiki.example.com"}}).want(t, 201).JSON()["id"]
		start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
		event := h.do("POST", "/api/v1/events", a.Access, map[string]any{"title": "private", "start_time": start,
			"end_time": start.Add(time.Hour)}).want(t, 201).JSON()["id"]
		dm := workspace.DirectConversation(admin.ID, a.ID)
		dmMsg := h.do("POST", "/api/v1/messages", a.Access, map[string]any{"conversation_id": dm, "text": "private note"}).want(t, 201).JSON()["id"]
		chMsg := h.do("POST", "/api/v1/messages", a.Access, map[string]any{"text": "public note"}).want(t, 201).JSON()["id"]
		lot := h.do("POST", "/api/v1/lots", a.Access, map[string]any{"item_count": 5}).want(t, 201).JSON()["id"]
		bobShortcut := h.do("POST", "/api/v1/shortcuts", b.Access, map[string]any{"name": "Mine", "action_type": "folder",
			"action_data": map[string]any{"path": "/srv"}}).want(t, 201).JSON()["id"]
		id := func(v any) string { return fmt.Sprint(int(v.(float64))) }
		future := start.Add(48 * time.Hour)
		body := func(extra map[string]any) map[string]any {
			m := map[string]any{"title": "x", "start_time": start, "end_time": start.Add(time.Hour)}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}

		type call struct {
			who    session
			method string
			path   string
			body   any
			status int
		}
		refused := []call{
			// shortcuts: private to their owner, even from admins
			{b, "GET", "/api/v1/shortcuts/" + id(shortcut), nil, 404},
			{b, "PATCH", "/api/v1/shortcuts/" + id(shortcut), map[string]any{"name": "mine"}, 404},
			{b, "DELETE", "/api/v1/shortcuts/" + id(shortcut), nil, 404},
			{b, "PUT", "/api/v1/shortcuts/order", map[string]any{"ids": []any{shortcut, bobShortcut}}, 404},
			{admin, "GET", "/api/v1/shortcuts/" + id(shortcut), nil, 404},
			{admin, "DELETE", "/api/v1/shortcuts/" + id(shortcut), nil, 404},
			{b, "POST", "/api/v1/shortcuts", map[string]any{"user_id": a.ID, "name": "x", "action_type": "folder", "action_data": map[string]any{"path": "/"}}, 400},
			// events: owner and attendees only
			{b, "GET", "/api/v1/events/" + id(event), nil, 404},
			{b, "PATCH", "/api/v1/events/" + id(event), map[string]any{"title": "mine"}, 404},
			{b, "DELETE", "/api/v1/events/" + id(event), nil, 404},
			{admin, "GET", "/api/v1/events/" + id(event), nil, 404},
			{b, "POST", "/api/v1/events", body(map[string]any{"user_id": a.ID}), 400},
			{b, "POST", "/api/v1/events", body(map[string]any{"id": 99}), 400},
			{b, "POST", "/api/v1/events", body(map[string]any{"created_at": start}), 400},
			// direct messages: their two users only
			{b, "GET", "/api/v1/messages/" + id(dmMsg), nil, 404},
			{b, "GET", "/api/v1/messages?conversation_id=" + dm, nil, 404},
			{b, "PATCH", "/api/v1/messages/" + id(dmMsg), map[string]any{"text": "x"}, 404},
			{b, "DELETE", "/api/v1/messages/" + id(dmMsg), nil, 404},
			{b, "POST", "/api/v1/messages/" + id(dmMsg) + "/read", nil, 404},
			{b, "POST", "/api/v1/conversations/" + dm + "/read", nil, 404},
			{b, "POST", "/api/v1/messages", map[string]any{"conversation_id": dm, "text": "let me in"}, 404},
			// channel messages: everyone reads, the author edits, author or admin deletes
			{b, "PATCH", "/api/v1/messages/" + id(chMsg), map[string]any{"text": "x"}, 403},
			{b, "DELETE", "/api/v1/messages/" + id(chMsg), nil, 403},
			{admin, "PATCH", "/api/v1/messages/" + id(chMsg), map[string]any{"text": "x"}, 403},
			{b, "POST", "/api/v1/messages", map[string]any{"text": "x", "user_id": a.ID}, 400},
			{b, "POST", "/api/v1/messages", map[string]any{"text": "x", "created_at": start}, 400},
			// lots: a team resource; item count is the receiver's, deletion an admin's
			{b, "PATCH", "/api/v1/lots/" + id(lot), map[string]any{"item_count": 9}, 403},
			{b, "DELETE", "/api/v1/lots/" + id(lot), nil, 403},
			{a, "DELETE", "/api/v1/lots/" + id(lot), nil, 403},
			{b, "POST", "/api/v1/lots", map[string]any{"item_count": 1, "user_id": a.ID}, 400},
			{b, "POST", "/api/v1/lots", map[string]any{"item_count": 1, "processed_at": start}, 400},
			{b, "PATCH", "/api/v1/lots/" + id(lot), map[string]any{"status": "completed"}, 409},
			// users and sessions
			{b, "GET", "/api/v1/users", nil, 403},
			{b, "PATCH", "/api/v1/users/" + fmt.Sprint(a.ID), map[string]any{"username": "x-alice"}, 404},
			{b, "DELETE", "/api/v1/users/" + fmt.Sprint(a.ID), nil, 404},
			{b, "PATCH", "/api/v1/users/" + fmt.Sprint(b.ID), map[string]any{"role": "admin"}, 403},
			{b, "DELETE", "/api/v1/auth/sessions/" + a.SID, nil, 404},
			{b, "GET", "/api/v1/users/active", nil, 403},
			{b, "POST", "/api/v1/users", map[string]any{"username": "eve", "password": "12345678"}, 403},
			// the audit trail: one's own only
			{b, "GET", "/api/v1/activity-logs?user_id=" + fmt.Sprint(a.ID), nil, 403},
		}
		for _, c := range refused {
			before := fingerprint(t, store)
			r := h.do(c.method, c.path, c.who.Access, c.body)
			if r.Status != c.status {
				t.Errorf("%s %s as %v: %d, want %d: %s", c.method, c.path, c.who.User["username"], r.Status, c.status, r)
				continue
			}
			if after := fingerprint(t, store); after != before {
				t.Errorf("%s %s as %v was refused but changed the database", c.method, c.path, c.who.User["username"])
			}
		}

		// Lists with filters never show another user's private rows.
		lists := []struct {
			path   string
			absent string
		}{
			{"/api/v1/shortcuts", "wiki.example.com"},
			{"/api/v1/events?from=" + start.Add(-time.Hour).Format(time.RFC3339) + "&to=" + future.Format(time.RFC3339), "private"},
			{"/api/v1/events/pending", "private"},
			{"/api/v1/conversations", dm},
			{"/api/v1/messages/recent", "private note"},
			{"/api/v1/activity-logs?action=shortcut.*", `"user_id":` + fmt.Sprint(a.ID)},
			{"/api/v1/activity-logs", `"user_id":` + fmt.Sprint(a.ID)},
		}
		for _, l := range lists {
			r := h.do("GET", l.path, b.Access, nil).want(t, 200)
			if strings.Contains(r.String(), l.absent) {
				t.Errorf("GET %s as bob leaks %q: %s", l.path, l.absent, r)
			}
		}
		// What is allowed works: shared reads, the owner's own, admin moderation.
		h.do("GET", "/api/v1/messages/"+id(chMsg), b.Access, nil).want(t, 200)
		h.do("GET", "/api/v1/lots/"+id(lot), b.Access, nil).want(t, 200)
		before := fingerprint(t, store)
		h.do("PATCH", "/api/v1/lots/"+id(lot), b.Access, map[string]any{"status": "processing"}).want(t, 200)
		if fingerprint(t, store) == before {
			t.Fatal("the fingerprint misses a change: the checks above prove nothing")
		}
		h.do("GET", "/api/v1/messages/"+id(dmMsg), admin.Access, nil).want(t, 200)
		h.do("DELETE", "/api/v1/messages/"+id(chMsg), admin.Access, nil).want(t, 204)
		h.do("DELETE", "/api/v1/lots/"+id(lot), admin.Access, nil).want(t, 204)
		h.do("GET", "/api/v1/activity-logs?user_id="+fmt.Sprint(a.ID), admin.Access, nil).want(t, 200)
	})
}
