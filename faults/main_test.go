package faults_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the workspace binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "workspace-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "workspace")
	build := exec.Command("go", "build", "-o", binary, "../cmd/workspace")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `workspace serve` child process.
type server struct {
	t    testing.TB
	logs safeBuffer // the server's JSON log
	cmd  *exec.Cmd
	URL  string
	done chan struct{}
	err  error
}

const testSecret = "faults-test-secret-faults-test-secret-0123456789"

// startServer runs `workspace serve` with env (KEY=VALUE) on a free port
// and returns once it listens.
func startServer(t testing.TB, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), append([]string{"BCRYPT_COST=10", "JWT_SECRET=" + testSecret, "LOG_LEVEL=warn"}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan struct{})}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), "workspace listening on "); ok {
			s.URL, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if s.URL == "" {
		cmd.Wait()
		t.Fatalf("server did not start: %s", stderr.String())
	}
	go func() { io.Copy(&s.logs, out); s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.kill() })
	return s
}

// kill ends the process with SIGKILL (no cleanup of any kind).
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// terminate sends SIGTERM and waits for the process to exit.
func (s *server) terminate() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("no exit 30 s after SIGTERM")
	}
}

// safeBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends a JSON request and returns the status and decoded body;
// err is a transport error (no HTTP answer at all).
func call(method, url, token string, body any) (int, map[string]any, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return res.StatusCode, m, res.Header, nil
}

// signup registers a user on s and returns an access token.
func signup(t testing.TB, s *server, name string) string {
	t.Helper()
	if code, m, _, err := call("POST", s.URL+"/api/v1/auth/register", "", map[string]any{"username": name, "password": "password-" + name}); err != nil || code != 201 {
		t.Fatalf("register: %d %v %v", code, m, err)
	}
	return login(t, s, name)
}

func login(t testing.TB, s *server, name string) string {
	t.Helper()
	code, m, _, err := call("POST", s.URL+"/api/v1/auth/login", "", map[string]any{"login": name, "password": "password-" + name})
	if err != nil || code != 200 {
		t.Fatalf("login: %d %v %v", code, m, err)
	}
	return m["access_token"].(string)
}

// load runs writers that send messages until stop is closed; every 201 is
// recorded with its text. Any 5xx is an error of the test.
type load struct {
	mu     sync.Mutex
	cond   *sync.Cond // broadcast on every acknowledgement
	acked  map[int]string
	status map[int]int
	other  []string
	wg     sync.WaitGroup
}

func runLoad(s *server, token string, writers int, stop <-chan struct{}) *load {
	l := &load{acked: map[int]string{}, status: map[int]int{}}
	l.cond = sync.NewCond(&l.mu)
	for w := 0; w < writers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("writer %d message %d %s", w, i, strings.Repeat("é", 100))
				code, m, h, err := call("POST", s.URL+"/api/v1/messages", token, map[string]any{"conversation_id": "general", "text": text})
				l.mu.Lock()
				switch {
				case err != nil:
					l.status[0]++
					l.cond.Broadcast()
				case code == 201:
					l.acked[int(m["id"].(float64))] = text
					l.status[code]++
					l.cond.Broadcast()
				default:
					l.status[code]++
					l.cond.Broadcast()
					if code >= 500 && (code != 503 || h.Get("Retry-After") == "") {
						l.other = append(l.other, fmt.Sprintf("%d %v", code, m))
					}
				}
				l.mu.Unlock()
				if err != nil || code == 503 {
					// Back off a little when the server or its database is away.
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}()
	}
	return l
}

// waitStatus blocks until n answers with status code were seen.
func (l *load) waitStatus(code, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.status[code] < n {
		l.cond.Wait()
	}
}

// waitAcked blocks until at least n messages were acknowledged.
func (l *load) waitAcked(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.acked) < n {
		l.cond.Wait()
	}
}
