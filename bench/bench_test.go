package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	segjson "github.com/segmentio/encoding/json"

	"workspace"
	"workspace/internal/testpg"
)

// TestEndToEndSQLite runs the whole tool on SQLite with tiny sizes: build,
// serve, users, seed, every scenario, raw baselines, size comparison,
// reports.
func TestEndToEndSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	dir := t.TempDir()
	jsonPath, mdPath := filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.md")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-engine", "sqlite", "-messages", "2000", "-small-messages", "500", "-events", "200", "-lots", "200",
		"-duration", "300ms", "-concurrency", "2", "-flood", "1", "-bcrypt-cost", "10",
		"-json", jsonPath, "-md", mdPath,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Logf("progress:\n%s", stderr.String())

	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var results []map[string]any
	if err := json.Unmarshal(b, &results); err != nil {
		t.Fatalf("JSON: %v\n%s", err, b)
	}
	_, procStat := readCPUTimes()
	byName := map[string]map[string]any{}
	for _, r := range results {
		name, _ := r["name"].(string)
		byName[name] = r
		for _, k := range []string{"name", "rps", "p50_ms", "p99_ms", "max_ms", "errors"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s: no %q", name, k)
			}
		}
		if rps, _ := r["rps"].(float64); rps <= 0 {
			t.Errorf("%s: rps = %v", name, r["rps"])
		}
		if errs, _ := r["errors"].(float64); errs != 0 {
			t.Errorf("%s: %v errors, first: %v", name, errs, r["first_error"])
		}
		if procStat {
			if p, ok := r["steal_pct"].(float64); !ok || p < 0 || p > 100 {
				t.Errorf("%s: steal_pct = %v", name, r["steal_pct"])
			}
		}
	}
	for _, name := range []string{"send", "page", "conversations", "calendar", "lot", "mix", "mix + login flood",
		"page @ 50% of peak", "conversations @ 50% of peak", "calendar @ 50% of peak",
		"page @ 500 messages", "page @ 2,000 messages",
		"page @ 500 messages, same load", "page @ 2,000 messages, same load"} {
		if byName[name] == nil {
			t.Errorf("no scenario %q in %s", name, b)
		}
	}
	for _, name := range []string{"send", "page"} {
		if r := byName[name]; r != nil && (r["raw_rps"] == nil || r["ratio"] == nil || procStat && r["raw_steal_pct"] == nil) {
			t.Errorf("%s: no raw baseline: %v", name, r)
		}
	}
	// The paced page read has a raw side paced at the same rate.
	if r := byName["page @ 50% of peak"]; r != nil && (r["raw_rps"] == nil || r["raw_p99_ms"] == nil || r["ratio"] == nil || r["target_rps"] == nil ||
		procStat && r["raw_steal_pct"] == nil) {
		t.Errorf("paced page: no raw side: %v", r)
	}
	if r := byName["mix + login flood"]; r != nil && r["flood_logins"] == nil {
		t.Errorf("login flood made no login: %v", r)
	}
	for _, name := range []string{"page @ 2,000 messages", "page @ 2,000 messages, same load"} {
		if r := byName[name]; r != nil && r["p50_ratio"] == nil {
			t.Errorf("%s: no page size ratio: %v", name, r)
		}
	}
	// The same-load comparison offers both sizes one paced rate.
	small, large := byName["page @ 500 messages, same load"], byName["page @ 2,000 messages, same load"]
	if small == nil || large == nil || small["target_rps"] == nil || small["target_rps"] != large["target_rps"] || large["same_load"] != true || small["same_load"] != true {
		t.Errorf("same-load comparison: %v / %v", small, large)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| send |") || !strings.Contains(string(md), "Server peak RSS") || string(md) != stdout.String() ||
		procStat && !strings.Contains(string(md), "- Steal %:") {
		t.Errorf("Markdown:\n%s", md)
	}
}

// TestPageScan checks the load generator's page scan against a full decode
// of answers encoded as the server encodes them, with texts that look like
// message objects.
func TestPageScan(t *testing.T) {
	now := time.Now().UTC()
	texts := []string{"plain", `{"id":999,"user_id":1}`, `"quoted" {"id":7,`, "ünïcode ✓ \u2028", `\{"id":1,`, ""}
	for n := 0; n <= len(texts); n++ {
		var page struct {
			Messages []*workspace.Message `json:"messages"`
			HasMore  bool                 `json:"has_more"`
		}
		page.Messages = []*workspace.Message{}
		for i := range n {
			m := &workspace.Message{ID: 1000 - i, UserID: i, Username: "u", ConversationID: "general", Text: texts[i], CreatedAt: now, UpdatedAt: now}
			if i%2 == 1 {
				m.DeletedAt = &now
			}
			page.Messages = append(page.Messages, m)
		}
		b, err := segjson.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		var p pageBody
		if err := p.scan(b); err != nil {
			t.Fatalf("%d messages: %v\n%s", n, err, b)
		}
		wantLast := 0
		if n > 0 {
			wantLast = page.Messages[n-1].ID
		}
		if p.n != n || p.last != wantLast {
			t.Fatalf("scan: %d messages, last %d; want %d, %d\n%s", p.n, p.last, n, wantLast, b)
		}
	}
	var p pageBody
	if err := p.scan([]byte(`{"title":"Unauthorized"}`)); err == nil {
		t.Fatal("an answer without messages scanned")
	}
}

// TestSettle checks the stand-in for autovacuum on PostgreSQL: with the
// server's autovacuum off it vacuums the run's database (a table whose rows
// were all deleted is truncated to nothing), with it on it leaves the
// database to the server.
func TestSettle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, _ := testpg.Database(t)
	r, err := openRaw(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	// The table is kept from the server's own autovacuum, which would
	// otherwise be free to vacuum it first where it is on.
	if _, err := r.pool.Exec(ctx, `CREATE TABLE churn (id int, pad text) WITH (autovacuum_enabled = off);
		INSERT INTO churn SELECT i, repeat('x', 200) FROM generate_series(1, 2000) i;
		DELETE FROM churn`); err != nil {
		t.Fatal(err)
	}
	size := func() (n int64) {
		if err := r.pool.QueryRow(ctx, `SELECT pg_relation_size('churn')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.autovacuum = true
	if v, err := r.settle(ctx); err != nil || v {
		t.Fatalf("autovacuum on: settle = %v, %v; want false, nil", v, err)
	}
	if size() == 0 {
		t.Fatal("autovacuum on: the table was vacuumed")
	}
	r.autovacuum = false
	if v, err := r.settle(ctx); err != nil || !v {
		t.Fatalf("autovacuum off: settle = %v, %v; want true, nil", v, err)
	}
	if n := size(); n != 0 {
		t.Fatalf("autovacuum off: %d bytes left after settle, want 0", n)
	}
}

// TestCPUTimes reads steal from /proc/stat lines as Linux writes them.
func TestCPUTimes(t *testing.T) {
	before, err := parseCPUTimes([]byte("cpu  175446 0 39162 186569 2127 0 9203 12971 0 0\ncpu0 86271 0 19317 96119 423 0 4269 6486 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuTimes{total: 425478, steal: 12971}); before != want {
		t.Fatalf("parsed %+v, want %+v", before, want)
	}
	// Guest time is part of user time already: it is not added again.
	after, err := parseCPUTimes([]byte("cpu  175546 0 39262 186669 2127 0 9203 13171 50 0"))
	if err != nil {
		t.Fatal(err)
	}
	if p := after.since(before).stealPct(); p == nil || *p != 40 {
		t.Errorf("steal over 500 ticks of which 200 stolen = %v, want 40", p)
	}
	if p := before.since(after).stealPct(); p != nil {
		t.Errorf("counters that went back measured %v, want nothing", *p)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu  1 2 3 4 5 6 7", "cpu  1 2 3 4 5 6 7 x 0 0"} {
		if c, err := parseCPUTimes([]byte(bad)); err == nil {
			t.Errorf("%q parsed as %+v", bad, c)
		}
	}
	if _, err := os.Stat("/proc/stat"); err == nil {
		if _, ok := readCPUTimes(); !ok {
			t.Error("this machine's /proc/stat did not parse")
		}
	}
}

// TestServerEnv accepts the Go runtime's settings for the server and
// nothing else.
func TestServerEnv(t *testing.T) {
	got, err := parseServerEnv("GOGC=1600,GOMEMLIMIT=off,GODEBUG=gctrace=1,GOMAXPROCS=1")
	if want := []string{"GOGC=1600", "GOMEMLIMIT=off", "GODEBUG=gctrace=1", "GOMAXPROCS=1"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("parsed %q, %v; want %q", got, err, want)
	}
	if got, err := parseServerEnv(""); err != nil || got != nil {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"DATABASE_URL=postgres://elsewhere", "GOGC", "GOGC=", "GOGC=100,", "gogc=100", "GOGC=100,JWT_SECRET=x"} {
		if got, err := parseServerEnv(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
	if _, err := parseFlags([]string{"-url", "http://127.0.0.1:4000", "-db", "x.db", "-server-env", "GOGC=1600"}, io.Discard); err == nil {
		t.Error("-server-env accepted with -url, whose server the bench does not start")
	}
}
