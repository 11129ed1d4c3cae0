package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"workspace"
)

func testUser(t *testing.T, newStore NewStore) {
	// Ensure the first account administers the deployment and later ones don't.
	t.Run("CreateFirstIsAdmin", func(t *testing.T) {
		s := newStore(t)
		before := workspace.Now()
		a := MustCreateUser(t, s, "alice", ptr("alice@example.com"))
		b := MustCreateUser(t, s, "bob", nil)
		if a.Role != workspace.RoleAdmin || b.Role != workspace.RoleUser {
			t.Fatalf("roles = %q, %q; want admin, user", a.Role, b.Role)
		}
		if a.ID == 0 || b.ID <= a.ID {
			t.Fatalf("ids = %d, %d; want increasing", a.ID, b.ID)
		}
		if a.CreatedAt.Before(before.Add(-time.Second)) || a.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v", a.CreatedAt)
		}
		got, err := s.FindUserByID(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Fatalf("read back differs (-created +read):\n%s", diff)
		}
	})

	// Ensure usernames and emails are unique case-insensitively, with the field named.
	t.Run("ErrTakenCaseInsensitive", func(t *testing.T) {
		s := newStore(t)
		MustCreateUser(t, s, "Alice", ptr("Alice@Example.com"))
		err := s.CreateUser(ctxAs(nil), &workspace.User{Username: "aLICE", PasswordHash: "h"})
		wantCode(t, err, workspace.ECONFLICT)
		if e := err.(*workspace.Error); len(e.Fields) != 1 || e.Fields[0].Field != "username" {
			t.Fatalf("fields = %+v", e.Fields)
		}
		err = s.CreateUser(ctxAs(nil), &workspace.User{Username: "other", Email: ptr("alice@EXAMPLE.com"), PasswordHash: "h"})
		wantCode(t, err, workspace.ECONFLICT)
		if e := err.(*workspace.Error); len(e.Fields) != 1 || e.Fields[0].Field != "email" {
			t.Fatalf("fields = %+v", e.Fields)
		}
	})

	// Ensure the seed's CHECKs are refused before SQL with a field error.
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newStore(t)
		for _, u := range []*workspace.User{
			{Username: "ab", PasswordHash: "h"},
			{Username: "abc", Email: ptr("not-an-email"), PasswordHash: "h"},
			{Username: "abc", Email: ptr("a@b.c"), PasswordHash: "h"},
			{Username: "has space", PasswordHash: "h"},
		} {
			wantCode(t, s.CreateUser(ctxAs(nil), u), workspace.EINVALID)
		}
		users, _, err := s.FindUsers(context.Background(), workspace.UserFilter{})
		if err != nil || len(users) != 0 {
			t.Fatalf("users = %d, %v; want none stored", len(users), err)
		}
	})

	// Ensure login lookup works by username or email, case-insensitively.
	t.Run("FindByLogin", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "Alice", ptr("alice@example.com"))
		for _, login := range []string{"alice", "ALICE", "Alice@Example.COM"} {
			u, err := s.FindUserByLogin(context.Background(), login)
			if err != nil || u.ID != a.ID {
				t.Fatalf("FindUserByLogin(%q) = %v, %v", login, u, err)
			}
			if u.PasswordHash == "" {
				t.Fatal("password hash not loaded")
			}
		}
		_, err := s.FindUserByLogin(context.Background(), "nobody")
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.FindUserByID(context.Background(), 999999)
		wantCode(t, err, workspace.ENOTFOUND)
	})

	// Ensure lists page newest first by cursor and filter.
	t.Run("FindUsersPaged", func(t *testing.T) {
		s := newStore(t)
		var ids []int
		for _, n := range []string{"ann", "ben", "cat", "dan", "eve"} {
			ids = append(ids, MustCreateUser(t, s, n, ptr(n+"@example.com")).ID)
		}
		var got []int
		cursor := ""
		for {
			page, next, err := s.FindUsers(context.Background(), workspace.UserFilter{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page {
				got = append(got, u.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		want := []int{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("paged ids (-want +got):\n%s", diff)
		}
		users, _, err := s.FindUsers(context.Background(), workspace.UserFilter{Query: ptr("EV")})
		if err != nil || len(users) != 1 || users[0].Username != "eve" {
			t.Fatalf("query: %v, %v", users, err)
		}
		users, _, err = s.FindUsers(context.Background(), workspace.UserFilter{Query: ptr("%")})
		if err != nil || len(users) != 0 {
			t.Fatalf("query %%: %d users, %v; want wildcard escaped", len(users), err)
		}
		users, _, err = s.FindUsers(context.Background(), workspace.UserFilter{Role: ptr(workspace.RoleAdmin)})
		if err != nil || len(users) != 1 || users[0].ID != ids[0] {
			t.Fatalf("role filter: %v, %v", users, err)
		}
		_, _, err = s.FindUsers(context.Background(), workspace.UserFilter{Cursor: "garbage"})
		wantCode(t, err, workspace.EINVALID)
	})

	// Ensure updates apply, are audited, and keep at least one admin.
	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		bob := MustCreateUser(t, s, "bob", ptr("bob@example.com"))
		ctx := ctxAs(admin)
		u, err := s.UpdateUser(ctx, bob.ID, workspace.UserUpdate{Username: ptr("robert"), Email: ptr(""), Role: ptr(workspace.RoleAdmin)})
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "robert" || u.Email != nil || u.Role != workspace.RoleAdmin || !u.UpdatedAt.After(bob.UpdatedAt) && !u.UpdatedAt.Equal(bob.UpdatedAt) {
			t.Fatalf("updated = %+v", u)
		}
		got, _ := s.FindUserByID(context.Background(), bob.ID)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Fatalf("read back (-updated +read):\n%s", diff)
		}
		_, err = s.UpdateUser(ctx, bob.ID, workspace.UserUpdate{Username: ptr("ADMIN")})
		wantCode(t, err, workspace.ECONFLICT)
		_, err = s.UpdateUser(ctx, 424242, workspace.UserUpdate{Username: ptr("zzz")})
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.UpdateUser(ctx, bob.ID, workspace.UserUpdate{Username: ptr("x")})
		wantCode(t, err, workspace.EINVALID)

		// Two admins: one may be demoted, not the last.
		if _, err := s.UpdateUser(ctx, admin.ID, workspace.UserUpdate{Role: ptr(workspace.RoleUser)}); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateUser(ctx, bob.ID, workspace.UserUpdate{Role: ptr(workspace.RoleUser)})
		wantCode(t, err, workspace.ECONFLICT)

		logs := mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionUserUpdate)})
		if len(logs) != 2 || logs[1].UserID == nil || *logs[1].UserID != admin.ID {
			t.Fatalf("user.update rows = %d (%+v)", len(logs), logs)
		}
	})

	// Ensure deleting cascades sessions, keeps audit rows with no user, and
	// refuses the last admin.
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		bob := MustCreateUser(t, s, "bob", nil)
		mustLogin(t, s, bob, "sess-bob")
		if err := s.DeleteUser(ctxAs(bob), bob.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindUserByID(context.Background(), bob.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		_, _, err = s.FindSessionByID(context.Background(), "sess-bob")
		wantCode(t, err, workspace.ENOTFOUND)
		for _, l := range mustLogs(t, s, workspace.ActivityFilter{}) {
			if l.UserID != nil && *l.UserID == bob.ID {
				t.Fatalf("audit row %d still points at the deleted user", l.ID)
			}
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionUserDelete)})); n != 1 {
			t.Fatalf("user.delete rows = %d", n)
		}
		wantCode(t, s.DeleteUser(ctxAs(admin), admin.ID), workspace.ECONFLICT)
		wantCode(t, s.DeleteUser(ctxAs(admin), bob.ID), workspace.ENOTFOUND)
	})

	// Ensure the active_users view lists users signed in within 7 days.
	t.Run("ActiveUsersView", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		MustCreateUser(t, s, "never", nil)
		mustLogin(t, s, a, "s1")
		users, next, err := s.FindActiveUsers(context.Background(), "", 10)
		if err != nil || len(users) != 1 || users[0].ID != a.ID || next != "" || users[0].LastLogin == nil {
			t.Fatalf("active users = %+v, %q, %v", users, next, err)
		}
	})

	// Ensure a password change revokes the other sessions only.
	t.Run("SetPassword", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		mustLogin(t, s, u, "keep")
		mustLogin(t, s, u, "other")
		if err := s.SetPassword(ctxAs(u), u.ID, "$2a$10$new", "keep"); err != nil {
			t.Fatal(err)
		}
		got, _ := s.FindUserByID(context.Background(), u.ID)
		if got.PasswordHash != "$2a$10$new" {
			t.Fatalf("hash not replaced")
		}
		sessions, err := s.FindSessions(context.Background(), u.ID)
		if err != nil || len(sessions) != 1 || sessions[0].ID != "keep" {
			t.Fatalf("sessions after password change = %+v, %v", sessions, err)
		}
		wantCode(t, s.SetPassword(ctxAs(u), 999999, "x", ""), workspace.ENOTFOUND)
	})
}
