package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"workspace/auth"
	"workspace/httpapi"
)

// BenchmarkMe measures an authenticated GET /api/v1/auth/me through the
// real router and store: JWT check, cached session, user read, JSON.
func BenchmarkMe(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, engines[name](b))
			s := h.signup("alice")
			req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1/auth/me", nil)
			req.Header.Set("Authorization", "Bearer "+s.Access)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := h.client.Do(req)
					if err != nil || res.StatusCode != 200 {
						b.Fatalf("me: %v %v", res, err)
					}
					drain(res)
				}
			})
		})
	}
}

// BenchmarkLogin measures a full sign-in (bcrypt at cost 10, the lowest
// production cost, session insert, audit row) through the real router.
func BenchmarkLogin(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, engines[name](b), func(_ *httpapi.Server, c *auth.Config) { c.BcryptCost = 10 })
			h.register("alice", "password-alice")
			body := `{"login":"alice","password":"password-alice"}`
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := h.client.Post(h.srv.URL+"/api/v1/auth/login", "application/json", strings.NewReader(body))
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("login: %v %v", res, err)
				}
				drain(res)
			}
		})
	}
}

func drain(res *http.Response) {
	buf := make([]byte, 4096)
	for {
		if _, err := res.Body.Read(buf); err != nil {
			break
		}
	}
	res.Body.Close()
}
