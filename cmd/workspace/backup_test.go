package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"workspace"
	"workspace/internal/testpg"
	"workspace/postgres"
	"workspace/sqlite"
)

// Ensure `backup` on SQLite while writers keep inserting gives a file that
// passes integrity_check and holds every row acknowledged before it
// started; `restore` puts it in a new place with the same rows, and
// refuses a database in use, a damaged file and a newer schema.
func TestBackupRestoreSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "workspace.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := &workspace.User{Username: "writer", PasswordHash: "x", Role: workspace.RoleUser}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	actx := workspace.NewContextWithActor(ctx, workspace.Actor{UserID: u.ID, Username: u.Username, Role: u.Role})

	// Writers insert messages until told to stop; every acknowledged id is
	// recorded, and the main goroutine is told of each.
	var (
		mu     sync.Mutex
		acked  []int
		stop   = make(chan struct{})
		ackc   = make(chan struct{}, 1024)
		wg     sync.WaitGroup
		errc   = make(chan error, 4)
		writer = func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := &workspace.Message{ConversationID: "general", Text: fmt.Sprintf("writer %d message %d ✓", w, i)}
				if err := db.CreateMessage(actx, m); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				acked = append(acked, m.ID)
				mu.Unlock()
				select {
				case ackc <- struct{}{}:
				default:
				}
			}
		}
	)
	for w := range 3 {
		wg.Add(1)
		go writer(w)
	}
	for range 200 { // let the writers get going
		select {
		case <-ackc:
		case err := <-errc:
			t.Fatal(err)
		}
	}
	mu.Lock()
	before := append([]int(nil), acked...)
	mu.Unlock()
	backup := filepath.Join(dir, "backups", "ws.db")
	// The generated audit key lives beside the database; it must travel
	// with the backup.
	auditKey := "local:" + strings.Repeat("A", 43) + "=\n"
	if err := os.WriteFile(filepath.Join(dir, "data", "audit_key"), []byte(auditKey), 0o600); err != nil {
		t.Fatal(err)
	}
	// Backing up onto the live database (or its WAL) is refused.
	for _, self := range []string{path, path + "-wal"} {
		if err := run(ctx, []string{"backup", "-db", path, "--to", self}, env(), nil, io.Discard, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "the database itself") {
			t.Fatalf("backup onto %s: %v", self, err)
		}
	}
	os.MkdirAll(filepath.Dir(backup), 0o700)
	var out bytes.Buffer
	err = run(ctx, []string{"backup", "-db", path, "--to", backup}, env(), nil, &out, io.Discard)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		t.Fatalf("writer: %v", err)
	default:
	}
	t.Logf("%s(%d messages acknowledged before the backup, %d while it ran)", out.String(), len(before), during)

	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	if v, err := sqlite.CheckBackup(ctx, backup); err != nil {
		t.Fatalf("backup check: %v", err)
	} else if latest, _ := sqlite.LatestVersion(); v != latest {
		t.Fatalf("backup schema version %d, want %d", v, latest)
	}
	saved := MustReadSQLite(t, backup)
	for _, id := range before {
		if _, ok := saved["messages"][fmt.Sprint(id)]; !ok {
			t.Fatalf("message %d, acknowledged before the backup, is not in it", id)
		}
	}

	// Restore into a new place: the same rows.
	restored := filepath.Join(dir, "elsewhere", "workspace.db")
	out.Reset()
	if err := run(ctx, []string{"restore", "-db", restored, "--from", backup}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := MustReadSQLite(t, restored); !reflect.DeepEqual(got, saved) {
		t.Fatal("restored rows differ from the backup's")
	}
	for _, f := range []string{backup + ".audit_key", filepath.Join(dir, "elsewhere", "audit_key")} {
		b, err := os.ReadFile(f)
		st, serr := os.Stat(f)
		if err != nil || serr != nil || string(b) != auditKey || st.Mode().Perm() != 0o600 {
			t.Fatalf("audit key %s: %q %v %v", f, b, err, serr)
		}
	}
	if st, err := os.Stat(restored); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("restored file: %v %v", st, err)
	}
	rdb, err := sqlite.Open(restored)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.CheckSchema(ctx); err != nil {
		t.Fatalf("restored schema: %v", err)
	}
	rdb.Close()

	// Ensure a database in use is not replaced.
	err = run(ctx, []string{"restore", "-db", path, "--from", backup}, env(), nil, io.Discard, io.Discard)
	if !errors.Is(err, sqlite.ErrInUse) {
		t.Fatalf("restore over a database in use: %v", err)
	}

	// Ensure a damaged backup and one newer than the binary are refused,
	// leaving the target as it was.
	damaged := filepath.Join(dir, "damaged.db")
	b, _ := os.ReadFile(backup)
	for i := 4096 + 100; i < len(b) && i < 4096+600; i++ {
		b[i] ^= 0x5a
	}
	os.WriteFile(damaged, b, 0o600)
	newer := filepath.Join(dir, "newer.db")
	sqlite.Backup(ctx, backup, newer)
	ndb, _ := sqlite.Open(newer)
	ndb.SQL().Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`)
	ndb.Close()
	for from, want := range map[string]string{damaged: "integrity", newer: "newer than this binary"} {
		err := run(ctx, []string{"restore", "-db", restored, "--from", from}, env(), nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("restore %s: %v, want %q", filepath.Base(from), err, want)
		}
	}
	if got := MustReadSQLite(t, restored); !reflect.DeepEqual(got, saved) {
		t.Fatal("a refused restore changed the database")
	}
	entries, _ := os.ReadDir(filepath.Dir(restored))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

// Ensure `backup` and `restore` on PostgreSQL round-trip through pg_dump and
// pg_restore, without the password in any output. They need the client
// tools: without them the test is skipped, except under CI=true.
func TestBackupRestorePostgres(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_dump is not on the PATH (install postgresql-client): the PostgreSQL backup test must run in CI")
		}
		t.Skip("*** pg_dump not on the PATH: PostgreSQL backup test NOT RUN ***")
	}
	ctx := context.Background()
	dsn, _ := testpg.Database(t)
	// Trust authentication ignores the password: it only shows whether it
	// leaks into output.
	dsn = strings.Replace(dsn, "postgres@", "postgres:sekrit-pw@", 1)
	if err := run(ctx, []string{"migrate", "-db", dsn}, env(), nil, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u := &workspace.User{Username: "pgwriter", PasswordHash: "x", Role: workspace.RoleAdmin}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	actx := workspace.NewContextWithActor(ctx, workspace.Actor{UserID: u.ID, Username: u.Username, Role: u.Role, IP: "192.0.2.1"})
	for i := range 20 {
		if err := db.CreateMessage(actx, &workspace.Message{ConversationID: "general", Text: fmt.Sprintf("message %d ✓", i)}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() string {
		var b strings.Builder
		for _, q := range []string{`SELECT id, text FROM messages ORDER BY id`, `SELECT id, username FROM users ORDER BY id`, `SELECT id, action FROM activity_logs ORDER BY id`} {
			rows, err := db.Pool().Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				vals, _ := rows.Values()
				fmt.Fprintln(&b, vals...)
			}
			rows.Close()
		}
		return b.String()
	}
	want := snapshot()

	file := filepath.Join(t.TempDir(), "ws.dump")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"backup", "-db", dsn, "--to", file}, env(), nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 || !postgres.IsDumpFile(file) {
		t.Fatalf("backup file: %v %v", st, err)
	}

	// Change everything, then restore.
	if _, err := db.Pool().Exec(ctx, `DELETE FROM messages WHERE id % 2 = 0; UPDATE users SET username = 'renamed'`); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateMessage(actx, &workspace.Message{ConversationID: "general", Text: "after the backup"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := run(ctx, []string{"restore", "-db", dsn, "--from", file}, env(), nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	db, err = postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := snapshot(); got != want {
		t.Fatalf("after restore:\n%s\nwant:\n%s", got, want)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String()+errOut.String(), "sekrit-pw") {
		t.Fatalf("password in output:\n%s%s", out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "backed up postgres database") || !strings.Contains(out.String(), "restored") {
		t.Fatalf("output:\n%s", out.String())
	}

	// Ensure a backup is not restored into a database migrated further
	// (pg_restore --clean would leave the newer tables behind).
	if _, err := db.Pool().Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, true)`); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"restore", "-db", dsn, "--from", file}, env(), nil, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "newer than the backup's") {
		t.Fatalf("restore into a newer database: %v", err)
	}

	// Ensure a SQLite file is refused by a PostgreSQL restore.
	src, _ := mustSource(t)
	if err := run(ctx, []string{"restore", "-db", dsn, "--from", src}, env(), nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "workspace convert") {
		t.Fatalf("restore of a SQLite file into PostgreSQL: %v", err)
	}
}

// Ensure a missing pg_dump is reported plainly.
func TestBackupPostgresWithoutTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := run(context.Background(), []string{"backup", "-db", "postgres://u:pw@127.0.0.1:1/db", "--to", filepath.Join(t.TempDir(), "x")}, env(), nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "pg_dump is not on the PATH") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("backup without pg_dump: %v", err)
	}
}
