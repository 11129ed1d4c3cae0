package httpapi_test

import (
	"bytes"
	"fmt"
	ics "github.com/arran4/golang-ical"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"workspace/auth"
	"workspace/httpapi"
)

func TestHeadersAndLimits(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))

	// Ensure security headers and a request id on every kind of answer.
	for _, r := range []response{
		h.do("GET", "/healthz", "", nil),
		h.do("GET", "/api/v1/auth/me", "", nil),
		h.do("GET", "/no/such/path", "", nil),
		h.do("GET", "/api/v1/openapi.json", "", nil),
	} {
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Request-Id") == "" || r.Header.Get("Server") != "" {
			t.Errorf("headers of a %d: %v", r.Status, r.Header)
		}
	}

	// Ensure JSON bodies go out whole with their length, never chunked,
	// small or large (a page of 60 messages is ~15 KB), and that a status
	// with no body still goes out.
	u := h.signup("lengthy")
	for i := range 60 {
		h.do("POST", "/api/v1/messages", u.Access, map[string]any{"conversation_id": "general", "text": fmt.Sprint("message number ", i, " ", strings.Repeat("x", 150))}).want(t, 201)
	}
	for _, r := range []response{
		h.do("GET", "/api/v1/auth/me", u.Access, nil).want(t, 200),
		h.do("GET", "/api/v1/messages?conversation_id=general&limit=60", u.Access, nil).want(t, 200),
		h.do("GET", "/api/v1/auth/me", "", nil).want(t, 401),
	} {
		if cl := r.Header.Get("Content-Length"); cl != strconv.Itoa(len(r.Body)) || len(r.TransferEncoding) != 0 {
			t.Errorf("%d answer of %d bytes: Content-Length %q, Transfer-Encoding %v", r.Status, len(r.Body), cl, r.TransferEncoding)
		}
	}
	big := h.do("GET", "/api/v1/messages?conversation_id=general&limit=60", u.Access, nil)
	if len(big.Body) < 8<<10 {
		t.Fatalf("the large answer is only %d bytes", len(big.Body))
	}
	head := h.do("HEAD", "/api/v1/messages?conversation_id=general&limit=60", u.Access, nil).want(t, 200)
	if head.Header.Get("Content-Length") != strconv.Itoa(len(big.Body)) || len(head.Body) != 0 {
		t.Errorf("HEAD: Content-Length %q (GET's body is %d bytes), body %d bytes", head.Header.Get("Content-Length"), len(big.Body), len(head.Body))
	}
	h.do("POST", "/api/v1/conversations/general/read", u.Access, nil).want(t, 204)

	// Ensure unknown paths are 404 and wrong methods 405, as problem documents.
	nf := h.do("GET", "/no/such/path", "", nil).want(t, 404)
	if nf.Header.Get("Content-Type") != "application/problem+json" || code(nf) != "not_found" {
		t.Fatalf("404: %v %s", nf.Header, nf)
	}
	mna := h.do("PUT", "/api/v1/auth/login", "", nil).want(t, 405)
	if !strings.Contains(mna.Header.Get("Allow"), "POST") || code(mna) != "method_not_allowed" {
		t.Fatalf("405: %v %s", mna.Header, mna)
	}

	// Ensure a body over the limit is 413 and a non-JSON body 415.
	huge := `{"username":"` + strings.Repeat("a", 1<<17) + `","password":"12345678"}`
	h.do("POST", "/api/v1/auth/register", "", huge).want(t, 413)
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/auth/login", strings.NewReader("login=a"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 415 {
		t.Fatalf("form body: %d, want 415", res.StatusCode)
	}

	// Ensure the OpenAPI document and the docs page are served publicly.
	doc := h.do("GET", "/api/v1/openapi.json", "", nil).want(t, 200).JSON()
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	h.do("GET", "/api/v1/docs", "", nil).want(t, 200)
	if r := h.do("GET", "/readyz", "", nil).want(t, 200); !strings.Contains(r.String(), "ready") {
		t.Fatalf("readyz: %s", r)
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", h.srv.URL+"/api/v1/auth/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	// Ensure an allowed origin is granted and any other is never reflected.
	if res := preflight("https://app.example.com"); res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("allowed origin: %v", res.Header)
	}
	if res := preflight("https://evil.example.com"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin reflected: %v", res.Header)
	}
	// Simple (non-preflight) requests too, on every kind of answer.
	for _, origin := range []string{"https://evil.example.com", "null", "https://app.example.com.evil.com"} {
		for _, path := range []string{"/healthz", "/api/v1/auth/me", "/nope"} {
			req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
			req.Header.Set("Origin", origin)
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Fatalf("GET %s from %s: Access-Control-Allow-Origin %q", path, origin, got)
			}
		}
	}
}

// Ensure X-Forwarded-For is believed from trusted proxies only.
func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		xff     string
		want    string
	}{
		{"Untrusted", "", "198.51.100.9", "127.0.0.1"},
		{"Trusted", "127.0.0.1/32", "198.51.100.9", "198.51.100.9"},
		{"SpoofedLeftHop", "127.0.0.1/32", "6.6.6.6, 198.51.100.9", "198.51.100.9"},
		{"ChainOfProxies", "127.0.0.0/8, 10.0.0.0/8", "198.51.100.9, 10.1.2.3", "198.51.100.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prefixes []netip.Prefix
			for _, p := range strings.Split(tc.trusted, ",") {
				if p = strings.TrimSpace(p); p != "" {
					prefixes = append(prefixes, netip.MustParsePrefix(p))
				}
			}
			h := newHarness(t, engines["sqlite"](t), func(s *httpapi.Server, _ *auth.Config) { s.TrustedProxies = prefixes })
			h.register("alice", "password-alice")
			req, _ := http.NewRequest("POST", h.srv.URL+"/api/v1/auth/login", strings.NewReader(`{"login":"alice","password":"password-alice"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", tc.xff)
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			sessions := h.do("GET", "/api/v1/auth/sessions", h.login("alice", "password-alice").Access, nil).JSON()["sessions"].([]any)
			var ips []string
			for _, s := range sessions {
				ips = append(ips, s.(map[string]any)["ip_address"].(string))
			}
			// The second login came without the header: its IP is the socket's
			// (or the trusted proxy's).
			if ips[1] != tc.want {
				t.Fatalf("session IPs = %v, want first login from %s", ips, tc.want)
			}
		})
	}
}

// Ensure the secret of a calendar feed URL never reaches the request log.
func TestFeedTokenNotLogged(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, engines["sqlite"](t), func(s *httpapi.Server, _ *auth.Config) {
		s.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	a := h.signup("alice")
	feed := h.do("POST", "/api/v1/calendar/feed", a.Access, nil).want(t, 200).JSON()
	r := h.do("GET", feed["url"].(string), "", nil).want(t, 200)
	// An empty feed is still a calendar apps accept.
	if _, err := ics.ParseCalendar(strings.NewReader(r.String())); err != nil {
		t.Fatalf("empty feed: %v\n%s", err, r)
	}
	token := feed["token"].(string)
	if strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), "/api/v1/calendar/feeds/{token}") {
		t.Fatalf("request log:\n%s", logs.String())
	}
}
