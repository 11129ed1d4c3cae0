package faults_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"workspace/internal/testpg"
	"workspace/postgres"
)

// cluster is a throwaway PostgreSQL cluster the test owns, so stopping it
// disturbs nobody else.
type cluster struct {
	t         *testing.T
	bin, dir  string
	port      int
	asPostgre bool
}

// newCluster initdb's a cluster in a temp directory on a free port.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("initdb not found (/usr/lib/postgresql/*/bin)")
		}
		t.Skip("initdb not found: PostgreSQL server binaries are needed for this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "ws-pgfault-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: filepath.Dir(bins[0]), dir: dir, port: port, asPostgre: os.Geteuid() == 0}
	if c.asPostgre { // initdb refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	t.Cleanup(func() { c.pgctl("stop", "-m", "immediate"); os.RemoveAll(dir) })
	c.run(filepath.Join(c.bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync")
	c.start()
	return c
}

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(name, args...)
	if c.asPostgre {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (c *cluster) pgctl(args ...string) {
	cmd := exec.Command(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", filepath.Join(c.dir, "data"), "-w"}, args...)...)
	if c.asPostgre {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", cmd.Path}, cmd.Args[1:]...)...)
	}
	cmd.CombinedOutput()
}

func (c *cluster) start() {
	c.run(filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.dir, "data"), "-w", "-l", filepath.Join(c.dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir), "start")
}

func (c *cluster) stopImmediate() {
	c.run(filepath.Join(c.bin, "pg_ctl"), "-D", filepath.Join(c.dir, "data"), "-w", "-m", "immediate", "stop")
}

func (c *cluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Ensure that when PostgreSQL stops mid-load requests get 503 with
// Retry-After (never 500), /readyz fails, the server recovers by itself
// within 5 s of the database's return, and no acknowledged write is lost.
func TestPostgresStopsMidLoad(t *testing.T) {
	c := newCluster(t)
	s := startServer(t, "DATABASE_URL="+c.dsn())
	token := signup(t, s, "alice")
	stop := make(chan struct{})
	l := runLoad(s, token, 8, stop)
	l.waitAcked(100)

	c.stopImmediate()
	l.waitStatus(503, 20)
	if code, _, h, err := call("GET", s.URL+"/readyz", "", nil); err != nil || code != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("readyz while the database is down: %d %v", code, err)
	}

	c.start()
	back := time.Now()
	for {
		code, _, _, err := call("GET", s.URL+"/readyz", "", nil)
		if err == nil && code == 200 {
			break
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("not ready 5 s after the database came back (last: %d %v)", code, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the server under test, bounded above
	}
	l.mu.Lock()
	before := len(l.acked)
	l.mu.Unlock()
	l.waitAcked(before + 100)
	close(stop)
	l.wg.Wait()
	if len(l.other) > 0 {
		t.Fatalf("answers other than 201 and 503+Retry-After: %v\nserver log:\n%s", l.other, s.logs.String())
	}
	db, err := postgres.Open(context.Background(), c.dsn(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := storedMessages(t, db)
	for id, text := range l.acked {
		if stored[id] != text {
			t.Fatalf("acknowledged message %d lost", id)
		}
	}
	t.Logf("statuses: %v; ready again %v after the database", l.status, time.Since(back).Round(time.Millisecond))
}

// Ensure killing the server's database backends repeatedly fails only the
// requests in flight, cleanly (503), and the pool recovers.
func TestBackendsKilled(t *testing.T) {
	dsn := testpg.WithParam(testpg.Schema(t), "application_name", fmt.Sprintf("ws-fault-%d", time.Now().UnixNano()))
	s := startServer(t, "DATABASE_URL="+dsn)
	token := signup(t, s, "alice")
	stop := make(chan struct{})
	l := runLoad(s, token, 8, stop)
	admin := testpg.Admin(t)
	app := testpg.ParamOf(dsn, "application_name")
	for round := 0; round < 5; round++ {
		l.mu.Lock()
		n := len(l.acked)
		l.mu.Unlock()
		l.waitAcked(n + 30)
		if _, err := admin.Exec(context.Background(),
			`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, app); err != nil {
			t.Fatal(err)
		}
	}
	l.mu.Lock()
	n := len(l.acked)
	l.mu.Unlock()
	l.waitAcked(n + 50) // the pool recovered
	close(stop)
	l.wg.Wait()
	if len(l.other) > 0 {
		t.Fatalf("answers other than 201 and 503+Retry-After: %v\nserver log:\n%s", l.other, s.logs.String())
	}
	t.Logf("statuses: %v", l.status)
}
