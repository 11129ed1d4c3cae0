package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"workspace"
)

func mustEvent(tb testing.TB, s workspace.Store, owner *workspace.User, title string, start time.Time, d time.Duration, attendees ...string) *workspace.CalendarEvent {
	tb.Helper()
	e := &workspace.CalendarEvent{Title: title, StartTime: start, EndTime: start.Add(d), Attendees: attendees}
	if err := s.CreateCalendarEvent(ctxAs(owner), e); err != nil {
		tb.Fatalf("CreateCalendarEvent(%s): %v", title, err)
	}
	return e
}

func titles(events []*workspace.CalendarEvent) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Title)
	}
	return fmt.Sprint(out)
}

func testCalendar(t *testing.T, newStore NewStore) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

	// Ensure an event round-trips exactly, arrays and NULLs included.
	t.Run("CreateOK", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		loc := "Salle 2 — étage"
		e := &workspace.CalendarEvent{Title: "Réunion", Location: &loc, StartTime: day.Add(9*time.Hour + 123456*time.Microsecond),
			EndTime: day.Add(10 * time.Hour), Attendees: []string{"Bob", "bob", "Carol@Example.com"}}
		if err := s.CreateCalendarEvent(ctxAs(a), e); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindCalendarEventByID(context.Background(), a.ID, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Réunion" || *got.Location != loc || got.Description != nil || !got.StartTime.Equal(e.StartTime) ||
			fmt.Sprint(got.Attendees) != "[bob carol@example.com]" || got.UserID != a.ID {
			t.Fatalf("read back = %+v", got)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionEventCreate)})); n != 1 {
			t.Fatalf("event.create rows = %d", n)
		}
	})

	// Ensure the seed's CHECKs are refused before SQL.
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		for _, e := range []*workspace.CalendarEvent{
			{Title: "", StartTime: day, EndTime: day.Add(time.Hour)},
			{Title: "x", StartTime: day, EndTime: day},
			{Title: "x", StartTime: day, EndTime: day.Add(-time.Hour)},
			{Title: "x", StartTime: day, EndTime: day.Add(time.Hour), Attendees: []string{"not an email@"}},
			{Title: "x", StartTime: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), EndTime: time.Date(20001, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			wantCode(t, s.CreateCalendarEvent(ctxAs(a), e), workspace.EINVALID)
		}
	})

	// Ensure owners and attendees (by username or email) see an event, others don't.
	t.Run("Visibility", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		c := MustCreateUser(t, s, "carol", ptr("carol@example.com"))
		d := MustCreateUser(t, s, "dave", nil)
		e := mustEvent(t, s, a, "standup", day, time.Hour, "BOB", "Carol@example.com", "ghost@example.com", "ghostname")
		for _, u := range []*workspace.User{a, b, c} {
			if _, err := s.FindCalendarEventByID(context.Background(), u.ID, e.ID); err != nil {
				t.Fatalf("%s cannot read: %v", u.Username, err)
			}
		}
		_, err := s.FindCalendarEventByID(context.Background(), d.ID, e.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		// Attendees are bound to the accounts they named when the event was
		// written: claiming an invited address or name later grants nothing,
		// and a renamed attendee keeps access.
		if _, err := s.UpdateUser(ctxAs(d), d.ID, workspace.UserUpdate{Email: ptr("ghost@example.com")}); err != nil {
			t.Fatal(err)
		}
		latecomer := MustCreateUser(t, s, "ghostname", nil)
		for _, u := range []*workspace.User{d, latecomer} {
			if _, err := s.FindCalendarEventByID(context.Background(), u.ID, e.ID); workspace.ErrorCode(err) != workspace.ENOTFOUND {
				t.Fatalf("%s claimed an invitation: %v", u.Username, err)
			}
		}
		renamed, err := s.UpdateUser(ctxAs(b), b.ID, workspace.UserUpdate{Username: ptr("robert")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindCalendarEventByID(context.Background(), renamed.ID, e.ID); err != nil {
			t.Fatalf("renamed attendee lost access: %v", err)
		}
		if loaded, err := s.LoadCalendarEvent(context.Background(), e.ID); err != nil || !loaded.CanRead(b.ID) || !loaded.CanRead(c.ID) ||
			loaded.CanRead(d.ID) || loaded.CanRead(latecomer.ID) {
			t.Fatalf("loaded attendee ids = %v, %v", loaded.AttendeeIDs, err)
		}
		list, _, _ := s.FindCalendarEvents(context.Background(), d.ID, workspace.CalendarEventFilter{})
		if len(list) != 0 {
			t.Fatalf("dave lists %s", titles(list))
		}
		// Only the owner edits or deletes.
		_, err = s.UpdateCalendarEvent(ctxAs(b), e.ID, workspace.CalendarEventUpdate{Title: ptr("hijacked")})
		wantCode(t, err, workspace.ENOTFOUND)
		wantCode(t, s.DeleteCalendarEvent(ctxAs(c), e.ID), workspace.ENOTFOUND)
		up, err := s.UpdateCalendarEvent(ctxAs(a), e.ID, workspace.CalendarEventUpdate{Title: ptr("retro"), Attendees: &[]string{"dave"}})
		if err != nil || up.Title != "retro" {
			t.Fatalf("update: %+v, %v", up, err)
		}
		if _, err := s.FindCalendarEventByID(context.Background(), b.ID, e.ID); workspace.ErrorCode(err) != workspace.ENOTFOUND {
			t.Fatal("bob still sees the event after being removed")
		}
		_, err = s.UpdateCalendarEvent(ctxAs(a), e.ID, workspace.CalendarEventUpdate{EndTime: ptr(day.Add(-time.Hour))})
		wantCode(t, err, workspace.EINVALID)
		if err := s.DeleteCalendarEvent(ctxAs(a), e.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindCalendarEventByID(context.Background(), a.ID, e.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		wantCode(t, s.DeleteCalendarEvent(ctxAs(a), e.ID), workspace.ENOTFOUND)
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr("event.*")})); n != 3 {
			t.Fatalf("event.* rows = %d, want 3", n)
		}
	})

	// Ensure range queries return events overlapping [from, to), by start, paged.
	t.Run("Range", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		mustEvent(t, s, a, "before", day.Add(-2*time.Hour), time.Hour)       // ends 23:00 the day before
		mustEvent(t, s, a, "touching", day.Add(-time.Hour), time.Hour)       // ends exactly at from
		mustEvent(t, s, a, "overlapStart", day.Add(-time.Hour), 2*time.Hour) // 23:00-01:00
		mustEvent(t, s, a, "inside", day.Add(8*time.Hour), time.Hour)
		mustEvent(t, s, a, "inside2", day.Add(8*time.Hour), 2*time.Hour) // same start: by id
		mustEvent(t, s, a, "spanning", day.Add(-24*time.Hour), 72*time.Hour)
		mustEvent(t, s, a, "atEnd", day.Add(24*time.Hour), time.Hour) // starts exactly at to
		from, to := day, day.Add(24*time.Hour)
		var got []*workspace.CalendarEvent
		cursor := ""
		for {
			page, next, err := s.FindCalendarEvents(context.Background(), a.ID, workspace.CalendarEventFilter{From: &from, To: &to, Cursor: cursor, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			cursor = next
		}
		if want := "[spanning overlapStart inside inside2]"; titles(got) != want {
			t.Fatalf("range = %s, want %s", titles(got), want)
		}
		// The same instants written in another time zone select the same rows.
		zone := time.FixedZone("CEST", 2*3600)
		fromZ, toZ := from.In(zone), to.In(zone)
		zoned, _, err := s.FindCalendarEvents(context.Background(), a.ID, workspace.CalendarEventFilter{From: &fromZ, To: &toZ})
		if err != nil || titles(zoned) != "[spanning overlapStart inside inside2]" {
			t.Fatalf("range in CEST = %s, %v", titles(zoned), err)
		}
		_, _, err = s.FindCalendarEvents(context.Background(), a.ID, workspace.CalendarEventFilter{Cursor: "zzz"})
		wantCode(t, err, workspace.EINVALID)
	})

	// An attendee's range query selects the same events as the owner's, and
	// follows an event whose times change (the attendee rows carry a copy
	// of the times, migration 00011).
	t.Run("RangeAttended", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		mustEvent(t, s, a, "before", day.Add(-2*time.Hour), time.Hour, "bob")
		mustEvent(t, s, a, "touching", day.Add(-time.Hour), time.Hour, "bob")
		mustEvent(t, s, a, "overlapStart", day.Add(-time.Hour), 2*time.Hour, "bob")
		inside := mustEvent(t, s, a, "inside", day.Add(8*time.Hour), time.Hour, "bob")
		mustEvent(t, s, a, "spanning", day.Add(-24*time.Hour), 72*time.Hour, "bob")
		mustEvent(t, s, a, "atEnd", day.Add(24*time.Hour), time.Hour, "bob")
		mustEvent(t, s, a, "notBob", day.Add(9*time.Hour), time.Hour)
		later := mustEvent(t, s, a, "later", day.Add(7*24*time.Hour), time.Hour)
		rangeOf := func(u *workspace.User, from time.Time) string {
			t.Helper()
			to := from.Add(24 * time.Hour)
			got, _, err := s.FindCalendarEvents(context.Background(), u.ID, workspace.CalendarEventFilter{From: &from, To: &to})
			if err != nil {
				t.Fatal(err)
			}
			return titles(got)
		}
		if got, want := rangeOf(b, day), "[spanning overlapStart inside]"; got != want {
			t.Fatalf("bob's range = %s, want %s", got, want)
		}
		if got, want := rangeOf(a, day), "[spanning overlapStart inside notBob]"; got != want {
			t.Fatalf("alice's range = %s, want %s", got, want)
		}
		// Moved a week on, times only: it leaves bob's day and joins his week after.
		start, end := day.Add(7*24*time.Hour+10*time.Hour), day.Add(7*24*time.Hour+11*time.Hour)
		if _, err := s.UpdateCalendarEvent(ctxAs(a), inside.ID, workspace.CalendarEventUpdate{StartTime: &start, EndTime: &end}); err != nil {
			t.Fatal(err)
		}
		if got, want := rangeOf(b, day), "[spanning overlapStart]"; got != want {
			t.Fatalf("bob's range after the move = %s, want %s", got, want)
		}
		if got, want := rangeOf(b, day.Add(7*24*time.Hour)), "[inside]"; got != want {
			t.Fatalf("bob's range a week on = %s, want %s", got, want)
		}
		// Times and attendees at once: bob joins "later", moved to the day.
		start, end = day.Add(12*time.Hour), day.Add(13*time.Hour)
		if _, err := s.UpdateCalendarEvent(ctxAs(a), later.ID, workspace.CalendarEventUpdate{StartTime: &start, EndTime: &end, Attendees: &[]string{"bob"}}); err != nil {
			t.Fatal(err)
		}
		if got, want := rangeOf(b, day), "[spanning overlapStart later]"; got != want {
			t.Fatalf("bob's range after the second move = %s, want %s", got, want)
		}
		// Removed from the attendees: gone from his range.
		if _, err := s.UpdateCalendarEvent(ctxAs(a), later.ID, workspace.CalendarEventUpdate{Attendees: &[]string{}}); err != nil {
			t.Fatal(err)
		}
		if got, want := rangeOf(b, day), "[spanning overlapStart]"; got != want {
			t.Fatalf("bob's range after leaving = %s, want %s", got, want)
		}
	})

	// Ensure the pending_events view shows upcoming live events only.
	t.Run("Pending", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		now := time.Now().UTC()
		mustEvent(t, s, a, "past", now.Add(-2*time.Hour), time.Hour)
		mustEvent(t, s, a, "soon", now.Add(time.Hour), time.Hour, "bob")
		gone := mustEvent(t, s, a, "cancelled", now.Add(2*time.Hour), time.Hour)
		mustEvent(t, s, a, "later", now.Add(48*time.Hour), time.Hour)
		if err := s.DeleteCalendarEvent(ctxAs(a), gone.ID); err != nil {
			t.Fatal(err)
		}
		list, _, err := s.FindPendingEvents(context.Background(), a.ID, "", 10)
		if err != nil || titles(list) != "[soon later]" {
			t.Fatalf("pending = %s, %v", titles(list), err)
		}
		list, _, _ = s.FindPendingEvents(context.Background(), b.ID, "", 10)
		if titles(list) != "[soon]" {
			t.Fatalf("bob's pending = %s", titles(list))
		}
	})

	// Ensure feed tokens resolve to their user and rotation replaces them.
	t.Run("FeedToken", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		if err := s.SetCalendarFeedToken(ctxAs(a), a.ID, hash("one")); err != nil {
			t.Fatal(err)
		}
		if u, err := s.FindUserByCalendarFeedToken(context.Background(), hash("one")); err != nil || u.ID != a.ID {
			t.Fatalf("lookup: %v %v", u, err)
		}
		if err := s.SetCalendarFeedToken(ctxAs(a), a.ID, hash("two")); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindUserByCalendarFeedToken(context.Background(), hash("one"))
		wantCode(t, err, workspace.ENOTFOUND)
	})
}
