package faults_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"workspace"
	"workspace/internal/testpg"
	"workspace/postgres"
	"workspace/sqlite"
)

// storedMessages reads every message back from the database directly.
func storedMessages(t *testing.T, store workspace.Store) map[int]string {
	t.Helper()
	out := map[int]string{}
	after := 0
	for {
		page, err := store.FindMessagesSince(context.Background(), 0, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			out[m.ID] = m.Text
			after = m.ID
		}
		if len(page) < 1000 {
			return out
		}
	}
}

// crashRound puts the server under concurrent sends, kills it with SIGKILL
// at a random moment, restarts it, and checks every acknowledged message is
// stored whole.
func crashRound(t *testing.T, env []string, open func() workspace.Store) {
	s := startServer(t, env...)
	token := signup(t, s, "alice")
	stop := make(chan struct{})
	l := runLoad(s, token, 8, stop)
	l.waitAcked(20 + rand.IntN(200)) // a random moment, under load
	s.kill()
	close(stop)
	l.wg.Wait()
	if len(l.other) > 0 {
		t.Fatalf("answers other than 201/503 before the crash: %v", l.other)
	}

	restarted := startServer(t, env...)
	login(t, restarted, "alice") // the server works again
	store := open()
	defer store.Close()
	stored := storedMessages(t, store)
	for id, text := range l.acked {
		if got, ok := stored[id]; !ok || got != text {
			t.Fatalf("acknowledged message %d lost or altered after the crash: %q", id, got)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(l.acked), len(stored))
}

// Ensure a SIGKILL loses no acknowledged message and leaves SQLite intact.
func TestCrashSQLite(t *testing.T) {
	for round := 0; round < 3; round++ {
		dir := t.TempDir()
		open := func() workspace.Store {
			db, err := sqlite.Open(filepath.Join(dir, "workspace.db"))
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
		crashRound(t, []string{"DATA_DIR=" + dir}, open)
		db := open().(*sqlite.DB)
		var check string
		if err := db.SQL().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
			t.Fatalf("integrity_check = %q, %v", check, err)
		}
		db.Close()
	}
}

// Ensure a SIGKILL loses no acknowledged message on PostgreSQL.
func TestCrashPostgres(t *testing.T) {
	for round := 0; round < 3; round++ {
		dsn := testpg.Schema(t)
		open := func() workspace.Store {
			db, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
		crashRound(t, []string{"DATABASE_URL=" + dsn}, open)
	}
}
