package faults_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"workspace/sqlite"
)

// Ensure SIGTERM under load loses no request accepted before the signal:
// every request either got a complete answer or never reached the server
// (connection refused or closed before a response), every answer is 201,
// every 201 is stored, and the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "DATA_DIR="+dir)
	token := signup(t, s, "alice")
	stop := make(chan struct{})
	l := runLoad(s, token, 16, stop)
	l.waitAcked(300)
	if err := s.terminate(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	close(stop)
	l.wg.Wait()
	for code, n := range l.status {
		if code != 201 && code != 0 {
			t.Fatalf("%d answers with status %d during shutdown: %v", n, code, l.status)
		}
	}
	db, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := storedMessages(t, db)
	for id, text := range l.acked {
		if stored[id] != text {
			t.Fatalf("acknowledged message %d missing after a graceful shutdown", id)
		}
	}
	// Nothing was stored without its answer reaching the client: the drain
	// let every accepted request finish.
	if extra := len(stored) - len(l.acked); extra != 0 {
		t.Fatalf("%d messages stored whose 201 never reached the client", extra)
	}
	t.Logf("statuses: %v", l.status)
}

// Ensure many concurrent writers on SQLite never see "database is locked":
// only 201s, and the stored rows are exactly the acknowledged ones.
func TestSQLiteContention(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "DATA_DIR="+dir)
	tokens := make([]string, 4)
	for i := range tokens {
		tokens[i] = signup(t, s, fmt.Sprintf("user%d", i))
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	var bad []string
	lots := 0
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := tokens[w%len(tokens)]
			for i := 0; i < 40; i++ {
				var code int
				var m map[string]any
				var err error
				switch i % 4 {
				case 0:
					code, m, _, err = call("POST", s.URL+"/api/v1/lots", tok, map[string]any{"item_count": i + 1})
				case 1:
					code, m, _, err = call("PATCH", s.URL+"/api/v1/auth/me", tok, map[string]any{"email": fmt.Sprintf("u%d-%d@example.com", w, i)})
				default:
					code, m, _, err = call("POST", s.URL+"/api/v1/messages", tok, map[string]any{"text": fmt.Sprintf("w%d i%d", w, i)})
				}
				mu.Lock()
				statuses[code]++
				if err != nil || code >= 500 || strings.Contains(fmt.Sprint(m), "locked") {
					bad = append(bad, fmt.Sprintf("%d %v %v", code, m, err))
				}
				if code == 201 && i%4 == 0 {
					lots++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d failed requests, e.g. %s (statuses %v)", len(bad), bad[0], statuses)
	}
	db, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var storedLots, storedMsgs int
	db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM lots`).Scan(&storedLots)
	db.SQL().QueryRowContext(context.Background(), `SELECT count(*) FROM messages`).Scan(&storedMsgs)
	if storedLots != lots || storedMsgs != 32*20 {
		t.Fatalf("stored %d lots (acknowledged %d), %d messages (acknowledged %d)", storedLots, lots, storedMsgs, 32*20)
	}
	t.Logf("statuses: %v", statuses)
}
