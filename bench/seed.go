package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"workspace/sqlite"
)

// createDatabase creates a fresh PostgreSQL database through the admin
// connection and returns its DSN and a function that drops it.
func createDatabase(ctx context.Context, adminDSN string) (string, func() error, error) {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL admin connection %s: %w", redact(adminDSN), err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	name := "ws_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		return err
	}
	return u.String(), drop, nil
}

// user is an account a client signs in with.
type user struct {
	id       int
	name     string
	password string
	access   string
	refresh  string
	obtained time.Time
}

const benchPassword = "bench-password-42"

// createUsers registers and signs in n client users and the flooder through
// the API. On a fresh database an extra first user takes the admin role, so
// that every client is a plain user.
func createUsers(ctx context.Context, c *http.Client, t *target, n int, existing bool) error {
	var tag [3]byte
	rand.Read(tag[:])
	prefix := "bench-" + hex.EncodeToString(tag[:]) + "-"
	if !existing {
		if err := register(ctx, c, t.base, &user{name: prefix + "admin", password: benchPassword}); err != nil {
			return err
		}
	}
	for i := 0; i <= n; i++ {
		u := &user{name: fmt.Sprintf("%s%02d", prefix, i+1), password: benchPassword}
		if i == n {
			u.name = prefix + "flood"
		}
		if err := register(ctx, c, t.base, u); err != nil {
			return err
		}
		if err := login(ctx, c, t.base, u); err != nil {
			return err
		}
		if i == n {
			t.flooder = u
		} else {
			t.users = append(t.users, u)
		}
	}
	return nil
}

func register(ctx context.Context, c *http.Client, base string, u *user) error {
	body := map[string]any{"username": u.name, "password": u.password}
	var out struct {
		ID int `json:"id"`
	}
	if err := call(ctx, c, base, "POST", "/api/v1/auth/register", "", body, 201, &out); err != nil {
		return fmt.Errorf("register %s: %w", u.name, err)
	}
	u.id = out.ID
	return nil
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID int `json:"id"`
	} `json:"user"`
}

func login(ctx context.Context, c *http.Client, base string, u *user) error {
	var out tokens
	body := map[string]any{"login": u.name, "password": u.password}
	if err := call(ctx, c, base, "POST", "/api/v1/auth/login", "", body, 200, &out); err != nil {
		return fmt.Errorf("login %s: %w", u.name, err)
	}
	u.id, u.access, u.refresh, u.obtained = out.User.ID, out.AccessToken, out.RefreshToken, time.Now()
	return nil
}

// freshen renews a user's access token (15 minutes) with its refresh token
// when it is older than 10 minutes, so long runs keep authenticating.
func freshen(ctx context.Context, c *http.Client, base string, u *user) error {
	if time.Since(u.obtained) < 10*time.Minute {
		return nil
	}
	var out tokens
	if err := call(ctx, c, base, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": u.refresh}, 200, &out); err != nil {
		return fmt.Errorf("refresh %s: %w", u.name, err)
	}
	u.access, u.refresh, u.obtained = out.AccessToken, out.RefreshToken, time.Now()
	return nil
}

// call is one setup request (not measured); it waits out 429s.
func call(ctx context.Context, c *http.Client, base, method, path, token string, body any, want int, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if res.StatusCode == http.StatusTooManyRequests && attempt < 5 {
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(max(1, min(wait, 30))) * time.Second):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if res.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(b)))
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
}

// sizes is how much to seed.
type sizes struct {
	messages, convs, events, lots int
}

// seed bulk-inserts the data inside the database (no HTTP, no per-row round
// trip): sz.convs channels c0…c<convs-1> registered in conversations; the
// messages spread round-robin over them and over the users, one second
// apart up to now; a read cursor per user and channel a few messages (0–9)
// behind the newest, as in a workspace people use, with the unread counters
// the server keeps (migration 00010) computed; events spread over the
// current year, owned by the users and attended by two others (bound to
// their accounts, as the server binds them); lots in every
// status. Then ANALYZE and a checkpoint, as a settled deployment would be.
// It returns the events' year.
func seed(ctx context.Context, engine, dsn string, users []*user, sz sizes) (int, error) {
	now := time.Now().UTC().Truncate(time.Second)
	year := now.Year()
	ids := make([]int, len(users))
	names := make([]string, len(users))
	for i, u := range users {
		ids[i], names[i] = u.id, strings.ToLower(u.name)
	}
	if engine == "postgres" {
		return year, seedPostgres(ctx, dsn, ids, names, sz, now)
	}
	return year, seedSQLite(ctx, dsn, ids, names, sz, now)
}

// sqliteTime is the fixed-width UTC text form of timestamps on SQLite.
const sqliteTime = "2006-01-02 15:04:05.000000"

// sqliteTS is the SQL expression of base plus a number of units, in that form.
func sqliteTS(base, offset, unit string) string {
	return `strftime('%Y-%m-%d %H:%M:%f000', ` + base + `, '+' || (` + offset + `) || ' ` + unit + `')`
}

func seedSQLite(ctx context.Context, path string, ids []int, names []string, sz sizes, now time.Time) error {
	db, err := sql.Open("sqlite", sqlite.WriterDSN(path)+"&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	idsJSON, _ := json.Marshal(ids)
	namesJSON, _ := json.Marshal(names)
	n := len(ids)
	nowText := now.Format(sqliteTime)
	msgBase := now.Add(-time.Duration(sz.messages) * time.Second).Format("2006-01-02 15:04:05")
	yearBase := fmt.Sprintf("%04d-01-01 00:00:00", now.Year())
	userAt := func(expr string) string { return `json_extract(?2, '$[' || ((` + expr + `) % ?3) || ']')` }
	nameAt := func(expr string) string { return `json_extract(?4, '$[' || ((` + expr + `) % ?3) || ']')` }
	count := func(n int) string {
		return fmt.Sprintf(`WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < %d - 1) `, n)
	}
	steps := []struct {
		what string
		n    int
		sql  string
	}{
		{"conversations", sz.convs, count(sz.convs) + `INSERT OR IGNORE INTO conversations (id, kind, user_a, user_b, created_at)
			SELECT 'c' || i, 'channel', NULL, NULL, ?1 FROM k`},
		{"messages", sz.messages, count(sz.messages) + `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
			SELECT ` + userAt("i") + `, 'c' || (i % ?5), 'seed message number ' || i, 1, ts, ts
			FROM (SELECT i, ` + sqliteTS("?6", "i", "seconds") + ` AS ts FROM k)`},
		{"conversation activity", sz.convs, `UPDATE conversations SET last_message_id = COALESCE(
			(SELECT max(m.id) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL), 0),
			message_count = (SELECT count(*) FROM messages m WHERE m.conversation_id = conversations.id AND m.deleted_at IS NULL)`},
		{"channel_reads", sz.convs, `INSERT OR REPLACE INTO channel_reads (user_id, conversation_id, last_read_id, updated_at)
			SELECT u.value, c.id, max(0, c.last - ((u.value + c.k) % 10) * ?5), ?1
			FROM json_each(?2) u,
			  (SELECT 'c' || kk.i AS id, kk.i AS k, (SELECT max(m.id) FROM messages m WHERE m.conversation_id = 'c' || kk.i) AS last
			   FROM (` + count(sz.convs) + `SELECT i FROM k) kk) c
			WHERE c.last IS NOT NULL`},
		{"read counts", sz.convs, `UPDATE channel_reads SET
			read_count = (SELECT message_count FROM conversations c WHERE c.id = channel_reads.conversation_id) -
			  (SELECT count(*) FROM messages m WHERE m.conversation_id = channel_reads.conversation_id AND m.id > channel_reads.last_read_id AND m.deleted_at IS NULL),
			own_after = (SELECT count(*) FROM messages m WHERE m.conversation_id = channel_reads.conversation_id
			  AND m.id > channel_reads.last_read_id AND m.user_id = channel_reads.user_id AND m.deleted_at IS NULL)`},
		{"events", sz.events, count(sz.events) + `INSERT INTO events (user_id, title, description, start_time, end_time, location, attendees, created_at, updated_at)
			SELECT ` + userAt("i") + `, 'Seeded event ' || i, 'seeded by the load benchmark',
			  ` + sqliteTS("?7", "(i * 7919) % 525600", "minutes") + `,
			  ` + sqliteTS("?7", "(i * 7919) % 525600 + 30 + (i % 4) * 30", "minutes") + `,
			  'Room ' || (i % 10), json_array(` + nameAt("i + 1") + `, ` + nameAt("i + 2") + `), ?1, ?1
			FROM k`},
		// The server binds attendee names to accounts (migration 00006) with
		// a copy of the event's times (00011); so does the seed.
		{"event attendees", sz.events, `INSERT OR IGNORE INTO event_attendees (event_id, user_id, start_time, end_time)
			SELECT DISTINCT e.id, u.id, e.start_time, e.end_time
			FROM events e, json_each(e.attendees) AS a JOIN users u ON lower(u.username) = lower(a.value)
			WHERE e.description = 'seeded by the load benchmark'`},
		{"lots", sz.lots, count(sz.lots) + `INSERT INTO lots (user_id, status, item_count, description, received_at, processed_at, created_at, updated_at)
			SELECT ` + userAt("i") + `,
			  CASE i % 4 WHEN 0 THEN 'received' WHEN 1 THEN 'processing' WHEN 2 THEN 'completed' ELSE 'rejected' END,
			  1 + i % 100, 'Seeded lot ' || i,
			  ` + sqliteTS("?8", "i", "minutes") + `,
			  CASE WHEN i % 4 >= 2 THEN ` + sqliteTS("?8", "i + 90", "minutes") + ` END, ?1, ?1
			FROM k`},
	}
	lotBase := now.Add(-time.Duration(sz.lots+100) * time.Minute).Format("2006-01-02 15:04:05")
	args := []any{nowText, string(idsJSON), n, string(namesJSON), sz.convs, msgBase, yearBase, lotBase}
	for _, s := range steps {
		if s.n == 0 {
			continue
		}
		if _, err := db.ExecContext(ctx, s.sql, args...); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	for _, q := range []string{`ANALYZE`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func seedPostgres(ctx context.Context, dsn string, ids []int, names []string, sz sizes, now time.Time) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	n := len(ids)
	msgBase := now.Add(-time.Duration(sz.messages) * time.Second)
	yearBase := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	lotBase := now.Add(-time.Duration(sz.lots+100) * time.Minute)
	steps := []struct {
		what string
		n    int
		sql  string
		args []any
	}{
		{"conversations", sz.convs, `INSERT INTO conversations (id, kind, user_a, user_b, created_at)
			SELECT 'c' || i, 'channel', NULL, NULL, $2 FROM generate_series(0, $1 - 1) i
			ON CONFLICT (id) DO NOTHING`, []any{sz.convs, now}},
		{"messages", sz.messages, `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
			SELECT ($2::int[])[1 + i % $3], 'c' || (i % $4), 'seed message number ' || i, true,
			  $5::timestamp + i * interval '1 second', $5::timestamp + i * interval '1 second'
			FROM generate_series(0, $1 - 1) i`, []any{sz.messages, ids, n, sz.convs, msgBase}},
		// Statistics and the visibility map before the correlated counts
		// below: without them the read counts took 20 s instead of ~1 s.
		{"vacuum", sz.messages, `VACUUM ANALYZE messages`, nil},
		{"conversation activity", sz.convs, `UPDATE conversations c SET last_message_id = s.last, message_count = s.n
			FROM (SELECT conversation_id, max(id) AS last, count(*) AS n FROM messages WHERE deleted_at IS NULL GROUP BY conversation_id) s
			WHERE s.conversation_id = c.id`, nil},
		{"channel_reads", sz.convs, `INSERT INTO channel_reads (user_id, conversation_id, last_read_id, updated_at)
			SELECT u, c.id, greatest(0, c.last - ((u + c.k) % 10) * $2), $3
			FROM unnest($1::int[]) u,
			  (SELECT 'c' || k AS id, k, (SELECT max(m.id) FROM messages m WHERE m.conversation_id = 'c' || k) AS last
			   FROM generate_series(0, $2 - 1) k) c
			WHERE c.last IS NOT NULL
			ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_id = excluded.last_read_id`, []any{ids, sz.convs, now}},
		{"read counts", sz.convs, `UPDATE channel_reads r SET
			read_count = (SELECT message_count FROM conversations c WHERE c.id = r.conversation_id) -
			  (SELECT count(*) FROM messages m WHERE m.conversation_id = r.conversation_id AND m.id > r.last_read_id AND m.deleted_at IS NULL),
			own_after = (SELECT count(*) FROM messages m WHERE m.conversation_id = r.conversation_id
			  AND m.id > r.last_read_id AND m.user_id = r.user_id AND m.deleted_at IS NULL)`, nil},
		{"events", sz.events, `INSERT INTO events (user_id, title, description, start_time, end_time, location, attendees, created_at, updated_at)
			SELECT ($2::int[])[1 + i % $3], 'Seeded event ' || i, 'seeded by the load benchmark',
			  $5::timestamp + ((i * 7919) % 525600) * interval '1 minute',
			  $5::timestamp + ((i * 7919) % 525600 + 30 + (i % 4) * 30) * interval '1 minute',
			  'Room ' || (i % 10), ARRAY[($4::text[])[1 + (i + 1) % $3], ($4::text[])[1 + (i + 2) % $3]], $6, $6
			FROM generate_series(0::bigint, $1 - 1) i`, []any{sz.events, ids, n, names, yearBase, now}},
		// The server binds attendee names to accounts (migration 00006) with
		// a copy of the event's times (00011); so does the seed.
		{"event attendees", sz.events, `INSERT INTO event_attendees (event_id, user_id, start_time, end_time)
			SELECT DISTINCT e.id, u.id, e.start_time, e.end_time
			FROM events e CROSS JOIN LATERAL unnest(e.attendees) AS a(name) JOIN users u ON lower(u.username) = lower(a.name)
			WHERE e.description = 'seeded by the load benchmark'
			ON CONFLICT (event_id, user_id) DO NOTHING`, nil},
		{"lots", sz.lots, `INSERT INTO lots (user_id, status, item_count, description, received_at, processed_at, created_at, updated_at)
			SELECT ($2::int[])[1 + i % $3], (ARRAY['received', 'processing', 'completed', 'rejected'])[1 + i % 4],
			  1 + i % 100, 'Seeded lot ' || i, $4::timestamp + i * interval '1 minute',
			  CASE WHEN i % 4 >= 2 THEN $4::timestamp + (i + 90) * interval '1 minute' END, $5, $5
			FROM generate_series(0, $1 - 1) i`, []any{sz.lots, ids, n, lotBase, now}},
	}
	for _, s := range steps {
		if s.n == 0 {
			continue
		}
		if _, err := conn.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("VACUUM ANALYZE: %w", err)
	}
	// CHECKPOINT needs superuser or pg_checkpoint: best effort.
	_, _ = conn.Exec(ctx, `CHECKPOINT`)
	return nil
}
