package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		a := h.signup("alice")
		b := h.signup("bob")
		c := h.signup("carol")

		// Ensure a DM is opened by username or id, and only its users read it.
		dm := h.do("POST", "/api/v1/conversations/dm", a.Access, map[string]any{"username": "BOB"}).want(t, 200).JSON()
		dmID := dm["id"].(string)
		if want := fmt.Sprintf("dm:%d:%d", a.ID, b.ID); dmID != want {
			t.Fatalf("dm id = %s, want %s", dmID, want)
		}
		if again := h.do("POST", "/api/v1/conversations/dm", b.Access, map[string]any{"user_id": a.ID}).want(t, 200).JSON(); again["id"] != dmID {
			t.Fatalf("bob's dm id = %v", again["id"])
		}
		h.do("POST", "/api/v1/conversations/dm", a.Access, map[string]any{"user_id": a.ID}).want(t, 400)
		h.do("POST", "/api/v1/conversations/dm", a.Access, map[string]any{"username": "nobody"}).want(t, 404)
		h.do("POST", "/api/v1/conversations/dm", a.Access, map[string]any{}).want(t, 400)

		sent := h.do("POST", "/api/v1/messages", a.Access, map[string]any{"conversation_id": dmID, "text": "secret 🤫"}).want(t, 201).JSON()
		mid := int(sent["id"].(float64))
		if sent["username"] != "alice" || sent["is_read"] != false {
			t.Fatalf("sent = %v", sent)
		}
		h.do("GET", fmt.Sprintf("/api/v1/messages/%d", mid), c.Access, nil).want(t, 404)
		h.do("GET", "/api/v1/messages?conversation_id="+dmID, c.Access, nil).want(t, 404)
		h.do("POST", "/api/v1/messages", c.Access, map[string]any{"conversation_id": dmID, "text": "let me in"}).want(t, 404)
		h.do("POST", fmt.Sprintf("/api/v1/messages/%d/read", mid), c.Access, nil).want(t, 404)
		h.do("POST", "/api/v1/conversations/"+dmID+"/read", c.Access, nil).want(t, 404)
		if r := h.do("GET", "/api/v1/messages/recent", c.Access, nil).want(t, 200); strings.Contains(r.String(), "secret") {
			t.Fatalf("carol's recent messages leak the DM: %s", r)
		}
		if r := h.do("GET", "/api/v1/conversations", c.Access, nil).want(t, 200); strings.Contains(r.String(), dmID) {
			t.Fatalf("carol lists the DM: %s", r)
		}

		// Ensure the recipient's unread count, read receipt and mark-all.
		h.do("POST", "/api/v1/messages", a.Access, map[string]any{"conversation_id": dmID, "text": "two"}).want(t, 201)
		if u := h.do("GET", "/api/v1/messages/unread-count", b.Access, nil).want(t, 200).JSON(); u["total"].(float64) != 2 {
			t.Fatalf("bob unread = %v", u)
		}
		if r := h.do("POST", fmt.Sprintf("/api/v1/messages/%d/read", mid), b.Access, nil).want(t, 200).JSON(); r["is_read"] != true {
			t.Fatalf("read receipt: %v", r)
		}
		h.do("POST", "/api/v1/conversations/"+dmID+"/read", b.Access, nil).want(t, 204)
		if u := h.do("GET", "/api/v1/messages/unread-count", b.Access, nil).want(t, 200).JSON(); u["total"].(float64) != 0 {
			t.Fatalf("bob unread after reading = %v", u)
		}

		// Ensure channels: default general, pages by before/after.
		var ids []int
		for i := 0; i < 5; i++ {
			m := h.do("POST", "/api/v1/messages", b.Access, map[string]any{"text": fmt.Sprint("hello ", i)}).want(t, 201).JSON()
			if m["conversation_id"] != "general" {
				t.Fatalf("default conversation = %v", m["conversation_id"])
			}
			ids = append(ids, int(m["id"].(float64)))
		}
		page := h.do("GET", "/api/v1/messages?conversation_id=general&limit=2", c.Access, nil).want(t, 200).JSON()
		msgs := page["messages"].([]any)
		if len(msgs) != 2 || page["has_more"] != true || int(msgs[0].(map[string]any)["id"].(float64)) != ids[4] {
			t.Fatalf("newest page = %v", page)
		}
		older := h.do("GET", fmt.Sprintf("/api/v1/messages?conversation_id=general&limit=2&before=%d", ids[3]), c.Access, nil).want(t, 200).JSON()
		if m := older["messages"].([]any); int(m[0].(map[string]any)["id"].(float64)) != ids[2] {
			t.Fatalf("older page = %v", older)
		}
		newer := h.do("GET", fmt.Sprintf("/api/v1/messages?conversation_id=general&after=%d", ids[2]), c.Access, nil).want(t, 200).JSON()
		if m := newer["messages"].([]any); len(m) != 2 || int(m[0].(map[string]any)["id"].(float64)) != ids[3] {
			t.Fatalf("catch-up page = %v", newer)
		}
		h.do("GET", "/api/v1/messages?conversation_id=general&after=1&before=9", c.Access, nil).want(t, 400)
		h.do("GET", "/api/v1/messages?conversation_id=Bad%20Name", c.Access, nil).want(t, 400)

		// Ensure the seed's text CHECK and bounds are field-level 400s.
		for _, body := range []map[string]any{
			{"text": ""}, {"text": "   "}, {"text": strings.Repeat("x", 10001)}, {"text": "a\u0000b"},
			{"text": "x", "conversation_id": "dm:2:1"}, {"text": "x", "user_id": 1}, {"text": "x", "is_read": true},
		} {
			r := h.do("POST", "/api/v1/messages", b.Access, body).want(t, 400)
			if len(fieldNames(r)) == 0 {
				t.Fatalf("no field errors for %v: %s", body, r)
			}
		}
		h.do("POST", "/api/v1/messages", b.Access, map[string]any{"text": strings.Repeat("é", 10000)}).want(t, 201)

		// Ensure edit is the author's, delete the author's or an admin's,
		// and a deleted text is hidden from all but admins.
		target := fmt.Sprintf("/api/v1/messages/%d", ids[0])
		h.do("PATCH", target, c.Access, map[string]any{"text": "hacked"}).want(t, 403)
		h.do("PATCH", target, b.Access, map[string]any{"text": "edited"}).want(t, 200)
		h.do("DELETE", target, c.Access, nil).want(t, 403)
		h.do("DELETE", target, admin.Access, nil).want(t, 204)
		if m := h.do("GET", target, c.Access, nil).want(t, 200).JSON(); m["text"] != "" || m["deleted_at"] == nil {
			t.Fatalf("deleted message as seen by a user: %v", m)
		}
		if m := h.do("GET", target, admin.Access, nil).want(t, 200).JSON(); m["text"] != "edited" {
			t.Fatalf("deleted message as seen by an admin: %v", m)
		}
		h.do("PATCH", target, b.Access, map[string]any{"text": "again"}).want(t, 404)
		h.do("GET", "/api/v1/messages/999999", b.Access, nil).want(t, 404)

		// Ensure the conversation list carries last messages and unread counts.
		convs := h.do("GET", "/api/v1/conversations", a.Access, nil).want(t, 200).JSON()["conversations"].([]any)
		if len(convs) != 2 {
			t.Fatalf("alice's conversations = %v", convs)
		}
		first := convs[0].(map[string]any)
		if first["id"] != "general" || first["unread_count"].(float64) != 5 || first["last_message"] == nil {
			t.Fatalf("general for alice = %v", first)
		}
		// Ensure the list pages with next_cursor, and a bad cursor is a 400.
		page1 := h.do("GET", "/api/v1/conversations?limit=1", a.Access, nil).want(t, 200).JSON()
		next, _ := page1["next_cursor"].(string)
		if len(page1["conversations"].([]any)) != 1 || next == "" {
			t.Fatalf("first page of 1 = %v", page1)
		}
		page2 := h.do("GET", "/api/v1/conversations?limit=1&cursor="+next, a.Access, nil).want(t, 200).JSON()
		if c := page2["conversations"].([]any); len(c) != 1 || c[0].(map[string]any)["id"] != convs[1].(map[string]any)["id"] || page2["next_cursor"] != nil {
			t.Fatalf("second page of 1 = %v", page2)
		}
		h.do("GET", "/api/v1/conversations?cursor=bogus", a.Access, nil).want(t, 400)
		h.do("GET", "/api/v1/conversations?limit=201", a.Access, nil).want(t, 400)
		assertNoSecrets(t, h, "secret 🤫", "edited")
	})
}
