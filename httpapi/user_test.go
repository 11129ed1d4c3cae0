package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"workspace"
)

func TestUserAdmin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		bob := h.signup("bob")

		// Ensure an ordinary user gets 403 on every admin route, and nothing changes.
		h.do("GET", "/api/v1/users", bob.Access, nil).want(t, 403)
		h.do("POST", "/api/v1/users", bob.Access, map[string]any{"username": "eve", "password": "12345678"}).want(t, 403)
		if _, err := h.store.FindUserByLogin(context.Background(), "eve"); workspace.ErrorCode(err) != workspace.ENOTFOUND {
			t.Fatal("a refused create stored a user")
		}

		// Ensure an admin lists, filters, creates, promotes and deletes.
		list := h.do("GET", "/api/v1/users?limit=1", admin.Access, nil).want(t, 200).JSON()
		if len(list["users"].([]any)) != 1 || list["next_cursor"] == "" {
			t.Fatalf("page: %v", list)
		}
		next := h.do("GET", "/api/v1/users?limit=1&cursor="+list["next_cursor"].(string), admin.Access, nil).want(t, 200).JSON()
		if u := next["users"].([]any)[0].(map[string]any); u["username"] != "admin" {
			t.Fatalf("second page: %v", next)
		}
		h.do("GET", "/api/v1/users?cursor=bogus", admin.Access, nil).want(t, 400)
		h.do("GET", "/api/v1/users?limit=100000", admin.Access, nil).want(t, 400)
		carol := h.do("POST", "/api/v1/users", admin.Access, map[string]any{"username": "carol", "password": "12345678", "role": "admin"}).want(t, 201).JSON()
		if carol["role"] != "admin" {
			t.Fatalf("created: %v", carol)
		}
		h.do("POST", "/api/v1/users", admin.Access, map[string]any{"username": "CAROL", "password": "12345678"}).want(t, 409)
		cid := int(carol["id"].(float64))
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin.Access, map[string]any{"role": "admin"}).want(t, 200)
		// Bob is admin at once, on the token he already holds.
		h.do("GET", "/api/v1/users", bob.Access, nil).want(t, 200)
		// Demotion takes effect at once too.
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin.Access, map[string]any{"role": "user"}).want(t, 200)
		h.do("GET", "/api/v1/users", bob.Access, nil).want(t, 403)
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), admin.Access, map[string]any{"role": "root"}).want(t, 400)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", cid), admin.Access, nil).want(t, 204)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", cid), admin.Access, nil).want(t, 404)

		// Ensure the last admin can neither be demoted nor deleted.
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", admin.ID), admin.Access, map[string]any{"role": "user"}).want(t, 409)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", admin.ID), admin.Access, nil).want(t, 409)

		// Ensure every change is audited with the acting admin.
		logs, _, _ := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr("user.*"), UserID: &admin.ID, Limit: 100})
		actions := map[string]int{}
		for _, l := range logs {
			actions[l.Action]++
		}
		if actions["user.create"] != 2 || actions["user.update"] != 2 || actions["user.delete"] != 1 {
			t.Fatalf("admin's user.* rows: %v", actions)
		}
	})
}

func TestUserSelf(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		h.signup("admin")
		bob := h.signup("bob")
		carol := h.signup("carol")
		h.do("PATCH", "/api/v1/auth/me", carol.Access, map[string]any{"email": "carol@example.com"}).want(t, 200)

		// Ensure a user sees a teammate's name but not their email.
		r := h.do("GET", fmt.Sprintf("/api/v1/users/%d", carol.ID), bob.Access, nil).want(t, 200)
		if strings.Contains(r.String(), "carol@example.com") {
			t.Fatalf("email leaked: %s", r)
		}
		if mine := h.do("GET", fmt.Sprintf("/api/v1/users/%d", carol.ID), carol.Access, nil).want(t, 200); !strings.Contains(mine.String(), "carol@example.com") {
			t.Fatalf("own email hidden: %s", mine)
		}

		// Ensure a user cannot change or delete another user (404), nor their own role (403).
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", carol.ID), bob.Access, map[string]any{"username": "hacked"}).want(t, 404)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", carol.ID), bob.Access, nil).want(t, 404)
		h.do("PATCH", fmt.Sprintf("/api/v1/users/%d", bob.ID), bob.Access, map[string]any{"role": "admin"}).want(t, 403)
		h.do("PATCH", "/api/v1/auth/me", bob.Access, map[string]any{"role": "admin"}).want(t, 400)
		h.do("GET", "/api/v1/users/99999", bob.Access, nil).want(t, 404)
		h.do("GET", "/api/v1/users/abc", bob.Access, nil).want(t, 400)
		if u, _ := h.store.FindUserByID(context.Background(), carol.ID); u.Username != "carol" {
			t.Fatal("refused change was stored")
		}

		// Ensure a user may rename themselves and delete their own account,
		// which ends their sessions.
		me := h.do("PATCH", "/api/v1/auth/me", bob.Access, map[string]any{"username": "robert"}).want(t, 200).JSON()
		if me["username"] != "robert" {
			t.Fatalf("me: %v", me)
		}
		h.do("PATCH", "/api/v1/auth/me", bob.Access, map[string]any{"username": "CAROL"}).want(t, 409)
		h.do("DELETE", fmt.Sprintf("/api/v1/users/%d", bob.ID), bob.Access, nil).want(t, 204)
		h.do("GET", "/api/v1/auth/me", bob.Access, nil).want(t, 401)
	})
}

// Ensure every operation the OpenAPI document marks as secured answers 401
// without a token, every admin operation 403 to a user, and that only
// register, login and refresh are public. The list comes from the
// document, so a new route cannot be forgotten.
func TestOpenAPISecurity(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))
	h.signup("admin")
	user := h.signup("bob")
	doc := h.api.API().OpenAPI()
	public := map[string]bool{}
	n := 0
	for path, item := range doc.Paths {
		for method, op := range operations(item) {
			n++
			concrete := strings.NewReplacer("{id}", "1").Replace(path)
			if len(op.Security) == 0 {
				public[op.OperationID] = true
				continue
			}
			r := h.do(method, concrete, "", nil)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d", method, path, r.Status)
			}
			if admin, _ := op.Metadata["admin"].(bool); admin {
				if r := h.do(method, concrete, user.Access, nil); r.Status != http.StatusForbidden {
					t.Errorf("%s %s as a user: %d", method, path, r.Status)
				}
			}
		}
	}
	want := map[string]bool{"auth-register": true, "auth-login": true, "auth-refresh": true, "calendar-feed": true} // the feed: its URL token authenticates
	if fmt.Sprint(public) != fmt.Sprint(want) {
		t.Fatalf("public operations = %v, want %v", public, want)
	}
	if n < 14 {
		t.Fatalf("only %d operations in the document", n)
	}
}

func operations(p *huma.PathItem) map[string]*huma.Operation {
	out := map[string]*huma.Operation{}
	for m, op := range map[string]*huma.Operation{"GET": p.Get, "POST": p.Post, "PUT": p.Put, "PATCH": p.Patch, "DELETE": p.Delete} {
		if op != nil {
			out[m] = op
		}
	}
	return out
}
