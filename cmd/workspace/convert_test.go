package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"workspace/internal/testpg"
	"workspace/sqlite"
)

// call sends a JSON request and decodes the JSON answer.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

// mustCall is call that fails the test unless the status is want.
func mustCall(t *testing.T, want int, method, url, token string, body any) map[string]any {
	t.Helper()
	code, m := call(t, method, url, token, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %v", method, url, code, want, m)
	}
	return m
}

// MustReadSQLite returns every row of every data table of a SQLite file,
// keyed by table and then by the row's primary key, as the driver returns
// the values.
func MustReadSQLite(t *testing.T, path string) map[string]map[string][]any {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]map[string][]any{}
	for _, table := range tables {
		cols, keys := sqliteColumns(t, db, table)
		rows, err := db.Query(`SELECT "` + strings.Join(cols, `", "`) + `" FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = map[string][]any{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table][rowKey(cols, keys, vals)] = vals
		}
		rows.Close()
	}
	return out
}

func sqliteColumns(t *testing.T, db *sql.DB, table string) (cols, keys []string) {
	t.Helper()
	rows, err := db.Query(`SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pk := map[int]string{}
	for rows.Next() {
		var name string
		var n int
		rows.Scan(&name, &n)
		cols = append(cols, name)
		if n > 0 {
			pk[n] = name
		}
	}
	for i := 1; i <= len(pk); i++ {
		keys = append(keys, pk[i])
	}
	return cols, keys
}

// rowKey formats a row's primary key alike for both engines' values.
func rowKey(cols, keys []string, vals []any) string {
	var parts []string
	for _, k := range keys {
		switch v := vals[slices.Index(cols, k)].(type) {
		case []byte:
			parts = append(parts, hex.EncodeToString(v))
		default:
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, "|")
}

// mustEqualDatabases compares every row and column of the SQLite file with
// the PostgreSQL database, checking each value's conversion independently
// of convert's own code: a timestamp must print as the SQLite text exactly,
// JSON and arrays must decode to the same value, booleans match 0/1, IPs
// match their text. It returns the row count of each table.
func mustEqualDatabases(t *testing.T, sqlitePath, dsn string) map[string]int {
	t.Helper()
	ctx := context.Background()
	src := MustReadSQLite(t, sqlitePath)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pgTables []string
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`)
	for rows.Next() {
		var n string
		rows.Scan(&n)
		pgTables = append(pgTables, n)
	}
	rows.Close()
	var srcTables []string
	for n := range src {
		srcTables = append(srcTables, n)
	}
	slices.Sort(pgTables)
	slices.Sort(srcTables)
	if !slices.Equal(pgTables, srcTables) {
		t.Fatalf("tables: PostgreSQL %v, SQLite %v", pgTables, srcTables)
	}
	sdb, _ := sql.Open("sqlite", "file:"+sqlitePath+"?mode=ro")
	defer sdb.Close()
	counts := map[string]int{}
	for _, table := range srcTables {
		cols, keys := sqliteColumns(t, sdb, table)
		rows, err := conn.Query(ctx, `SELECT `+strings.Join(quoteAll(cols), ", ")+` FROM `+pgx.Identifier{table}.Sanitize())
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]any{}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			got[rowKey(cols, keys, vals)] = vals
		}
		rows.Close()
		if len(got) != len(src[table]) {
			t.Fatalf("%s: %d rows in PostgreSQL, %d in SQLite", table, len(got), len(src[table]))
		}
		for key, want := range src[table] {
			row, ok := got[key]
			if !ok {
				t.Fatalf("%s: row %s missing in PostgreSQL", table, key)
			}
			for i, c := range cols {
				if !sameValue(want[i], row[i]) {
					t.Errorf("%s %s column %s: PostgreSQL %#v (%T), SQLite %#v", table, key, c, row[i], row[i], want[i])
				}
			}
		}
		counts[table] = len(got)
	}
	return counts
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// sameValue reports whether a value read from PostgreSQL (through pgx) is
// the SQLite value s converted exactly.
func sameValue(s, p any) bool {
	switch p := p.(type) {
	case nil:
		return s == nil
	case int16:
		return s == int64(p)
	case int32:
		return s == int64(p)
	case int64:
		return s == p
	case bool:
		return (p && s == int64(1)) || (!p && s == int64(0))
	case time.Time:
		return s == p.UTC().Format("2006-01-02 15:04:05.000000")
	case string:
		return s == p
	case []byte:
		b, ok := s.([]byte)
		return ok && bytes.Equal(b, p)
	case netip.Prefix:
		return p.Bits() == p.Addr().BitLen() && s == p.Addr().String()
	case map[string]any, []any: // jsonb, text[]
		str, ok := s.(string)
		if !ok {
			return false
		}
		var v any
		if err := json.Unmarshal([]byte(str), &v); err != nil {
			return false
		}
		return reflect.DeepEqual(v, p)
	}
	return false
}

// Ensure a SQLite database built through the API (all tables, unicode,
// JSON metadata, arrays, NULLs, soft-deleted rows, sessions) converts into
// PostgreSQL while `serve` still runs on it, that every row of every table
// is equal, and that `serve` on the target works: old tokens and passwords,
// and new rows get fresh ids.
func TestConvert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	secret := strings.Repeat("s", 40)
	e := env("BCRYPT_COST", "10", "JWT_SECRET", secret)
	url, stopSQLite := MustRunServe(t, []string{"-data", dir}, e)
	api := url + "/api/v1"

	reg := func(username, email string) {
		body := map[string]any{"username": username, "password": "password-" + username}
		if email != "" {
			body["email"] = email
		}
		mustCall(t, 201, "POST", api+"/auth/register", "", body)
	}
	login := func(username string) map[string]any {
		return mustCall(t, 200, "POST", api+"/auth/login", "", map[string]any{"login": username, "password": "password-" + username})
	}
	reg("alice", "alice@example.com")
	reg("bob", "")
	reg("carol", "Carol.Smith@example.com")
	alice, bob, carol := login("alice"), login("bob"), login("carol")
	at, bt, ct := alice["access_token"].(string), bob["access_token"].(string), carol["access_token"].(string)
	call(t, "POST", api+"/auth/login", "", map[string]any{"login": "alice", "password": "wrong password"}) // audited failure

	// Chat: a channel with unicode, an edited and a soft-deleted message, a
	// direct conversation read by its recipient, a channel read cursor.
	first := mustCall(t, 201, "POST", api+"/messages", at, map[string]any{"conversation_id": "general", "text": "héllo wörld 👋 — 日本語 \"quoted\" \\ back\\slash"})
	mustCall(t, 201, "POST", api+"/messages", bt, map[string]any{"text": "multi\nline\ttabbed ✓"})
	gone := mustCall(t, 201, "POST", api+"/messages", ct, map[string]any{"conversation_id": "random", "text": "to be deleted"})
	mustCall(t, 200, "PATCH", fmt.Sprintf("%s/messages/%v", api, first["id"]), at, map[string]any{"text": "héllo wörld, edited ✏️"})
	mustCall(t, 204, "DELETE", fmt.Sprintf("%s/messages/%v", api, gone["id"]), ct, nil)
	dm := mustCall(t, 200, "POST", api+"/conversations/dm", bt, map[string]any{"username": "alice"})
	dmMsg := mustCall(t, 201, "POST", api+"/messages", bt, map[string]any{"conversation_id": dm["id"], "text": "private 🤫"})
	mustCall(t, 201, "POST", api+"/messages", at, map[string]any{"conversation_id": dm["id"], "text": "unread reply"})
	mustCall(t, 200, "POST", fmt.Sprintf("%s/messages/%v/read", api, dmMsg["id"]), at, nil)
	mustCall(t, 204, "POST", api+"/conversations/general/read", bt, nil)

	// Calendar: attendees, a NULL description and location, a soft-deleted
	// event, a feed token.
	mustCall(t, 201, "POST", api+"/events", at, map[string]any{"title": "Réunion ☕", "start_time": "2030-05-01T09:00:00Z",
		"end_time": "2030-05-01T10:30:00.123456Z", "attendees": []string{"bob", "Carol.Smith@example.com"}})
	mustCall(t, 201, "POST", api+"/events", bt, map[string]any{"title": "Solo", "description": "no attendees\nat all", "location": "Zürich",
		"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-02T00:00:00Z"})
	old := mustCall(t, 201, "POST", api+"/events", ct, map[string]any{"title": "cancelled", "start_time": "2029-01-01T00:00:00Z", "end_time": "2029-01-01T01:00:00Z"})
	mustCall(t, 204, "DELETE", fmt.Sprintf("%s/events/%v", api, old["id"]), ct, nil)
	mustCall(t, 200, "POST", api+"/calendar/feed", at, nil)

	// Sessions: a rotated refresh token, a logout, a password change.
	refreshed := mustCall(t, 200, "POST", api+"/auth/refresh", "", map[string]any{"refresh_token": bob["refresh_token"]})
	mustCall(t, 204, "POST", api+"/auth/logout", ct, nil)
	carol = login("carol")
	mustCall(t, 204, "POST", api+"/auth/password", carol["access_token"].(string), map[string]any{"current_password": "password-carol", "new_password": "password-carol-2"})

	// Rows written directly, as the stores would: lots, shortcuts whose
	// action_data is JSON the API itself would not accept (to prove any
	// stored JSON survives), and a presence row (a live WebSocket's).
	side, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO lots (user_id, status, item_count, description, received_at, processed_at, created_at, updated_at)
		 VALUES (1, 'completed', 12, 'Palette n° 4 — fragile', '2026-03-01 08:00:00.000000', '2026-03-02 17:45:12.345678', '2026-03-01 08:00:00.000000', '2026-03-02 17:45:12.345678'),
		        (2, 'received', 1, NULL, '2026-03-03 08:00:00.000000', NULL, '2026-03-03 08:00:00.000000', '2026-03-03 08:00:00.000000')`,
		`INSERT INTO shortcuts (user_id, name, description, icon, action_type, action_data, order_index, created_at, updated_at)
		 VALUES (1, 'Wiki ü', NULL, '📚', 'url', '{"url": "https://example.com/ü?q=1&r=2", "weight": 1.50, "big": 1e2, "nested": {"b": [1, 2, {"c": null}], "a": true}}', 0, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000'),
		        (1, 'Files', NULL, NULL, 'folder', NULL, 1, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')`,
		`INSERT INTO presence (connection_id, user_id, instance_id, connected_at, seen_at)
		 VALUES ('conn-1', 2, 'host-1-abc', '2026-03-01 08:00:00.000000', '2026-03-01 08:00:30.123456')`,
	} {
		if _, err := side.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	side.Close()

	// Convert while serve still runs on the source.
	dsn, _ := testpg.Database(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"convert", "--from", filepath.Join(dir, "workspace.db"), "--to", dsn}, env(), nil, &out, io.Discard); err != nil {
		t.Fatalf("convert: %v\n%s", err, out.String())
	}
	t.Logf("convert:\n%s", out.String())
	if !strings.Contains(out.String(), "every table verified") {
		t.Fatalf("convert output:\n%s", out.String())
	}
	// serve generated an audit key beside the source: the operator is told
	// that the encrypted values need it (by path, never the key itself).
	key, _ := os.ReadFile(filepath.Join(dir, "audit_key"))
	if !strings.Contains(out.String(), "NOTE: sensitive audit metadata encrypted with "+filepath.Join(dir, "audit_key")) ||
		len(key) == 0 || strings.Contains(out.String(), strings.TrimSpace(string(key))) {
		t.Fatalf("convert output about the audit key:\n%s", out.String())
	}
	if err := stopSQLite(); err != nil {
		t.Fatal(err)
	}
	counts := mustEqualDatabases(t, filepath.Join(dir, "workspace.db"), dsn)
	for table, n := range counts {
		if n == 0 {
			t.Errorf("table %s is empty: the test does not cover it", table)
		}
	}
	src := MustReadSQLite(t, filepath.Join(dir, "workspace.db"))
	maxID := func(table string) int64 {
		var m int64
		for _, row := range src[table] {
			m = max(m, row[0].(int64))
		}
		return m
	}

	// The indexes and foreign keys dropped for the load are back, exactly
	// as a fresh migration creates them.
	fresh, _ := testpg.Database(t)
	if err := run(context.Background(), []string{"migrate", "-db", fresh}, env(), nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, want := schemaObjects(t, dsn), schemaObjects(t, fresh); !slices.Equal(got, want) {
		t.Fatalf("indexes and constraints after convert:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// serve on the target: the old access token (same JWT secret) and
	// session, the rotated refresh token, old passwords all work; new rows
	// get fresh ids.
	url, _ = MustRunServe(t, nil, env("DATABASE_URL", dsn, "JWT_SECRET", secret, "BCRYPT_COST", "10"))
	api = url + "/api/v1"
	if me := mustCall(t, 200, "GET", api+"/auth/me", at, nil); me["username"] != "alice" || me["role"] != "admin" {
		t.Fatalf("me: %v", me)
	}
	mustCall(t, 200, "POST", api+"/auth/refresh", "", map[string]any{"refresh_token": refreshed["refresh_token"]})
	mustCall(t, 401, "GET", api+"/auth/me", ct, nil) // logged out before the conversion
	a2 := login("alice")["access_token"].(string)
	mustCall(t, 200, "POST", api+"/auth/login", "", map[string]any{"login": "carol.smith@example.com", "password": "password-carol-2"})
	msg := mustCall(t, 201, "POST", api+"/messages", a2, map[string]any{"text": "first message on PostgreSQL"})
	if id := int64(msg["id"].(float64)); id <= maxID("messages") {
		t.Fatalf("new message id %d, want > %d", id, maxID("messages"))
	}
	reg("dave", "")
	if u := login("dave")["user"].(map[string]any); int64(u["id"].(float64)) <= maxID("users") {
		t.Fatalf("new user id %v, want > %d", u["id"], maxID("users"))
	}
	ev := mustCall(t, 201, "POST", api+"/events", a2, map[string]any{"title": "new", "start_time": "2031-01-01T00:00:00Z", "end_time": "2031-01-01T01:00:00Z"})
	if id := int64(ev["id"].(float64)); id <= maxID("events") {
		t.Fatalf("new event id %d, want > %d", id, maxID("events"))
	}
	if page := mustCall(t, 200, "GET", api+"/messages?conversation_id="+dm["id"].(string), a2, nil); len(page["messages"].([]any)) != 2 {
		t.Fatalf("direct conversation after convert: %v", page)
	}
}

// schemaObjects lists the indexes and constraints of the current schema,
// schema names removed.
func schemaObjects(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT tablename || ' ' || indexname || ' ' || replace(indexdef, schemaname || '.', '') FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL
		SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustSource creates a migrated SQLite database holding one row in each
// seed table that the bad-data cases alter, written directly.
func mustSource(t *testing.T) (path string, db *sqlite.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "workspace.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	const ts = "'2026-01-02 03:04:05.123456'"
	for _, q := range []string{
		`INSERT INTO users (id, username, password_hash, email, created_at, updated_at) VALUES (1, 'alice', 'x', 'alice@example.com', ` + ts + `, ` + ts + `)`,
		`INSERT INTO messages (id, user_id, conversation_id, text, is_read, created_at, updated_at) VALUES (1, 1, 'general', 'hi', 0, ` + ts + `, ` + ts + `)`,
		`INSERT INTO events (id, user_id, title, start_time, end_time, attendees, created_at, updated_at)
		 VALUES (1, 1, 'e', '2026-01-01 00:00:00.000000', '2026-01-01 01:00:00.000000', '["bob"]', ` + ts + `, ` + ts + `)`,
		`INSERT INTO activity_logs (id, user_id, action, metadata, ip_address, created_at) VALUES (1, 1, 'user.create', '{"a": 1}', '127.0.0.1', ` + ts + `)`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return path, db
}

func convertArgs(from, to string, flags ...string) []string {
	return append([]string{"convert", "--from", from, "--to", to}, flags...)
}

// mustCountRows returns the number of rows in the target's tables (0 for a
// target without them).
func mustCountRows(t *testing.T, dsn string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, table := range tables {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// Ensure a non-empty target is refused, and --replace wipes it and loads
// the source instead, in one transaction.
func TestConvertReplace(t *testing.T) {
	ctx := context.Background()
	src, db := mustSource(t)
	dsn := testpg.Schema(t)
	if err := run(ctx, convertArgs(src, dsn), env(), nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	before := mustCountRows(t, dsn)
	err := run(ctx, convertArgs(src, dsn), env(), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("second convert: %v", err)
	}
	if got := mustCountRows(t, dsn); got != before {
		t.Fatalf("refused convert changed the target: %d rows, want %d", got, before)
	}
	if _, err := db.SQL().Exec(`INSERT INTO messages (user_id, text, created_at, updated_at) VALUES (1, 'later', '2026-02-01 00:00:00.000000', '2026-02-01 00:00:00.000000');
		DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, convertArgs(src, dsn, "--replace"), env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "wiping the target's rows") {
		t.Fatalf("output:\n%s", out.String())
	}
	mustEqualDatabases(t, src, dsn)
	// The events sequence is set from SQLite's high-water mark: the deleted
	// event's id is not handed out again.
	conn, _ := pgx.Connect(ctx, dsn)
	defer conn.Close(ctx)
	var next int
	if err := conn.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('events', 'id'))`).Scan(&next); err != nil || next != 2 {
		t.Fatalf("next event id %d (%v), want 2", next, err)
	}
}

// Ensure --dry-run writes nothing: neither the schema of an empty target
// nor rows into a migrated one, while still checking every value.
func TestConvertDryRun(t *testing.T) {
	ctx := context.Background()
	src, db := mustSource(t)
	dsn := testpg.Schema(t)
	var out bytes.Buffer
	if err := run(ctx, convertArgs(src, dsn, "--dry-run"), env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "would copy messages") || !strings.Contains(out.String(), "would migrate it to") {
		t.Fatalf("output:\n%s", out.String())
	}
	var tables int
	conn, _ := pgx.Connect(ctx, dsn)
	defer conn.Close(ctx)
	conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables)
	if tables != 0 {
		t.Fatalf("dry run created %d tables", tables)
	}

	if err := run(ctx, []string{"migrate", "-db", dsn}, env(), nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, convertArgs(src, dsn, "--dry-run"), env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "every value converts; nothing written") {
		t.Fatalf("output:\n%s", out.String())
	}
	if n := mustCountRows(t, dsn); n != 0 {
		t.Fatalf("dry run wrote %d rows", n)
	}
	if _, err := db.SQL().Exec(`UPDATE messages SET created_at = 'not a time'`); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, convertArgs(src, dsn, "--dry-run"), env(), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "table messages, id 1, column created_at") {
		t.Fatalf("dry run over bad data: %v", err)
	}
}

// Ensure source and target schemas at another version than the binary's
// are refused before anything is written.
func TestConvertSchemaVersions(t *testing.T) {
	ctx := context.Background()
	latest, err := sqlite.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"SourceOlder", `DELETE FROM goose_db_version WHERE version_id = ` + fmt.Sprint(latest), "older than this binary's"},
		{"SourceNewer", `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`, "newer than this binary's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, db := mustSource(t)
			if _, err := db.SQL().Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			dsn := testpg.Schema(t)
			err := run(ctx, convertArgs(src, dsn), env(), nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("convert: %v, want %q", err, tc.want)
			}
			if n := mustCountRows(t, dsn); n != 0 {
				t.Fatalf("refused convert wrote %d rows", n)
			}
		})
	}
	t.Run("TargetNewer", func(t *testing.T) {
		src, _ := mustSource(t)
		dsn := testpg.Schema(t)
		if err := run(ctx, []string{"migrate", "-db", dsn}, env(), nil, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		conn, _ := pgx.Connect(ctx, dsn)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, true)`); err != nil {
			t.Fatal(err)
		}
		err := run(ctx, convertArgs(src, dsn), env(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "newer than this binary's") {
			t.Fatalf("convert: %v", err)
		}
	})
}

// Ensure source values PostgreSQL would refuse or alter are reported with
// table, row id and column, and nothing is written.
func TestConvertBadData(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"ImpossibleDate", `UPDATE messages SET created_at = '2026-02-30 10:00:00.000000'`, "table messages, id 1, column created_at"},
		{"NotATimestamp", `UPDATE events SET deleted_at = 'yesterday'`, "table events, id 1, column deleted_at"},
		{"SubMicrosecond", `UPDATE users SET last_login = '2026-01-01 00:00:00.1234567'`, "table users, id 1, column last_login"},
		{"InvalidUTF8", `UPDATE messages SET text = CAST(X'68C328' AS TEXT)`, "table messages, id 1, column text: invalid UTF-8"},
		{"NULByte", `UPDATE messages SET text = CAST(X'6869006869' AS TEXT)`, "table messages, id 1, column text: a NUL byte"},
		{"InvalidJSON", `PRAGMA ignore_check_constraints = ON; UPDATE activity_logs SET metadata = '{"a":'`, "table activity_logs, id 1, column metadata: invalid JSON"},
		{"JSONNul", `UPDATE activity_logs SET metadata = '{"a": "\u0000"}'`, "table activity_logs, id 1, column metadata: JSON holds the character \\u0000"},
		{"AttendeesNotStrings", `UPDATE events SET attendees = '["bob", 1]'`, "table events, id 1, column attendees"},
		{"BooleanTwo", `UPDATE messages SET is_read = 2`, "table messages, id 1, column is_read"},
		{"BadIP", `UPDATE activity_logs SET ip_address = '999.1.1.1'`, "table activity_logs, id 1, column ip_address"},
		{"TooLong", `UPDATE messages SET conversation_id = printf('%.300c', 'x')`, "table messages, id 1, column conversation_id: 300 characters do not fit varchar(255)"},
		{"BlobInText", `UPDATE messages SET text = X'6869'`, "table messages, id 1, column text: want text, got a 2-byte blob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, db := mustSource(t)
			if _, err := db.SQL().Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			dsn := testpg.Schema(t)
			err := run(ctx, convertArgs(src, dsn), env(), nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("convert: %v\nwant an error containing %q", err, tc.want)
			}
			if n := mustCountRows(t, dsn); n != 0 {
				t.Fatalf("failed convert left %d rows", n)
			}
		})
	}
}
