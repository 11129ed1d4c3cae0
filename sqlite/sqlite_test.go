package sqlite

// An internal test, so the timestamp tests below can reach parseTime.

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workspace"
	"workspace/storetest"
)

// MustOpenDB opens and migrates a database file in a temporary directory.
func MustOpenDB(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "data", "workspace.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) workspace.Store { return MustOpenDB(tb) })
}

func TestConformanceInternals(t *testing.T) {
	storetest.RunInternals(t, func(tb testing.TB) workspace.Store { return MustOpenDB(tb) }, storetest.Internals{
		SetNow:    func(s workspace.Store, now func() time.Time) { s.(*DB).Now = now },
		SetCipher: func(s workspace.Store, c *workspace.AuditCipher) { s.(*DB).Cipher = c },
		RawMetadata: func(tb testing.TB, s workspace.Store, id int) string {
			var meta string
			if err := s.(*DB).SQL().QueryRow("SELECT metadata FROM activity_logs WHERE id = ?", id).Scan(&meta); err != nil {
				tb.Fatal(err)
			}
			return meta
		},
		Exec: func(tb testing.TB, s workspace.Store, q string) {
			if _, err := s.(*DB).SQL().Exec(q); err != nil {
				tb.Fatal(err)
			}
		},
		Rows: func(tb testing.TB, s workspace.Store, q string) []string {
			rows, err := s.(*DB).SQL().Query(q)
			if err != nil {
				tb.Fatal(err)
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			var out []string
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					tb.Fatal(err)
				}
				out = append(out, fmt.Sprint(vals))
			}
			if err := rows.Err(); err != nil {
				tb.Fatal(err)
			}
			return out
		},
		Migration: func(tb testing.TB, name string) string {
			b, err := fs.ReadFile(Migrations(), name)
			if err != nil {
				tb.Fatal(err)
			}
			return string(b)
		},
	})
}

// checkParseTime checks that parseTime (fast path first) gives exactly what
// the general path gives: the same time, to the location, or the same error.
func checkParseTime(t *testing.T, s string) (time.Time, error) {
	t.Helper()
	want, wantErr := parseTimeLayouts(s)
	got, err := parseTime(s)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("parseTime(%q) error = %v, general path %v", s, err, wantErr)
	}
	if got != want { // ==, not Equal: the location must match too
		t.Fatalf("parseTime(%q) = %v (%#v), general path %v (%#v)", s, got, got, want, want)
	}
	return got, err
}

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		s    string
		fast bool // parseFixedTime takes it
		ok   bool // parseTime accepts it
	}{
		// The fixed layout.
		{"2024-01-02 03:04:05.123456", true, true},
		{"0000-01-01 00:00:00.000000", true, true},
		{"0001-01-01 00:00:00.000000", true, true},
		{"1970-01-01 00:00:00.000000", true, true},
		{"1999-12-31 23:59:59.999999", true, true},
		{"2000-01-01 00:00:00.000000", true, true},
		{"2023-12-31 23:59:59.999999", true, true},
		{"2024-01-01 00:00:00.000000", true, true},
		{"2024-12-31 23:59:59.999999", true, true},
		{"9999-12-31 23:59:59.999999", true, true},
		{"2024-02-29 12:00:00.000001", true, true}, // leap day
		{"2000-02-29 12:00:00.500000", true, true}, // divisible by 400
		{"2024-04-30 00:00:00.000000", true, true},
		{"2024-01-31 00:00:00.000000", true, true},

		// Fixed width but not a valid time: the general path decides, and
		// rejects them as before.
		{"2024-13-01 00:00:00.000000", false, false},
		{"2024-00-01 00:00:00.000000", false, false},
		{"2024-02-30 00:00:00.000000", false, false},
		{"2023-02-29 00:00:00.000000", false, false},
		{"1900-02-29 00:00:00.000000", false, false}, // divisible by 100
		{"2024-04-31 00:00:00.000000", false, false},
		{"2024-01-32 00:00:00.000000", false, false},
		{"2024-01-00 00:00:00.000000", false, false},
		{"2024-01-01 24:00:00.000000", false, false},
		{"2024-01-01 23:60:00.000000", false, false},
		{"2024-01-01 23:59:60.000000", false, false},
		{"2024-0a-01 00:00:00.000000", false, false},
		{"abcd-01-01 00:00:00.000000", false, false},
		{"2024-01-01 00:00:00.00000a", false, false},
		{"2024-01-01 0x:00:00.000000", false, false},
		{"2024-01-01 00:00:00.-12345", false, false},
		{"2024/01/01 00:00:00.000000", false, false},
		{"2024-01-01T00:00:00.000000", false, false},
		{"2024-01-01 00:00:00 000000", false, false},
		{"２4-01-01 00:00:00.000000", false, false}, // a multi-byte digit, 26 bytes

		// Fixed width, not the fixed layout, yet accepted by the general
		// path, which still does so.
		{"2024-01-01 00:00:00,123456", false, true}, // comma before the fraction
		{"2024-01-01 0:00:00.1234567", false, true}, // one-digit hour
		{"2024-01-01 00:00:00.+12345", false, true}, // time.Parse reads a sign

		// Other lengths: the general path, as before.
		{"2024-01-02 03:04:05", false, true}, // SQLite's datetime()
		{"2024-01-02 03:04:05.123", false, true},
		{"2024-01-02 03:04:05.1234567", false, true},
		{"2024-01-02 03:04:05.123456789", false, true},
		{"2024-01-02T03:04:05Z", false, true},
		{"2024-01-02T03:04:05.123456+02:00", false, true},
		{"2024-01-02T03:04:05.123456-07:30", false, true},
		{"2024-01-02 03:04:05.1234567890", false, true},
		{"2024-01-02", false, false},
		{"2024-01-02 03:04", false, false},
		{" 2024-01-02 03:04:05.123456", false, false},
		{"2024-01-02 03:04:05.123456 ", false, false},
		{"2024-01-02 03:04:05.123456Z", false, false},
		{"", false, false},
		{"garbage", false, false},
	} {
		t.Run(tt.s, func(t *testing.T) {
			got, err := checkParseTime(t, tt.s)
			if (err == nil) != tt.ok {
				t.Fatalf("parseTime(%q) error = %v, want ok %v", tt.s, err, tt.ok)
			}
			ft, fast := parseFixedTime(tt.s)
			if fast != tt.fast {
				t.Fatalf("parseFixedTime(%q) ok = %v, want %v", tt.s, fast, tt.fast)
			}
			if fast && ft != got {
				t.Fatalf("parseFixedTime(%q) = %v, parseTime %v", tt.s, ft, got)
			}
			if fast && fmtTime(got) != tt.s {
				t.Fatalf("fmtTime(parseTime(%q)) = %q", tt.s, fmtTime(got))
			}
		})
	}
}

// TestParseTimeRandom compares the two paths on random fixed-width strings:
// random digits at the digit places (so also days, hours, ... out of range)
// and, now and then, any byte anywhere.
func TestParseTimeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := []byte(timeLayout)
	for range 200_000 {
		for i := range b {
			switch {
			case r.IntN(200) == 0:
				b[i] = byte(r.IntN(256))
			case timeLayout[i] >= '0' && timeLayout[i] <= '9':
				b[i] = '0' + byte(r.IntN(10))
			default:
				b[i] = timeLayout[i]
			}
		}
		// Keep the month, day and hour tens mostly plausible so that most
		// strings are valid.
		if r.IntN(2) == 0 {
			b[5], b[8], b[11] = '0'+byte(r.IntN(2)), '0'+byte(r.IntN(3)), '0'+byte(r.IntN(3))
		}
		checkParseTime(t, string(b))
	}
}

// TestParseTimeMonthEnds compares the two paths around the end of every
// month, in leap and common years.
func TestParseTimeMonthEnds(t *testing.T) {
	for _, year := range []int{0, 1, 1900, 2000, 2023, 2024, 2100, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				if day > 1 && day < 28 {
					continue
				}
				s := fmt.Sprintf("%04d-%02d-%02d 12:00:00.000000", year, month, day)
				_, fast := parseFixedTime(s)
				if _, err := checkParseTime(t, s); (err == nil) != fast {
					t.Fatalf("parseFixedTime(%q) ok = %v, but parseTime error = %v", s, fast, err)
				}
			}
		}
	}
}

// TestParseTimeRoundTrip checks that every time we write reads back.
func TestParseTimeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for range 100_000 {
		want := time.UnixMicro(lo + r.Int64N(hi-lo)).UTC()
		s := fmtTime(want)
		if _, ok := parseFixedTime(s); !ok {
			t.Fatalf("parseFixedTime(%q) refused", s)
		}
		got, err := checkParseTime(t, s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("parseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

// TestTimeScanner checks the values the driver may hand a timeScanner.
func TestTimeScanner(t *testing.T) {
	want := time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)
	for _, v := range []any{
		"2024-02-29 23:59:59.999999",
		[]byte("2024-02-29 23:59:59.999999"),
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), // truncated to microseconds
		time.Date(2024, 3, 1, 0, 59, 59, 999999000, time.FixedZone("", 3600)),
	} {
		var got time.Time
		if err := (timeScanner{&got}).Scan(v); err != nil {
			t.Fatalf("Scan(%#v): %v", v, err)
		}
		if got != want {
			t.Fatalf("Scan(%#v) = %v, want %v", v, got, want)
		}
	}
	var got time.Time
	if err := (timeScanner{&got}).Scan(int64(1)); err == nil {
		t.Fatal("Scan(int64) succeeded")
	}
	if err := (timeScanner{&got}).Scan("2024-02-30 00:00:00.000000"); err == nil {
		t.Fatal("Scan of February 30th succeeded")
	}
}

func BenchmarkParseTime(b *testing.B) {
	const s = "2024-06-15 13:45:30.123456"
	b.Run("fixed", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseTime(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("layouts", func(b *testing.B) { // parseTime before its fast path
		for b.Loop() {
			if _, err := parseTimeLayouts(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("datetime", func(b *testing.B) { // a value of SQLite's datetime()
		for b.Loop() {
			if _, err := parseTime("2024-06-15 13:45:30"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Ensure write transactions prepare what they ran once they end, reuse
// it afterwards, and never cache a query that does not prepare.
func TestWriteStatementCache(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	const q = `INSERT INTO conversations (id, kind, created_at) VALUES (?, 'channel', ?)`
	run := func(id string, commit bool) {
		t.Helper()
		tx, err := db.begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, q, id, fmtTime(tx.now)); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run("rolled-back", false)
	if db.wstmts.get(q) == nil {
		t.Fatal("a query run in a rolled-back transaction was not prepared afterwards")
	}
	st := db.wstmts.get(q)
	for _, id := range []string{"one", "two"} {
		run(id, true)
	}
	if db.wstmts.get(q) != st {
		t.Fatal("the cached statement was replaced")
	}
	var ids []string
	rows, err := db.read.QueryContext(ctx, `SELECT id FROM conversations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if fmt.Sprint(ids) != "[one two]" {
		t.Fatalf("stored %v, want [one two]: the rollback must not write, the cached runs must", ids)
	}

	tx, err := db.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const bad = `INSERT INTO no_such_table VALUES (?)`
	if _, err := tx.ExecContext(ctx, bad, 1); err == nil {
		t.Fatal("a bad query succeeded")
	}
	tx.Rollback()
	if db.wstmts.get(bad) != nil {
		t.Fatal("a query that does not prepare was cached")
	}
}

// queryPlan returns the details of EXPLAIN QUERY PLAN of q.
func queryPlan(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.read.db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// Ensure a page of the conversation list is three index range scans that
// stop at the limit, never a scan of all conversations.
func TestConversationPagePlan(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	plan := queryPlan(t, db, conversationPage, 1, workspace.MaxID+1, "", 51)
	text := fmt.Sprint(plan)
	for _, idx := range []string{"idx_conversations_kind_activity", "idx_conversations_user_a_activity", "idx_conversations_user_b_activity"} {
		if !strings.Contains(text, idx) {
			t.Fatalf("plan does not use %s:\n%s", idx, strings.Join(plan, "\n"))
		}
	}
	// Unread counts are kept (migration 00010): a page reads no message, and
	// a channel's count is one lookup of the reader's cursor row.
	if strings.Contains(text, "messages") || strings.Contains(text, " m ") {
		t.Fatalf("the page reads messages:\n%s", strings.Join(plan, "\n"))
	}
	if !strings.Contains(text, "SEARCH r USING INDEX sqlite_autoindex_channel_reads_1 (user_id=? AND conversation_id=?)") {
		t.Fatalf("unread count is not a cursor row lookup:\n%s", strings.Join(plan, "\n"))
	}
	// SCAN c is the page's own ≤ limit+1 rows; the table is never scanned.
	if strings.Contains(text, "SCAN conversations") {
		t.Fatalf("plan scans conversations:\n%s", strings.Join(plan, "\n"))
	}
}

// Ensure a calendar range query tests the range inside the two user
// indexes (migration 00011) and reads no event outside it.
func TestCalendarRangePlan(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	q, args, err := eventsQuery("events", 1, workspace.CalendarEventFilter{From: &from, To: &to})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(queryPlan(t, db, q, args...), "\n")
	for _, want := range []string{
		"SEARCH events USING COVERING INDEX idx_events_user_window (user_id=? AND end_time>?)",
		"SEARCH event_attendees USING COVERING INDEX idx_event_attendees_user_window (user_id=? AND end_time>?)",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("plan lacks %q:\n%s", want, text)
		}
	}
}

// Ensure the monitoring reports, which read the whole file, never wait for
// a reader: with every reader held by an open query they still answer.
func TestMonitoringOwnConnection(t *testing.T) {
	db := MustOpenDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range ReadPoolSize() {
		rows, err := db.read.db.QueryContext(ctx, "SELECT 1 UNION ALL SELECT 2")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() { // the connection stays held while rows are open
			t.Fatal(rows.Err())
		}
	}
	if n := db.read.db.Stats().InUse; n != ReadPoolSize() {
		t.Fatalf("%d readers in use, want all %d", n, ReadPoolSize())
	}
	tables, err := db.DBTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables.Tables) == 0 || tables.DatabaseBytes == 0 {
		t.Fatalf("tables report: %+v", tables)
	}
	indexes, err := db.DBIndexUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(indexes.Indexes) == 0 {
		t.Fatalf("index report: %+v", indexes)
	}
}

// TestBackgroundCheckpoint checks that the checkpointer copies what the
// writer commits into the database file, and that the WAL is then reused
// from its start rather than grown.
func TestBackgroundCheckpoint(t *testing.T) {
	type checkpoint struct {
		busy        bool
		log, copied int
		err         error
	}
	ran := make(chan checkpoint, 16)
	db, err := open(filepath.Join(t.TempDir(), "workspace.db"), checkpointTest{
		ran: func(busy bool, log, copied int, err error) {
			select {
			case ran <- checkpoint{busy, log, copied, err}:
			default: // never block the loop
			}
		},
		// The first paced checkpoint is an hour away: only the burst
		// path can checkpoint the burst within next's bound.
		firstWait: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil { // not through Tx: no checkpoint
		t.Fatal(err)
	}
	var pages int
	if err := db.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != AutocheckpointPages {
		t.Fatalf("writer's wal_autocheckpoint = %d, want %d", pages, AutocheckpointPages)
	}

	// next returns the background checkpoint that follows.
	next := func(after string) checkpoint {
		t.Helper()
		select {
		case c := <-ran:
			if c.err != nil || c.busy || c.log <= 0 || c.copied != c.log {
				t.Fatalf("background checkpoint after %s: %d of %d frames copied, busy %v, error %v", after, c.copied, c.log, c.busy, c.err)
			}
			return c
		case <-time.After(30 * time.Second): // a bound, not a synchronisation
			t.Fatalf("no background checkpoint followed %s", after)
			return checkpoint{}
		}
	}
	// commit writes n new channels with ids of ~size bytes in one transaction.
	commit := func(prefix string, n, size int) {
		t.Helper()
		tx, err := db.begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for i := range n {
			id := fmt.Sprintf("%s-%05d-%s", prefix, i, strings.Repeat("x", size))
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, kind, created_at) VALUES (?, 'channel', ?)`, id, fmtTime(tx.now)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	// A burst of burstCommits commits is checkpointed at once, not at the
	// paced time (an hour away), and by the checkpointer: the WAL it finds
	// is below the writer's backstop.
	for i := range burstCommits {
		commit(fmt.Sprintf("burst%03d", i), 10, 3000)
	}
	burst := next("the burst")
	if burst.log >= AutocheckpointPages {
		t.Fatalf("the burst wrote %d WAL frames, want fewer than the writer's %d", burst.log, AutocheckpointPages)
	}
	// All of it was copied, so the next write starts the WAL over: the
	// WAL then holds that write's few frames, not the burst's as well. It
	// is one commit: checkpointed at the paced time.
	commit("one", 1, 10)
	if one := next("one more row"); one.log >= burst.log/10 {
		t.Fatalf("after one more row the WAL holds %d frames, after the burst %d: want it started over", one.log, burst.log)
	}
}

func TestCheckpointPacing(t *testing.T) {
	for _, c := range []struct {
		elapsed time.Duration
		added   int
		want    time.Duration
	}{
		{time.Second, 2000, 500 * time.Millisecond}, // 2,000 frames/s: 1,000 in half a second
		{time.Second, 100_000, minCheckpointInterval},
		{time.Second, 10, maxCheckpointInterval},
		{time.Second, 0, maxCheckpointInterval}, // nothing new: the longest wait
		{time.Minute, 1000, maxCheckpointInterval},
	} {
		if got := nextInterval(c.elapsed, c.added); got != c.want {
			t.Errorf("nextInterval(%v, %d) = %v, want %v", c.elapsed, c.added, got, c.want)
		}
	}
}
