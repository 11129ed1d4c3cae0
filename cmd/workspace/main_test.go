package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"workspace/internal/testpg"
	"workspace/sqlite"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// MustRunServe starts `workspace serve` on a free port and returns its URL
// and a function that stops it (SIGTERM-like) and returns run's error.
func MustRunServe(t *testing.T, args []string, getenv func(string) string) (string, func() error) {
	t.Helper()
	url, _, stop := MustRunServeOutput(t, args, getenv)
	return url, stop
}

// MustRunServeOutput is MustRunServe that also returns the lines serve
// printed before it listened.
func MustRunServeOutput(t *testing.T, args []string, getenv func(string) string) (string, []string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	var before []string
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), "workspace listening on "); ok {
			url, _, _ := strings.Cut(rest, " ")
			go io.Copy(io.Discard, pr) // keep draining the JSON log
			var once sync.Once
			var err error
			stop := func() error { once.Do(func() { cancel(); err = <-done }); return err }
			t.Cleanup(func() { stop() })
			return url, before, stop
		}
		before = append(before, sc.Text())
	}
	cancel()
	t.Fatalf("serve exited before listening: %v", <-done)
	return "", nil, nil
}

func post(t *testing.T, url, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// Ensure `serve` runs with no configuration on a fresh directory: it
// creates the data directory (0700), database and secret (0600), migrates,
// serves, and stops cleanly when its context ends.
func TestServeSQLiteZeroConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	url, stop := MustRunServe(t, []string{"-data", dir}, env())

	if code, _ := post(t, url+"/api/v1/auth/register", "", map[string]any{"username": "alice", "password": "password-1"}); code != 201 {
		t.Fatalf("register: %d", code)
	}
	code, m := post(t, url+"/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "password-1"})
	if code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	if code, me := get(t, url+"/api/v1/auth/me", m["access_token"].(string)); code != 200 || me["role"] != "admin" {
		t.Fatalf("me: %d %v", code, me)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, "workspace.db": 0o600, "jwt_secret": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", filepath.Join(dir, name), st.Mode().Perm(), want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}

	// Ensure the generated secret is kept: tokens survive a restart.
	url, _ = MustRunServe(t, []string{"-data", dir}, env())
	if code, _ := get(t, url+"/api/v1/auth/me", m["access_token"].(string)); code != 200 {
		t.Fatalf("token after restart: %d", code)
	}
}

// Ensure `serve` on PostgreSQL migrates the database, refuses to start
// without JWT_SECRET, and warns at start exactly when the server's
// autovacuum is off.
func TestServePostgres(t *testing.T) {
	dsn := testpg.Schema(t)
	err := run(context.Background(), []string{"serve", "-addr", "127.0.0.1:0"}, env("DATABASE_URL", dsn), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Fatalf("serve without JWT_SECRET: %v", err)
	}
	url, lines, _ := MustRunServeOutput(t, nil, env("DATABASE_URL", dsn, "JWT_SECRET", strings.Repeat("k", 40)))
	var autovacuum string
	if err := testpg.Admin(t).QueryRow(context.Background(), "SHOW autovacuum").Scan(&autovacuum); err != nil {
		t.Fatal(err)
	}
	warned := strings.Contains(strings.Join(lines, "\n"), "autovacuum off")
	if warned != (autovacuum == "off") {
		t.Errorf("autovacuum = %s, warned = %v; start-up lines:\n%s", autovacuum, warned, strings.Join(lines, "\n"))
	}
	if code, _ := post(t, url+"/api/v1/auth/register", "", map[string]any{"username": "alice", "password": "password-1"}); code != 201 {
		t.Fatalf("register: %d", code)
	}
	if code, m := post(t, url+"/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "password-1"}); code != 200 {
		t.Fatalf("login: %d %v", code, m)
	}
	res, err := http.Get(url + "/readyz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
}

// Ensure migrate reports status, and a database newer than the binary is
// refused by serve and migrate alike.
func TestMigrateAndNewerSchema(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "-data", dir, "status"}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "version 0 of") || !strings.Contains(out.String(), "pending 00001_seed.sql") {
		t.Fatalf("status of an empty database:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"migrate", "-data", dir, "up"}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 00001_seed.sql") || !strings.Contains(out.String(), "0 pending") {
		t.Fatalf("up:\n%s", out.String())
	}

	db, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, args := range [][]string{{"serve", "-data", dir, "-addr", "127.0.0.1:0"}, {"serve", "-data", dir, "-no-migrate"}, {"migrate", "-data", dir, "up"}} {
		err := run(context.Background(), args, env(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Fatalf("%v on a newer database: %v", args, err)
		}
	}
}

// Ensure the operator commands create, promote and reset users, reading
// the password from stdin.
func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := env("BCRYPT_COST", "10")
	if err := run(ctx, []string{"migrate", "-data", dir}, e, nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"user", "-data", dir, "-email", "ops@example.com", "create", "ops"}, e, strings.NewReader("first-password\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "-data", dir, "create", "tiny"}, e, strings.NewReader("short\n"), io.Discard, io.Discard); err == nil {
		t.Fatal("a short password was accepted")
	}
	if err := run(ctx, []string{"user", "-data", dir, "promote", "ops"}, e, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "-data", dir, "set-password", "OPS"}, e, strings.NewReader("second-password\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	url, _ := MustRunServe(t, []string{"-data", dir}, e)
	if code, _ := post(t, url+"/api/v1/auth/login", "", map[string]any{"login": "ops", "password": "first-password"}); code != 401 {
		t.Fatalf("old password: %d", code)
	}
	code, m := post(t, url+"/api/v1/auth/login", "", map[string]any{"login": "ops@example.com", "password": "second-password"})
	if code != 200 || m["user"].(map[string]any)["role"] != "admin" {
		t.Fatalf("login after reset: %d %v", code, m)
	}
	if strings.Contains(out.String(), "second-password") {
		t.Fatal("password echoed")
	}
}

func TestUsage(t *testing.T) {
	if err := run(context.Background(), nil, env(), nil, io.Discard, io.Discard); err == nil {
		t.Fatal("no command accepted")
	}
	if err := run(context.Background(), []string{"frobnicate"}, env(), nil, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(), nil, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "workspace ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
}
