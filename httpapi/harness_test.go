package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workspace"
	"workspace/auth"
	"workspace/httpapi"
	"workspace/internal/testpg"
	"workspace/postgres"
	"workspace/sqlite"
)

// testSecret signs the test server's tokens.
var testSecret = []byte("test-secret-test-secret-test-secret!!")

// harness is a real server (real router, real store, real auth) on one engine.
type harness struct {
	t      testing.TB
	store  workspace.Store
	auth   *auth.Service
	api    *httpapi.Server
	srv    *httptest.Server
	client *http.Client
}

type engineOpener func(tb testing.TB) workspace.Store

var engines = map[string]engineOpener{
	"sqlite": func(tb testing.TB) workspace.Store {
		db, err := sqlite.Open(filepath.Join(tb.TempDir(), "workspace.db"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			tb.Fatal(err)
		}
		return db
	},
	"postgres": func(tb testing.TB) workspace.Store {
		db, err := postgres.Open(context.Background(), testpg.Schema(tb), postgres.Options{MaxConns: 8})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			tb.Fatal(err)
		}
		return db
	},
}

// forEachEngine runs fn as a subtest per engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, open engineOpener)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { fn(t, engines[name]) })
	}
}

// testAuthConfig uses bcrypt's minimum cost so the suite stays fast on
// two cores (configuration refuses < 10; the constructor allows it).
func testAuthConfig() auth.Config {
	c := auth.DefaultConfig(testSecret)
	c.BcryptCost = 4
	c.HashConcurrency = 2
	return c
}

func newHarness(tb testing.TB, store workspace.Store, mutate ...func(*httpapi.Server, *auth.Config)) *harness {
	tb.Helper()
	cfg := testAuthConfig()
	api := &httpapi.Server{Store: store, AllowRegistration: true, MaxBodyBytes: 1 << 16, AllowedOrigins: []string{"https://app.example.com"}}
	for _, m := range mutate {
		m(api, &cfg)
	}
	a, err := auth.New(store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	api.Auth = a
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener = httpapi.NewListener(srv.Listener) // as serve does
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	tb.Cleanup(srv.Close)
	return &harness{t: tb, store: store, auth: a, api: api, srv: srv, client: srv.Client()}
}

// response is a decoded answer.
type response struct {
	Status           int
	Header           http.Header
	TransferEncoding []string
	Body             []byte
}

func (r response) JSON() map[string]any {
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

func (r response) String() string { return string(r.Body) }

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON).
func (h *harness) do(method, path, token string, body any) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "httpapi-test")
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, TransferEncoding: res.TransferEncoding, Body: b}
}

// want fails unless r has the status.
func (r response) want(tb testing.TB, status int) response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// session is a signed-in user.
type session struct {
	User    map[string]any
	ID      int
	Access  string
	Refresh string
	SID     string
}

func (h *harness) register(username, password string) map[string]any {
	h.t.Helper()
	return h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": username, "password": password}).want(h.t, 201).JSON()
}

func (h *harness) login(login, password string) session {
	h.t.Helper()
	m := h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": login, "password": password}).want(h.t, 200).JSON()
	u := m["user"].(map[string]any)
	return session{User: u, ID: int(u["id"].(float64)), Access: m["access_token"].(string), Refresh: m["refresh_token"].(string), SID: m["session_id"].(string)}
}

// signup registers and signs in.
func (h *harness) signup(username string) session {
	h.t.Helper()
	h.register(username, "password-"+username)
	return h.login(username, "password-"+username)
}

// clock is a settable time source for the auth service.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func newClock() *clock                   { return &clock{now: time.Now()} }
func ptr[T any](v T) *T                  { return &v }
func code(r response) string             { s, _ := r.JSON()["code"].(string); return s }
func fieldNames(r response) (out []string) {
	errs, _ := r.JSON()["errors"].([]any)
	for _, e := range errs {
		f, _ := e.(map[string]any)["field"].(string)
		out = append(out, f)
	}
	return out
}
