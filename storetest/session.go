package storetest

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"workspace"
)

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// mustLogin creates a session id whose first refresh token is "rt-"+id.
func mustLogin(tb testing.TB, s workspace.Store, u *workspace.User, id string) *workspace.Session {
	tb.Helper()
	sess := &workspace.Session{ID: id, UserID: u.ID, ExpiresAt: workspace.Now().Add(time.Hour), IPAddress: "2001:db8::1", UserAgent: "test"}
	if err := s.CreateSession(ctxAs(nil), workspace.Login{Session: sess, RefreshHash: hash("rt-" + id)}); err != nil {
		tb.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func testSession(t *testing.T, newStore NewStore) {
	// Ensure a login stores the session, sets last_login and is audited.
	t.Run("CreateOK", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		sess := &workspace.Session{ID: "s1", UserID: u.ID, ExpiresAt: workspace.Now().Add(time.Hour), IPAddress: "192.0.2.1", UserAgent: "ua"}
		if err := s.CreateSession(ctxAs(nil), workspace.Login{Session: sess, RefreshHash: hash("t"), Rehash: "$2a$12$upgraded"}); err != nil {
			t.Fatal(err)
		}
		got, user, err := s.FindSessionByID(context.Background(), "s1")
		if err != nil {
			t.Fatal(err)
		}
		if got.UserID != u.ID || got.IPAddress != "192.0.2.1" || !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.Active(workspace.Now()) {
			t.Fatalf("session = %+v", got)
		}
		if user.LastLogin == nil || user.PasswordHash != "$2a$12$upgraded" {
			t.Fatalf("user after login = %+v", user)
		}
		logs := mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionLogin)})
		if len(logs) != 1 || logs[0].UserID == nil || *logs[0].UserID != u.ID || logs[0].IPAddress == nil || *logs[0].IPAddress != "203.0.113.7" {
			t.Fatalf("auth.login rows = %+v", logs)
		}
		err = s.CreateSession(ctxAs(nil), workspace.Login{Session: &workspace.Session{ID: "s2", UserID: 999999, ExpiresAt: workspace.Now()}, RefreshHash: hash("u")})
		wantCode(t, err, workspace.ENOTFOUND)
	})

	// Ensure rotation: the current token rotates once; presenting it again
	// within the grace period is idempotent; after it, reuse revokes all.
	t.Run("Rotate", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		mustLogin(t, s, u, "s1")
		ctx := ctxAs(nil)
		r1 := workspace.Rotation{OldHash: hash("rt-s1"), NewHash: hash("t2"), Grace: time.Hour}
		if sess, err := s.RotateRefreshToken(ctx, r1); err != nil || sess.ID != "s1" {
			t.Fatalf("rotate: %v, %v", sess, err)
		}
		if _, err := s.RotateRefreshToken(ctx, r1); err != nil {
			t.Fatalf("repeat within grace: %v", err)
		}
		// The successor rotates on; the first token is now two steps old.
		if _, err := s.RotateRefreshToken(ctx, workspace.Rotation{OldHash: hash("t2"), NewHash: hash("t3"), Grace: time.Hour}); err != nil {
			t.Fatal(err)
		}
		_, err := s.RotateRefreshToken(ctx, r1)
		wantCode(t, err, workspace.EUNAUTHORIZED)
		// Reuse revoked the whole session: the newest token is dead too.
		_, err = s.RotateRefreshToken(ctx, workspace.Rotation{OldHash: hash("t3"), NewHash: hash("t4"), Grace: time.Hour})
		wantCode(t, err, workspace.EUNAUTHORIZED)
		sess, _, err := s.FindSessionByID(context.Background(), "s1")
		if err != nil || sess.RevokedAt == nil {
			t.Fatalf("session after reuse = %+v, %v", sess, err)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionRefreshReuse)})); n != 1 {
			t.Fatalf("auth.refresh_reuse rows = %d", n)
		}
	})

	// Ensure a rotated token presented after the grace period is reuse.
	t.Run("RotateReuseAfterGrace", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		mustLogin(t, s, u, "s1")
		r := workspace.Rotation{OldHash: hash("rt-s1"), NewHash: hash("t2"), Grace: -time.Second}
		if _, err := s.RotateRefreshToken(ctxAs(nil), r); err != nil {
			t.Fatal(err)
		}
		_, err := s.RotateRefreshToken(ctxAs(nil), r)
		wantCode(t, err, workspace.EUNAUTHORIZED)
		_, err = s.RotateRefreshToken(ctxAs(nil), workspace.Rotation{OldHash: hash("unknown"), NewHash: hash("x")})
		wantCode(t, err, workspace.EUNAUTHORIZED)
	})

	// Ensure concurrent refreshes of one token by one client all succeed
	// and leave exactly one current successor.
	t.Run("RotateConcurrent", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		mustLogin(t, s, u, "s1")
		r := workspace.Rotation{OldHash: hash("rt-s1"), NewHash: hash("t2"), Grace: time.Minute}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = s.RotateRefreshToken(ctxAs(nil), r) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
		}
		if _, err := s.RotateRefreshToken(ctxAs(nil), workspace.Rotation{OldHash: hash("t2"), NewHash: hash("t3"), Grace: time.Minute}); err != nil {
			t.Fatalf("successor: %v", err)
		}
	})

	// Ensure revocation ends a session, once, and only the owner's.
	t.Run("Revoke", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		mustLogin(t, s, a, "a1")
		mustLogin(t, s, a, "a2")
		wantCode(t, s.RevokeSession(ctxAs(b), b.ID, "a1", workspace.ActionSessionRevoke), workspace.ENOTFOUND)
		if err := s.RevokeSession(ctxAs(a), a.ID, "a1", workspace.ActionLogout); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.RevokeSession(ctxAs(a), a.ID, "a1", workspace.ActionLogout), workspace.ENOTFOUND)
		_, err := s.RotateRefreshToken(ctxAs(nil), workspace.Rotation{OldHash: hash("rt-a1"), NewHash: hash("x")})
		wantCode(t, err, workspace.EUNAUTHORIZED)
		list, err := s.FindSessions(context.Background(), a.ID)
		if err != nil || len(list) != 1 || list[0].ID != "a2" {
			t.Fatalf("sessions = %+v, %v", list, err)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionLogout)})); n != 1 {
			t.Fatalf("auth.logout rows = %d", n)
		}
	})
}
