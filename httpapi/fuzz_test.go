package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// writeEndpoints are the operations that decode a JSON body, with a valid
// seed body each. {id} paths name rows the fuzz harness creates.
var writeEndpoints = []struct {
	method, path, seed string
}{
	{"POST", "/api/v1/auth/register", `{"username":"carol","password":"12345678","email":"c@example.com"}`},
	{"POST", "/api/v1/auth/login", `{"login":"admin","password":"password-admin"}`},
	{"POST", "/api/v1/auth/refresh", `{"refresh_token":"abcdefghijklmnopqrstuvwxyz"}`},
	{"PATCH", "/api/v1/auth/me", `{"email":"admin@example.com"}`},
	{"POST", "/api/v1/auth/password", `{"current_password":"x","new_password":"12345678"}`},
	{"POST", "/api/v1/users", `{"username":"dave","password":"12345678","role":"user"}`},
	{"PATCH", "/api/v1/users/2", `{"username":"bobby"}`},
	{"POST", "/api/v1/conversations/dm", `{"user_id":2}`},
	{"POST", "/api/v1/messages", `{"conversation_id":"general","text":"hi"}`},
	{"PATCH", "/api/v1/messages/1", `{"text":"edited"}`},
	{"POST", "/api/v1/events", `{"title":"t","start_time":"2030-01-01T10:00:00Z","end_time":"2030-01-01T11:00:00Z","attendees":["bob"]}`},
	{"PATCH", "/api/v1/events/1", `{"location":"here"}`},
	{"POST", "/api/v1/lots", `{"item_count":3,"description":"d"}`},
	{"PATCH", "/api/v1/lots/1", `{"status":"processing"}`},
	{"POST", "/api/v1/shortcuts", `{"name":"n","action_type":"url","action_data":{"url":"https://example.com"}}`},
	{"PATCH", "/api/v1/shortcuts/1", `{"name":"m"}`},
	{"PUT", "/api/v1/shortcuts/order", `{"ids":[1]}`},
}

// FuzzWriteEndpoints sends arbitrary bodies to every JSON write endpoint
// through the real router and store: nothing may answer 5xx. Its seed
// corpus runs in every `go test`; `go test -fuzz FuzzWriteEndpoints ./httpapi`
// explores further.
func FuzzWriteEndpoints(f *testing.F) {
	h := newHarness(f, engines["sqlite"](f))
	admin := h.signup("admin")
	h.signup("bob")
	h.do("POST", "/api/v1/messages", admin.Access, map[string]any{"text": "m"}).want(f, 201)
	h.do("POST", "/api/v1/events", admin.Access, map[string]any{"title": "e", "start_time": "2030-01-01T10:00:00Z", "end_time": "2030-01-01T11:00:00Z"}).want(f, 201)
	h.do("POST", "/api/v1/lots", admin.Access, map[string]any{"item_count": 1}).want(f, 201)
	h.do("POST", "/api/v1/shortcuts", admin.Access, map[string]any{"name": "s", "action_type": "folder", "action_data": map[string]any{"path": "/"}}).want(f, 201)
	handler := h.api.Handler()
	for i, e := range writeEndpoints {
		f.Add(uint8(i), []byte(e.seed))
		f.Add(uint8(i), []byte(`{"`+e.seed[2:]))
		f.Add(uint8(i), []byte(`{"zz":1}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := writeEndpoints[int(which)%len(writeEndpoints)]
		req := httptest.NewRequest(e.method, e.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin.Access)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", e.method, e.path, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated || rec.Code == http.StatusNoContent {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: error %d with Content-Type %q", e.method, e.path, rec.Code, ct)
		}
	})
}

// FuzzAccessToken: no string but a token this server signed authenticates,
// and none makes the parser panic.
func FuzzAccessToken(f *testing.F) {
	h := newHarness(f, engines["sqlite"](f))
	s := h.signup("alice")
	f.Add(s.Access)
	f.Add(s.Access[:len(s.Access)-2])
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.")
	f.Add("a.b.c")
	f.Add(s.Refresh)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := h.auth.ParseAccessToken(token)
		if err == nil && token != s.Access {
			// A different string can only parse if it is a re-encoding of
			// the same signed token (base64 padding variants are refused by
			// the JWT library, so this should not happen).
			t.Fatalf("accepted %q (claims %+v)", token, c)
		}
	})
}
