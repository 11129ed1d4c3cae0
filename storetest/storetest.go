// Package storetest is the one conformance suite of workspace.Store: the
// sqlite and postgres packages run it against a real database, so both
// engines keep the same promises (the codes named in the interfaces' doc
// comments).
package storetest

import (
	"context"
	"testing"

	"workspace"
)

// NewStore returns a fresh, migrated, empty store; it closes it on cleanup.
type NewStore func(tb testing.TB) workspace.Store

// Run runs every conformance test, each on a fresh store.
func Run(t *testing.T, newStore NewStore) {
	t.Run("User", func(t *testing.T) { testUser(t, newStore) })
	t.Run("Session", func(t *testing.T) { testSession(t, newStore) })
	t.Run("Activity", func(t *testing.T) { testActivity(t, newStore) })
	t.Run("Message", func(t *testing.T) { testMessage(t, newStore) })
	t.Run("Unread", func(t *testing.T) { testUnread(t, newStore) })
	t.Run("Calendar", func(t *testing.T) { testCalendar(t, newStore) })
	t.Run("Realtime", func(t *testing.T) { testRealtime(t, newStore) })
	t.Run("Lot", func(t *testing.T) { testLot(t, newStore) })
	t.Run("Shortcut", func(t *testing.T) { testShortcut(t, newStore) })
	t.Run("Monitor", func(t *testing.T) { testMonitor(t, newStore) })
}

// ctxAs returns a context whose actor is u (nil: anonymous) from a fixed
// address, as the HTTP layer builds it.
func ctxAs(u *workspace.User) context.Context {
	a := workspace.Actor{IP: "203.0.113.7", UserAgent: "storetest/1.0"}
	if u != nil {
		a.UserID, a.Username, a.Role = u.ID, u.Username, u.Role
	}
	return workspace.NewContextWithActor(context.Background(), a)
}

// MustCreateUser creates a user (hash "x": stores do not check hashes).
func MustCreateUser(tb testing.TB, s workspace.Store, username string, email *string) *workspace.User {
	tb.Helper()
	u := &workspace.User{Username: username, Email: email, PasswordHash: "$2a$10$notarealhash"}
	if err := s.CreateUser(ctxAs(nil), u); err != nil {
		tb.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

func ptr[T any](v T) *T { return &v }

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := workspace.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// mustLogs returns every audit row, newest first.
func mustLogs(tb testing.TB, s workspace.Store, f workspace.ActivityFilter) []*workspace.ActivityLog {
	tb.Helper()
	f.Limit = workspace.MaxPageSize
	logs, _, err := s.FindActivityLogs(context.Background(), f)
	if err != nil {
		tb.Fatalf("FindActivityLogs: %v", err)
	}
	return logs
}
