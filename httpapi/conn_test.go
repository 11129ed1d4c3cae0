package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"workspace/auth"
	"workspace/httpapi"
)

// countingListener counts the write calls on the connections it accepts,
// below the connection NewListener wraps around them.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestResponseInOneWrite(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))
	u := h.signup("writer")
	for i := range 60 {
		h.do("POST", "/api/v1/messages", u.Access, map[string]any{"conversation_id": "general", "text": fmt.Sprint("message ", i, " ", strings.Repeat("x", 150))}).want(t, 201)
	}
	for i := range 110 {
		h.do("POST", "/api/v1/messages", u.Access, map[string]any{"conversation_id": "huge", "text": fmt.Sprint(i, strings.Repeat("y", 9990))}).want(t, 201)
	}

	counter := &countingListener{}
	srv := httptest.NewUnstartedServer(h.api.Handler())
	counter.Listener = srv.Listener
	srv.Listener = httpapi.NewListener(counter)
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	// roundTrip sends one request on the kept-alive connection and returns
	// the answer and the write calls the server made for it.
	roundTrip := func(method, path string) (*http.Response, []byte, int64) {
		t.Helper()
		before := counter.writes.Load()
		// The Host of the harness's server, whose answer is the reference.
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", method, path, strings.TrimPrefix(h.srv.URL, "http://"), u.Access)
		req, _ := http.NewRequest(method, path, nil)
		res, err := http.ReadResponse(rd, req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body, counter.writes.Load() - before
	}

	// Ensure a large body goes out with its headers in one write, whole and
	// with its length, and that the connection serves the next request.
	want := h.do("GET", "/api/v1/messages?conversation_id=general&limit=60", u.Access, nil).want(t, 200)
	if len(want.Body) < 8<<10 {
		t.Fatalf("the page is only %d bytes", len(want.Body))
	}
	for range 2 {
		res, body, writes := roundTrip("GET", "/api/v1/messages?conversation_id=general&limit=60")
		if res.StatusCode != 200 || !bytes.Equal(body, want.Body) || res.ContentLength != int64(len(body)) {
			t.Fatalf("page: %d, %d bytes (Content-Length %d), want the %d bytes of the same page", res.StatusCode, len(body), res.ContentLength, len(want.Body))
		}
		if writes != 1 {
			t.Errorf("a %d byte answer took %d writes, want 1", len(body), writes)
		}
	}

	// Ensure small answers, errors and HEAD are one write too.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/auth/me", 200},
		{"GET", "/api/v1/messages/999999", 404},
		{"HEAD", "/api/v1/messages?conversation_id=general&limit=60", 200},
	} {
		res, body, writes := roundTrip(c.method, c.path)
		if res.StatusCode != c.status || writes != 1 {
			t.Errorf("%s %s: %d in %d writes (%d bytes), want %d in 1", c.method, c.path, res.StatusCode, writes, len(body), c.status)
		}
		if c.method == "HEAD" && (len(body) != 0 || res.Header.Get("Content-Length") != strconv.Itoa(len(want.Body))) {
			t.Errorf("HEAD: %d bytes of body, Content-Length %q", len(body), res.Header.Get("Content-Length"))
		}
	}

	// Ensure a body over the hold limit (1 MiB) is written through as
	// net/http writes it, whole.
	res, body, _ := roundTrip("GET", "/api/v1/messages?conversation_id=huge&limit=110")
	if res.StatusCode != 200 || len(body) < 1<<20 || res.ContentLength != int64(len(body)) || !bytes.HasSuffix(body, []byte("}\n")) {
		t.Fatalf("huge page: %d, %d bytes, Content-Length %d", res.StatusCode, len(body), res.ContentLength)
	}
	if _, _, writes := roundTrip("GET", "/api/v1/messages?conversation_id=general&limit=60"); writes != 1 {
		t.Errorf("after a huge answer, a page took %d writes", writes)
	}
}

// lockedBuffer is a log destination the server's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// failingListener's connections fail every write larger than a small answer, as a
// connection the client reset does.
type failingListener struct{ net.Listener }

func (l failingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return failingConn{c}, nil
}

type failingConn struct{ net.Conn }

func (c failingConn) Write(p []byte) (int, error) {
	if len(p) > 2048 {
		return 0, syscall.EPIPE
	}
	return c.Conn.Write(p)
}

// Ensure a held answer whose write fails is a client gone away, as with a
// failed write in net/http: the connection closes, and nothing is logged
// as a server error (huma took it for a panic while the request's context
// stayed alive).
func TestHeldWriteFails(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarness(t, engines["sqlite"](t), func(s *httpapi.Server, _ *auth.Config) {
		s.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	u := h.signup("gone")
	for i := range 30 {
		h.do("POST", "/api/v1/messages", u.Access, map[string]any{"conversation_id": "general", "text": fmt.Sprint(i, strings.Repeat("z", 200))}).want(t, 201)
	}
	srv := httptest.NewUnstartedServer(h.api.Handler())
	srv.Listener = httpapi.NewListener(failingListener{srv.Listener})
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	// Without the context's cancel, whether huma saw the failure as a
	// panic raced with net/http noticing the closed connection; a few
	// rounds make that race show.
	for range 8 {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/messages?conversation_id=general&limit=30", nil)
		req.Header.Set("Authorization", "Bearer "+u.Access)
		if res, err := srv.Client().Do(req); err == nil {
			res.Body.Close()
			t.Fatalf("a failed write still answered %d", res.StatusCode)
		}
	}
	srv.Close() // waits for the handlers, and so for their log lines
	out := logs.String()
	if strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, `"path":"/api/v1/messages"`) {
		t.Fatalf("log after a failed write:\n%s", out)
	}
}
