package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"workspace"
	"workspace/internal/testpg"
	"workspace/sqlite"
)

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"365d": 365 * 24 * time.Hour, "720h": 720 * time.Hour, "1d": 24 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "0d", "0h", "-5h", "1y", "1.5d"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q) accepted", in)
		}
	}
}

func TestOpsConfig(t *testing.T) {
	cfg := DefaultConfig()
	key := "k2:" + strings.Repeat("A", 43) + "=," + "k1:" + strings.Repeat("B", 43) + "="
	if err := cfg.LoadEnv(env("METRICS_ADDR", "10.0.0.5:9100", "AUDIT_ENCRYPTION_KEYS", key,
		"AUDIT_SENSITIVE_KEYS", "email, phone", "ACTIVITY_RETENTION", "365d")); err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "10.0.0.5:9100" || len(cfg.AuditKeys) != 2 || cfg.AuditKeys[0].ID != "k2" ||
		strings.Join(cfg.AuditSensitiveKeys, ",") != "email,phone" || cfg.ActivityRetention != 365*24*time.Hour {
		t.Fatalf("config = %+v", cfg)
	}
	for _, kv := range [][]string{{"AUDIT_ENCRYPTION_KEYS", "k1:c2hvcnQ="}, {"ACTIVITY_RETENTION", "forever"}} {
		cfg := DefaultConfig()
		err := cfg.LoadEnv(env(kv...))
		if err == nil || !strings.Contains(err.Error(), kv[0]) || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Fatalf("%v: err = %v", kv, err)
		}
	}
}

// Ensure `activity prune` deletes exactly the rows older than the cutoff,
// in batches, and gives the space back on a SQLite file.
func TestActivityPrune(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "-data", dir}, env(), nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().AddDate(-2, 0, 0)
	db.Now = func() time.Time { return old }
	big := strings.Repeat("x", 2000) // enough rows and bytes to free pages
	for i := 0; i < 300; i++ {
		if err := db.WriteAudit(ctx, workspace.Audit{Action: "test.old", Metadata: map[string]any{"pad": big}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Now = workspace.Now
	for i := 0; i < 3; i++ {
		if err := db.WriteAudit(ctx, workspace.Audit{Action: "test.new"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	var out bytes.Buffer
	if err := run(ctx, []string{"activity", "prune", "-data", dir, "--older-than", "365d", "-batch", "100"}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deleted 300 audit rows") || !strings.Contains(out.String(), "in 3 batches") ||
		!strings.Contains(out.String(), "incremental_vacuum gave back") || strings.Contains(out.String(), "gave back 0 pages") {
		t.Fatalf("output:\n%s", out.String())
	}
	db, err = sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	logs, _, err := db.FindActivityLogs(ctx, workspace.ActivityFilter{Limit: workspace.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, l := range logs {
		actions[l.Action]++
	}
	if len(logs) != 4 || actions["test.new"] != 3 || actions[workspace.ActionActivityPrune] != 1 {
		t.Fatalf("left: %v", actions)
	}
	if err := run(ctx, []string{"activity", "prune", "-data", dir}, env(), nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "older-than") {
		t.Fatalf("without -older-than: %v", err)
	}
}

// Ensure METRICS_ADDR serves /metrics to anyone, with the request counter
// labelled by route, while the API listener's /metrics still wants a token.
func TestServeMetricsAddr(t *testing.T) {
	url, before, _ := MustRunServeOutput(t, []string{"-data", t.TempDir()}, env("METRICS_ADDR", "127.0.0.1:0"))
	var metricsURL string
	for _, l := range before {
		if _, rest, ok := strings.Cut(l, "workspace metrics on "); ok {
			metricsURL = rest
		}
	}
	if metricsURL == "" {
		t.Fatalf("no metrics address in %q", before)
	}
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, err = http.Get(url + "/metrics"); err != nil || res.StatusCode != 401 {
		t.Fatalf("API /metrics without a token: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	res, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `workspace_http_requests_total{route="GET /healthz",status="200"} 1`) {
		t.Fatalf("private metrics: %d\n%s", res.StatusCode, body)
	}
}

// Ensure the documented least-privilege PostgreSQL setup works: an owner
// role migrates, and `serve -no-migrate` runs under an app role that can
// only read and write rows (and cannot create tables).
func TestServeAppRole(t *testing.T) {
	var b [4]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	owner, app := "ws_owner_"+suffix, "ws_app_"+suffix
	admin := testpg.Admin(t)
	ctx := context.Background()
	// Registered before the database, so it runs after the database is dropped.
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testpg.ServerDSN())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for _, r := range []string{app, owner} {
			c.Exec(context.Background(), "DROP ROLE IF EXISTS "+r)
		}
	})
	dsn, dbName := testpg.Database(t)
	for _, q := range []string{
		"CREATE ROLE " + owner + " LOGIN",
		"CREATE ROLE " + app + " LOGIN",
		"ALTER DATABASE " + dbName + " OWNER TO " + owner,
		"REVOKE ALL ON DATABASE " + dbName + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + dbName + " TO " + app,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	asRole := func(role string) string {
		u := strings.Replace(dsn, "postgres@", role+"@", 1)
		if u == dsn {
			t.Fatalf("cannot set the user in %s", dsn)
		}
		return u
	}
	// PostgreSQL 15+: the public schema belongs to the database owner.
	ownerConn, err := pgx.Connect(ctx, asRole(owner))
	if err != nil {
		t.Fatal(err)
	}
	defer ownerConn.Close(ctx)
	// The README's steps, in its order: privileges of future tables, then
	// the migration by the owner.
	for _, q := range []string{
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public TO " + app,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO " + app,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO " + app,
	} {
		if _, err := ownerConn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate"}, env("DATABASE_URL", asRole(owner)), nil, &out, io.Discard); err != nil {
		t.Fatalf("migrate as owner: %v\n%s", err, out.String())
	}

	appDSN := asRole(app)
	appConn, err := pgx.Connect(ctx, appDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer appConn.Close(ctx)
	if _, err := appConn.Exec(ctx, "CREATE TABLE intruder (id int)"); err == nil {
		t.Fatal("the app role can create tables")
	}
	if _, err := appConn.Exec(ctx, "DROP TABLE activity_logs"); err == nil {
		t.Fatal("the app role can drop tables")
	}

	e := env("DATABASE_URL", appDSN, "JWT_SECRET", strings.Repeat("s", 40),
		"AUDIT_ENCRYPTION_KEYS", "k1:"+strings.Repeat("A", 43)+"=")
	url, stop := MustRunServe(t, []string{"-no-migrate"}, e)
	if code, _ := post(t, url+"/api/v1/auth/register", "", map[string]any{"username": "alice", "password": "password-1", "email": "alice@example.com"}); code != 201 {
		t.Fatalf("register: %d", code)
	}
	code, m := post(t, url+"/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "password-1"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	token := m["access_token"].(string)
	for _, path := range []string{"/api/v1/activity-logs", "/api/v1/admin/db/tables", "/api/v1/admin/db/connections", "/api/v1/admin/db/index-usage", "/api/v1/admin/db/slow-queries"} {
		if code, m := get(t, url+path, token); code != 200 {
			t.Fatalf("%s: %d %v", path, code, m)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Retention works under the app role too (DELETE is granted; VACUUM
	// of a table it does not own is skipped by the server with a warning).
	out.Reset()
	if err := run(ctx, []string{"activity", "prune", "-older-than", "1h", "-vacuum"}, e, nil, &out, io.Discard); err != nil {
		t.Fatalf("prune as the app role: %v", err)
	}
}

// Ensure the retention loop of serve prunes at once, logs what it did,
// and returns when its context ends.
func TestRetentionLoop(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Now().AddDate(-1, -1, 0)
	db.Now = func() time.Time { return old }
	for i := 0; i < 4; i++ {
		if err := db.WriteAudit(ctx, workspace.Audit{Action: "test.old"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Now = workspace.Now

	pr, pw := io.Pipe()
	logger := slog.New(slog.NewJSONHandler(pw, nil))
	done := make(chan struct{})
	go func() { defer close(done); runRetention(ctx, db, 365*24*time.Hour, logger) }()
	dec := json.NewDecoder(pr)
	for {
		var rec map[string]any
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "activity retention" {
			if rec["deleted"] != 4.0 {
				t.Fatalf("log record %v", rec)
			}
			break
		}
	}
	go io.Copy(io.Discard, pr) // the reclaim-space record
	cancel()
	<-done
	logs, _, err := db.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptrTo("test.old")})
	if err != nil || len(logs) != 0 {
		t.Fatalf("old rows left: %d, %v", len(logs), err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// Ensure serve's GC defaults apply only where GOGC and GOMEMLIMIT are unset.
func TestTuneGC(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })
	if p, l := tuneGC(env()); p != defaultGCPercent || l != defaultMemoryLimit {
		t.Fatalf("defaults: GOGC %d, limit %d", p, l)
	}
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 30)
	if p, l := tuneGC(env("GOGC", "150", "GOMEMLIMIT", "1GiB")); p != 150 || l != 1<<30 {
		t.Fatalf("with the environment set: GOGC %d, limit %d; the runtime's own values must stay", p, l)
	}
}
