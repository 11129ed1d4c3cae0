package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"workspace"
	"workspace/auth"
	"workspace/httpapi"
)

func TestRegister(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))

		// Ensure the first account is admin, the next a user, and no hash leaks.
		first := h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "Alice", "email": "alice@example.com", "password": "correct horse"}).want(t, 201)
		if first.JSON()["role"] != "admin" || strings.Contains(first.String(), "password") || strings.Contains(first.String(), "$2a$") {
			t.Fatalf("first account: %s", first)
		}
		second := h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "bob", "password": "correct horse"}).want(t, 201)
		if second.JSON()["role"] != "user" {
			t.Fatalf("second account: %s", second)
		}

		// Ensure every validation error is a field-level 400 (or 409 for a
		// taken name), and nothing is stored.
		for _, tc := range []struct {
			name   string
			body   string
			status int
			field  string
		}{
			{"UsernameTooShort", `{"username":"ab","password":"12345678"}`, 400, "username"},
			{"UsernameTooLong", `{"username":"` + strings.Repeat("a", 256) + `","password":"12345678"}`, 400, "username"},
			{"UsernameCharset", `{"username":"al ice","password":"12345678"}`, 400, "username"},
			{"UsernameUnicode", `{"username":"alicé","password":"12345678"}`, 400, "username"},
			{"UsernameMissing", `{"password":"12345678"}`, 400, ""},
			{"EmailFormat", `{"username":"carol","email":"carol@example","password":"12345678"}`, 400, "email"},
			{"EmailTooLong", `{"username":"carol","email":"` + strings.Repeat("a", 250) + `@example.com","password":"12345678"}`, 400, "email"},
			{"PasswordTooShort", `{"username":"carol","password":"1234567"}`, 400, "password"},
			{"PasswordTooLong", `{"username":"carol","password":"` + strings.Repeat("p", 73) + `"}`, 400, "password"},
			{"UnknownField", `{"username":"carol","password":"12345678","role":"admin"}`, 400, "role"},
			{"WrongType", `{"username":7,"password":"12345678"}`, 400, "username"},
			{"MalformedJSON", `{"username":`, 400, ""},
			{"TakenCaseInsensitive", `{"username":"ALICE","password":"12345678"}`, 409, "username"},
			{"EmailTaken", `{"username":"carol","email":"ALICE@example.com","password":"12345678"}`, 409, "email"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.do("POST", "/api/v1/auth/register", "", tc.body).want(t, tc.status)
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("Content-Type = %q", ct)
				}
				if tc.field != "" && !slices.Contains(fieldNames(r), tc.field) {
					t.Fatalf("fields = %v, want %q; body %s", fieldNames(r), tc.field, r)
				}
			})
		}
		users, _, err := h.store.FindUsers(context.Background(), workspace.UserFilter{})
		if err != nil || len(users) != 2 {
			t.Fatalf("users stored = %d, %v; want 2", len(users), err)
		}

		// Ensure a 72-byte password (multi-byte runes) is accepted whole.
		pw := strings.Repeat("é", 36) // 72 bytes
		h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "dora", "password": pw}).want(t, 201)
		h.login("dora", pw)
		h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "dora", "password": pw[:70]}).want(t, 401)
	})
}

func TestRegistrationClosed(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t), func(s *httpapi.Server, _ *auth.Config) { s.AllowRegistration = false })
	// Ensure the first account can always be created, and nobody after it.
	h.register("admin", "password-admin")
	r := h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "mallory", "password": "12345678"}).want(t, 403)
	if code(r) != "forbidden" {
		t.Fatalf("code = %q", code(r))
	}
	// An admin still creates accounts.
	a := h.login("admin", "password-admin")
	h.do("POST", "/api/v1/users", a.Access, map[string]any{"username": "bob", "password": "12345678"}).want(t, 201)
}

func TestLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "Alice", "email": "Alice@Example.com", "password": "s3cret-pass"}).want(t, 201)

		// Ensure login works by username or email, any case, in any field.
		for _, body := range []map[string]any{
			{"login": "alice", "password": "s3cret-pass"},
			{"login": "ALICE@example.COM", "password": "s3cret-pass"},
			{"username": "aLiCe", "password": "s3cret-pass"},
			{"email": "alice@example.com", "password": "s3cret-pass"},
		} {
			r := h.do("POST", "/api/v1/auth/login", "", body).want(t, 200)
			m := r.JSON()
			if m["token_type"] != "Bearer" || m["expires_in"].(float64) <= 0 || m["access_token"] == "" || m["refresh_token"] == "" {
				t.Fatalf("login answer: %s", r)
			}
			if u := m["user"].(map[string]any); u["last_login"] == nil || u["username"] != "Alice" {
				t.Fatalf("user: %v", u)
			}
		}

		// Ensure a wrong password and an unknown user are indistinguishable.
		wrong := h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "wrong-pass"}).want(t, 401)
		unknown := h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "nobody", "password": "wrong-pass"}).want(t, 401)
		if wrong.String() != unknown.String() {
			t.Fatalf("bodies differ:\n%s\n%s", wrong, unknown)
		}

		// Ensure an empty password is a 400, not a login attempt.
		h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "alice", "password": ""}).want(t, 400)

		// Ensure both failures and the successes are audited, without secrets.
		logs, _, err := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr("auth.*"), Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		var ok, failed int
		for _, l := range logs {
			switch l.Action {
			case workspace.ActionLogin:
				ok++
			case workspace.ActionLoginFailed:
				failed++
			}
			if l.IPAddress == nil || *l.IPAddress != "127.0.0.1" || l.UserAgent == nil || *l.UserAgent != "httpapi-test" {
				t.Fatalf("audit row without client: %+v", l)
			}
		}
		if ok != 4 || failed != 2 {
			t.Fatalf("auth.login = %d, auth.login_failed = %d; want 4, 2", ok, failed)
		}
		assertNoSecrets(t, h, "s3cret-pass", "wrong-pass")
	})
}

// assertNoSecrets fails if any audit row holds one of the secrets, a token
// handed out, or a bcrypt hash.
func assertNoSecrets(t *testing.T, h *harness, secrets ...string) {
	t.Helper()
	logs, _, err := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 {
		t.Fatal("no audit rows at all")
	}
	for _, l := range logs {
		b, _ := json.Marshal(l)
		for _, s := range append(secrets, "$2a$", "eyJ") {
			if strings.Contains(string(b), s) {
				t.Fatalf("audit row %d contains %q: %s", l.ID, s, b)
			}
		}
	}
}

func TestLoginThrottled(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))
	h.register("alice", "password-alice")
	// Ensure repeated failures against one account answer 429 with Retry-After,
	// before any password check, and that the right password then waits too.
	var throttled response
	for i := 0; i < 20; i++ {
		r := h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "guess-" + strconv.Itoa(i)})
		if r.Status == 429 {
			throttled = r
			break
		}
		r.want(t, 401)
	}
	if throttled.Status != 429 {
		t.Fatal("never throttled")
	}
	if ra, err := strconv.Atoi(throttled.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After = %q", throttled.Header.Get("Retry-After"))
	}
	if code(throttled) != "rate_limited" {
		t.Fatalf("code = %q", code(throttled))
	}
	h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "password-alice"}).want(t, 429)
}

func TestThrottlePolicy(t *testing.T) {
	th := auth.NewThrottle(2, time.Minute, time.Second, 8*time.Second)
	now := time.Now()
	// fail makes one attempt at now that fails; the key must be open.
	fail := func() {
		t.Helper()
		if d := th.Begin("k", now); d != 0 {
			t.Fatalf("key closed for %v when it should be open", d)
		}
		th.End("k", now, true, false)
	}
	// Ensure free failures, then doubling delays capped at Max.
	fail()
	fail()
	var waits []time.Duration
	for i := 0; i < 5; i++ {
		fail()
		d := th.Begin("k", now) // closed: reserves nothing
		waits = append(waits, d)
		now = now.Add(d)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	if !slices.Equal(waits, want) {
		t.Fatalf("waits = %v, want %v", waits, want)
	}
	// Ensure a success clears the key, even right after failures.
	fail()
	now = now.Add(8 * time.Second)
	if d := th.Begin("k", now); d != 0 {
		t.Fatalf("after the wait: closed for %v", d)
	}
	th.End("k", now, false, true)
	if d := th.Begin("k", now); d != 0 {
		t.Fatalf("after a success: closed for %v", d)
	}
	th.End("k", now, false, false)
	// Ensure the window forgets old failures.
	fail()
	fail()
	fail()
	if d := th.Begin("k", now.Add(2*time.Minute)); d != 0 {
		t.Fatalf("after the window: closed for %v", d)
	}
	th.End("k", now.Add(2*time.Minute), false, false)
	// Ensure MaxInFlight bounds concurrent attempts of one key.
	th.MaxInFlight = 1
	if d := th.Begin("other", now); d != 0 {
		t.Fatal(d)
	}
	if d := th.Begin("other", now); d == 0 {
		t.Fatal("a second concurrent attempt passed MaxInFlight 1")
	}
	th.End("other", now, false, false)
	if d := th.Begin("other", now); d != 0 {
		t.Fatalf("after the first attempt ended: closed for %v", d)
	}
}

func TestRefresh(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		s := h.signup("alice")

		// Ensure a refresh rotates: new tokens, same session, and the new access works.
		r := h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.Refresh}).want(t, 200).JSON()
		next := r["refresh_token"].(string)
		if next == s.Refresh || r["session_id"] != s.SID {
			t.Fatalf("refresh: %v", r)
		}
		h.do("GET", "/api/v1/auth/me", r["access_token"].(string), nil).want(t, 200)

		// Ensure a repeat within the grace period (a concurrent refresh that
		// lost the race) gets the same successor, not a logout.
		again := h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.Refresh}).want(t, 200).JSON()
		if again["refresh_token"] != next {
			t.Fatal("repeat within grace gave a different successor")
		}

		// Ensure reuse of a token two rotations old revokes the whole session.
		third := h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": next}).want(t, 200).JSON()
		h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.Refresh}).want(t, 401)
		h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": third["refresh_token"]}).want(t, 401)
		h.auth.ForgetUser(s.ID) // the reuse was on this instance; skip the cache TTL
		h.do("GET", "/api/v1/auth/me", third["access_token"].(string), nil).want(t, 401)
		logs, _, _ := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr(workspace.ActionRefreshReuse)})
		if len(logs) != 1 || logs[0].UserID == nil || *logs[0].UserID != s.ID {
			t.Fatalf("reuse audit rows: %+v", logs)
		}

		// Ensure garbage is a 401, not a 500.
		for _, tok := range []string{"", "x", strings.Repeat("a", 43), strings.Repeat("z", 400)} {
			h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": tok}).want(t, 401)
		}
		assertNoSecrets(t, h, "password-alice", s.Refresh, next)
	})
}

func TestRefreshConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		s := h.signup("alice")
		// Ensure N concurrent refreshes of one token all succeed with one successor.
		const n = 6
		var wg sync.WaitGroup
		got := make([]response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i] = h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.Refresh})
			}()
		}
		wg.Wait()
		var succ string
		for i, r := range got {
			r.want(t, 200)
			tok := r.JSON()["refresh_token"].(string)
			if i > 0 && tok != succ {
				t.Fatal("concurrent refreshes got different successors")
			}
			succ = tok
		}
		h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": succ}).want(t, 200)
	})
}

func TestLogoutAndRevoke(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		a1 := h.signup("alice")
		a2 := h.login("alice", "password-alice")
		b := h.signup("bob")

		// Ensure each user lists only their own sessions, marking the current one.
		list := h.do("GET", "/api/v1/auth/sessions", a1.Access, nil).want(t, 200).JSON()["sessions"].([]any)
		if len(list) != 2 {
			t.Fatalf("sessions = %v", list)
		}
		for _, x := range list {
			m := x.(map[string]any)
			if (m["id"] == a1.SID) != m["current"].(bool) {
				t.Fatalf("current flag wrong: %v", m)
			}
		}

		// Ensure nobody revokes another user's session (404, not 403).
		h.do("DELETE", "/api/v1/auth/sessions/"+a2.SID, b.Access, nil).want(t, 404)
		h.do("GET", "/api/v1/auth/me", a2.Access, nil).want(t, 200)

		// Ensure revocation stops that session's access and refresh tokens at once.
		h.do("DELETE", "/api/v1/auth/sessions/"+a2.SID, a1.Access, nil).want(t, 204)
		h.do("GET", "/api/v1/auth/me", a2.Access, nil).want(t, 401)
		h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": a2.Refresh}).want(t, 401)

		// Ensure logout ends the current session only.
		h.do("POST", "/api/v1/auth/logout", a1.Access, nil).want(t, 204)
		h.do("GET", "/api/v1/auth/me", a1.Access, nil).want(t, 401)
		h.do("GET", "/api/v1/auth/me", b.Access, nil).want(t, 200)
	})
}

// Ensure a revocation made through one instance reaches another instance
// sharing the database within SessionCacheTTL, with no database round trip
// per request before that.
func TestRevocationAcrossInstances(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		store := open(t)
		clk := newClock()
		a := newHarness(t, store)
		b := newHarness(t, store)
		b.auth.Now = clk.Now
		s := a.signup("alice")
		b.do("GET", "/api/v1/auth/me", s.Access, nil).want(t, 200) // cached on b

		a.do("POST", "/api/v1/auth/logout", s.Access, nil).want(t, 204)
		clk.Advance(5 * time.Second) // > SessionCacheTTL (4 s): b asks the database again
		b.do("GET", "/api/v1/auth/me", s.Access, nil).want(t, 401)
	})
}

func TestPasswordChange(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		keep := h.signup("alice")
		other := h.login("alice", "password-alice")

		// Ensure the current password is required and the new one validated.
		r := h.do("POST", "/api/v1/auth/password", keep.Access, map[string]any{"current_password": "nope-nope", "new_password": "new-password-1"}).want(t, 400)
		if !slices.Contains(fieldNames(r), "current_password") {
			t.Fatalf("fields = %v", fieldNames(r))
		}
		h.do("POST", "/api/v1/auth/password", keep.Access, map[string]any{"current_password": "password-alice", "new_password": "short"}).want(t, 400)

		// Ensure a change keeps this session and revokes the others.
		h.do("POST", "/api/v1/auth/password", keep.Access, map[string]any{"current_password": "password-alice", "new_password": "new-password-1"}).want(t, 204)
		h.do("GET", "/api/v1/auth/me", keep.Access, nil).want(t, 200)
		h.do("GET", "/api/v1/auth/me", other.Access, nil).want(t, 401)
		h.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": other.Refresh}).want(t, 401)
		h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": "alice", "password": "password-alice"}).want(t, 401)
		h.login("alice", "new-password-1")
		logs, _, _ := h.store.FindActivityLogs(context.Background(), workspace.ActivityFilter{Action: ptr(workspace.ActionPasswordChange)})
		if len(logs) != 1 {
			t.Fatalf("password change rows = %d", len(logs))
		}
		assertNoSecrets(t, h, "password-alice", "new-password-1")
	})
}

// Ensure hashes made elsewhere ($2a$, $2b$, $2y$) verify, and a hash below
// the configured cost is upgraded on login.
func TestForeignAndWeakHashes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		store := open(t)
		h := newHarness(t, store, func(_ *httpapi.Server, c *auth.Config) { c.BcryptCost = 5 })
		ctx := context.Background()
		// PHP's password_hash() vector from its manual.
		php := "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
		weak, _ := bcrypt.GenerateFromPassword([]byte("weak-password"), 4)
		node := "$2b$" + string(weak)[4:]
		for name, hash := range map[string]string{"phpuser": php, "nodeuser": node} {
			if err := store.CreateUser(ctx, &workspace.User{Username: name, PasswordHash: hash}); err != nil {
				t.Fatal(err)
			}
		}
		h.login("phpuser", "rasmuslerdorf")
		h.login("nodeuser", "weak-password")
		u, err := store.FindUserByLogin(ctx, "nodeuser")
		if err != nil {
			t.Fatal(err)
		}
		if cost, _ := bcrypt.Cost([]byte(u.PasswordHash)); cost != 5 {
			t.Fatalf("cost after login = %d, want upgraded to 5", cost)
		}
		h.login("nodeuser", "weak-password")
		if u, _ := store.FindUserByLogin(ctx, "phpuser"); u.PasswordHash != php {
			t.Fatal("a hash above the configured cost was rewritten")
		}
	})
}

// Ensure forged, expired, alg:none, wrong-audience and refresh tokens used
// as access tokens are all 401.
func TestBadAccessTokens(t *testing.T) {
	h := newHarness(t, engines["sqlite"](t))
	s := h.signup("alice")
	sign := func(claims jwt.MapClaims, key []byte) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": strconv.Itoa(s.ID), "sid": s.SID, "typ": "access", "aud": "workspace", "iss": "workspace",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
	}
	h.do("GET", "/api/v1/auth/me", sign(valid(), testSecret), nil).want(t, 200) // the baseline is accepted

	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(valid())
	mod := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	del := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	for name, tok := range map[string]string{
		"Forged":        sign(valid(), []byte("another-secret-another-secret-1234")),
		"Expired":       sign(mod("exp", time.Now().Add(-time.Minute).Unix()), testSecret),
		"NoExpiry":      sign(del("exp"), testSecret),
		"WrongAudience": sign(mod("aud", "other"), testSecret),
		"WrongType":     sign(mod("typ", "refresh"), testSecret),
		"OtherSubject":  sign(mod("sub", "999"), testSecret),
		"UnknownSID":    sign(mod("sid", "nope"), testSecret),
		"AlgNone":       b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + ".",
		"RefreshToken":  s.Refresh,
		"Garbage":       "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("GET", "/api/v1/auth/me", tok, nil).want(t, 401)
			if code(r) != "unauthorized" || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("answer: %v %s", r.Header, r)
			}
		})
	}
}

// Ensure a burst of concurrent guesses cannot outrun the throttle: at most
// one attempt per account is checked at a time, and username and email
// share the account's budget.
func TestLoginBurstThrottled(t *testing.T) {
	// A realistic hashing cost, so the burst queues on bcrypt as it would.
	h := newHarness(t, engines["sqlite"](t), func(_ *httpapi.Server, c *auth.Config) { c.BcryptCost = 10 })
	h.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "alice", "email": "alice@example.com", "password": "password-alice"}).want(t, 201)
	const burst = 30
	var wg sync.WaitGroup
	statuses := make([]int, burst)
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login := "alice"
			if i%2 == 1 {
				login = "ALICE@example.com"
			}
			statuses[i] = h.do("POST", "/api/v1/auth/login", "", map[string]any{"login": login, "password": fmt.Sprint("guess-", i)}).Status
		}()
	}
	wg.Wait()
	checked := 0
	for _, st := range statuses {
		switch st {
		case 401:
			checked++
		case 429:
		default:
			t.Fatalf("status %d in a guessing burst", st)
		}
	}
	// Free failures are 5; with one attempt in flight at a time, a burst
	// gets at most a handful of password checks, not all 30.
	if checked > 10 {
		t.Fatalf("%d of %d concurrent guesses were checked: the burst outran the throttle", checked, burst)
	}
}
