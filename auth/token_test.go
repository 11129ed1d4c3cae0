package auth

import (
	"bytes"
	"testing"
	"time"

	"workspace"
)

// Ensure a remembered access token is still checked for what time changes,
// and only the exact token that verified is remembered.
func TestRememberedTokenStillExpires(t *testing.T) {
	s, err := New(nil, DefaultConfig(bytes.Repeat([]byte("k"), 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	tok, err := s.issue(&workspace.User{ID: 7}, "session-1", "refresh")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // verified, then remembered
		c, err := s.ParseAccessToken(tok.AccessToken)
		if err != nil || c.SessionID != "session-1" || c.Subject != "7" {
			t.Fatalf("claims %+v, %v", c, err)
		}
	}
	if _, ok := s.tokens[tok.AccessToken]; !ok {
		t.Fatal("a verified token was not remembered")
	}
	// Another signature on the same claims is another token: verified anew.
	sig := tok.AccessToken[len(tok.AccessToken)-4:]
	forged := tok.AccessToken[:len(tok.AccessToken)-4] + map[bool]string{true: "AAAA", false: "BBBB"}[sig != "AAAA"]
	if _, err := s.ParseAccessToken(forged); err != ErrInvalidToken {
		t.Fatalf("forged signature: %v", err)
	}
	now = now.Add(s.cfg.AccessTTL + time.Minute)
	if _, err := s.ParseAccessToken(tok.AccessToken); err != ErrInvalidToken {
		t.Fatalf("remembered token past its expiry: %v", err)
	}
	now = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC) // a clock set back: issued in the future
	if _, err := s.ParseAccessToken(tok.AccessToken); err != ErrInvalidToken {
		t.Fatalf("remembered token before its issue time: %v", err)
	}
}
