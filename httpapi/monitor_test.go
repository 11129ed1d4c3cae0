package httpapi_test

import (
	"bufio"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// Ensure the four monitoring endpoints answer admins 200 with content on
// both engines (what SQLite lacks says so), and users 403.
func TestAdminMonitoring(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		user := h.signup("bob")
		engine := ""
		for _, path := range []string{"connections", "tables", "slow-queries", "index-usage"} {
			url := "/api/v1/admin/db/" + path
			h.do("GET", url, user.Access, nil).want(t, 403)
			h.do("GET", url, "", nil).want(t, 401)
			m := h.do("GET", url, admin.Access, nil).want(t, 200).JSON()
			engine, _ = m["engine"].(string)
			available, _ := m["available"].(bool)
			reason, _ := m["reason"].(string)
			switch path {
			case "connections", "slow-queries":
				if engine == "sqlite" && (available || !strings.Contains(reason, "Not available on SQLite")) {
					t.Fatalf("%s on SQLite: %v", path, m)
				}
				if path == "connections" && engine == "postgres" && (!available || len(m["databases"].([]any)) == 0) {
					t.Fatalf("connections: %v", m)
				}
				if path == "slow-queries" && engine == "postgres" && !available && !strings.Contains(reason, "CREATE EXTENSION pg_stat_statements") {
					t.Fatalf("slow queries: %v", m)
				}
			case "tables":
				tables := m["tables"].([]any)
				var names []string
				for _, tb := range tables {
					tb := tb.(map[string]any)
					names = append(names, tb["name"].(string))
					if tb["bytes"].(float64) <= 0 || tb["size"] == "" {
						t.Fatalf("table: %v", tb)
					}
				}
				if !available || !strings.Contains(","+strings.Join(names, ",")+",", ",users,") {
					t.Fatalf("tables: %v", m)
				}
			case "index-usage":
				if !available || !strings.Contains(h.do("GET", url, admin.Access, nil).String(), `"index":"idx_activity_logs_created"`) {
					t.Fatalf("index usage: %v", m)
				}
			}
		}
		if engine == "" {
			t.Fatal("no engine reported")
		}
	})
}

// metricLines returns the exposition lines that start with prefix.
func metricLines(body, prefix string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Ensure /metrics answers only an admin's token on the API listener, and
// anyone on the private metrics handler; it counts requests by route
// pattern (never the raw path) and status, login failures, pool stats and
// the Go runtime.
func TestMetrics(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		admin := h.signup("admin")
		user := h.signup("bob")
		h.do("GET", "/metrics", "", nil).want(t, 401)
		h.do("GET", "/metrics", "not-a-token", nil).want(t, 401)
		h.do("GET", "/metrics", user.Access, nil).want(t, 403)
		h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "bob", "password": "wrong-password"}).want(t, 401)
		h.do("GET", "/api/v1/users/"+strconv.Itoa(user.ID), admin.Access, nil).want(t, 200)

		r := h.do("GET", "/metrics", admin.Access, nil).want(t, 200)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("content type %q", r.Header.Get("Content-Type"))
		}
		body := r.String()
		for _, want := range []string{
			`workspace_http_requests_total{route="POST /api/v1/auth/login",status="200"} 2`,
			`workspace_http_requests_total{route="POST /api/v1/auth/login",status="401"} 1`,
			`workspace_http_requests_total{route="GET /api/v1/users/{id}",status="200"} 1`,
			`workspace_http_requests_total{route="GET /metrics",status="403"} 1`,
			`workspace_http_request_duration_seconds_bucket{route="GET /api/v1/users/{id}",status="200",le="+Inf"} 1`,
			`workspace_http_requests_in_flight 1`, // this scrape
			`workspace_login_failures_total 1`,
			`workspace_login_throttled_total 0`,
			`workspace_websocket_connections 0`,
			`go_goroutines `,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if strings.Contains(body, "/api/v1/users/"+strconv.Itoa(user.ID)+`"`) {
			t.Error("a raw path is a label")
		}
		if len(metricLines(body, "go_sql_open_connections{db_name=\"sqlite_read\"}"))+len(metricLines(body, "workspace_pgxpool_total_conns ")) != 1 {
			t.Error("no pool statistics")
		}

		// The private listener's handler needs no token.
		priv := httptest.NewServer(h.api.MetricsHandler())
		defer priv.Close()
		res, err := priv.Client().Get(priv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("private metrics: %d", res.StatusCode)
		}
	})
}
