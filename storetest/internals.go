package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"workspace"
)

// Internals reach past the Store interface, for the tests that need to set
// a store's clock or cipher, or read a row as stored.
type Internals struct {
	// SetNow replaces the store's clock.
	SetNow func(s workspace.Store, now func() time.Time)
	// SetCipher sets the store's audit metadata cipher.
	SetCipher func(s workspace.Store, c *workspace.AuditCipher)
	// RawMetadata returns an audit row's metadata exactly as stored.
	RawMetadata func(tb testing.TB, s workspace.Store, id int) string
	// Exec runs SQL statements (no parameters) on the store's database.
	Exec func(tb testing.TB, s workspace.Store, sql string)
	// Rows runs a query (no parameters) and returns each row formatted
	// with %v.
	Rows func(tb testing.TB, s workspace.Store, query string) []string
	// Migration returns the text of the store's migration file name.
	Migration func(tb testing.TB, name string) string
}

// RunInternals runs the conformance tests that need Internals.
func RunInternals(t *testing.T, newStore NewStore, in Internals) {
	t.Run("Activity/Prune", func(t *testing.T) { testPrune(t, newStore, in) })
	t.Run("Activity/Encrypted", func(t *testing.T) { testEncrypted(t, newStore, in) })
	t.Run("Unread/Backfill", func(t *testing.T) { testUnreadBackfill(t, newStore, in) })
	t.Run("Unread/Mends", func(t *testing.T) { testUnreadMends(t, newStore, in) })
	t.Run("Calendar/AttendeeTimesBackfill", func(t *testing.T) { testAttendeeTimesBackfill(t, newStore, in) })
}

// testAttendeeTimesBackfill ensures migration 00011 copies each event's
// times to its attendee rows exactly as the store keeps them: the rows are
// built through the store (created, moved, rebound), their times are
// overwritten, the migration's UPDATE runs again, and every row must come
// back.
func testAttendeeTimesBackfill(t *testing.T, newStore NewStore, in Internals) {
	s := newStore(t)
	a := MustCreateUser(t, s, "ann", nil)
	MustCreateUser(t, s, "ben", nil)
	MustCreateUser(t, s, "cat", nil)
	day := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	first := mustEvent(t, s, a, "first", day, time.Hour, "ben", "cat")
	second := mustEvent(t, s, a, "second", day.Add(48*time.Hour), 90*time.Minute, "ben")
	mustEvent(t, s, a, "third", day.Add(-72*time.Hour), 30*time.Minute, "cat", "nobody")
	start, end := day.Add(5*time.Hour), day.Add(7*time.Hour)
	if _, err := s.UpdateCalendarEvent(ctxAs(a), first.ID, workspace.CalendarEventUpdate{StartTime: &start, EndTime: &end}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCalendarEvent(ctxAs(a), second.ID, workspace.CalendarEventUpdate{EndTime: &end, StartTime: &start, Attendees: &[]string{"cat"}}); err != nil {
		t.Fatal(err)
	}
	const rows = `SELECT event_id, user_id, start_time, end_time FROM event_attendees ORDER BY event_id, user_id`
	want := in.Rows(t, s, rows)
	if len(want) != 4 {
		t.Fatalf("%d attendee rows, want 4:\n%s", len(want), strings.Join(want, "\n"))
	}
	in.Exec(t, s, `UPDATE event_attendees SET start_time = '2000-01-01 00:00:00', end_time = '2000-01-02 00:00:00'`)
	if got := in.Rows(t, s, rows); slices.Equal(got, want) {
		t.Fatal("overwriting the times changed nothing")
	}
	up := in.Migration(t, "00011_calendar_window.sql")
	i := strings.Index(up, "UPDATE event_attendees")
	if i < 0 {
		t.Fatal("migration 00011 has no UPDATE of event_attendees")
	}
	in.Exec(t, s, up[i:i+strings.Index(up[i:], ";")+1])
	if got := in.Rows(t, s, rows); !slices.Equal(got, want) {
		t.Fatalf("backfilled attendee times:\n%s\nkept:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// testUnreadMends ensures counters put off by writes that did not keep
// them (an instance still running a binary from before migration 00010)
// never show below 0, and are right again once the reader marks the
// conversation read.
func testUnreadMends(t *testing.T, newStore NewStore, in Internals) {
	s := newStore(t)
	ctx := context.Background()
	a, b := MustCreateUser(t, s, "ann", nil), MustCreateUser(t, s, "ben", nil)
	dm := workspace.DirectConversation(a.ID, b.ID)
	mustSend(t, s, a, "general", "one")
	mustSend(t, s, a, dm, "two")
	in.Exec(t, s, `UPDATE conversations SET message_count = message_count - 5, unread_a = unread_a - 5, unread_b = unread_b - 5`)
	u := unread(t, s, b)
	list, _, err := s.FindConversations(ctx, b.ID, workspace.ConversationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.UnreadCount != 0 {
			t.Fatalf("drifted %s shows %d unread, want 0 (never below)", c.ID, c.UnreadCount)
		}
	}
	if u.Total != 0 {
		t.Fatalf("drifted unread = %+v", u)
	}
	// A new message each, then ben reads both conversations: exact again,
	// and the next message counts from there.
	mustSend(t, s, a, "general", "three")
	mustSend(t, s, a, dm, "four")
	for _, conv := range []string{"general", dm} {
		if err := s.MarkConversationRead(ctx, b.ID, conv); err != nil {
			t.Fatal(err)
		}
	}
	mustSend(t, s, a, "general", "five")
	mustSend(t, s, a, dm, "six")
	if u := unread(t, s, b); u.Total != 2 || u.Conversations["general"] != 1 || u.Conversations[dm] != 1 {
		t.Fatalf("after reading the drifted conversations: %+v, want 1 + 1", u)
	}
}

// testUnreadBackfill ensures migration 00010 computes, from the messages
// and cursors of a database that had no counters, exactly the counters the
// store keeps as it goes: the data is built through the store, the
// counters are wiped back to what the migration starts from (and the
// cursor rows sends create are removed), the migration's statements after
// its ALTERs run again, and every counter must come back.
func testUnreadBackfill(t *testing.T, newStore NewStore, in Internals) {
	s := newStore(t)
	ctx := context.Background()
	a, b, c := MustCreateUser(t, s, "ann", nil), MustCreateUser(t, s, "ben", nil), MustCreateUser(t, s, "cat", nil)
	dm := workspace.DirectConversation(a.ID, b.ID)
	var sent []*workspace.Message
	for i, u := range []*workspace.User{a, b, c, a, b, c, a, a, b, c} {
		for _, conv := range []string{"general", "random", dm} {
			if conv == dm && u == c {
				continue
			}
			sent = append(sent, mustSend(t, s, u, conv, fmt.Sprint(conv, i)))
		}
	}
	for _, step := range []func() error{
		func() error { _, err := s.MarkMessageRead(ctx, b.ID, sent[4].ID); return err },
		func() error { _, err := s.MarkMessageRead(ctx, c.ID, sent[12].ID); return err },
		func() error { _, err := s.MarkMessageRead(ctx, b.ID, sent[2].ID); return err }, // ann's DM to ben
		func() error { return s.MarkConversationRead(ctx, a.ID, "random") },
		func() error { _, err := s.DeleteMessage(ctxAs(a), sent[0].ID); return err },
		func() error { _, err := s.DeleteMessage(ctxAs(a), sent[len(sent)-6].ID); return err }, // ann's DM, unread by ben
		func() error { _, err := s.DeleteMessage(ctxAs(b), sent[5].ID); return err },           // ben's unread DM to ann
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	const (
		counts  = `SELECT id, message_count, unread_a, unread_b FROM conversations ORDER BY id`
		cursors = `SELECT user_id, conversation_id, last_read_id, read_count, own_after FROM channel_reads ORDER BY user_id, conversation_id`
	)
	wantCounts, wantCursors := in.Rows(t, s, counts), in.Rows(t, s, cursors)
	in.Exec(t, s, `UPDATE conversations SET message_count = 0, unread_a = 0, unread_b = 0;
		DELETE FROM channel_reads WHERE last_read_id = 0;
		UPDATE channel_reads SET read_count = 0, own_after = 0`)
	up := in.Migration(t, "00010_unread_counters.sql")
	i := strings.LastIndex(up, "ALTER TABLE")
	i += strings.Index(up[i:], ";") + 1
	in.Exec(t, s, up[i:])
	if got := in.Rows(t, s, counts); !slices.Equal(got, wantCounts) {
		t.Fatalf("backfilled conversations:\n%s\nkept:\n%s", strings.Join(got, "\n"), strings.Join(wantCounts, "\n"))
	}
	if got := in.Rows(t, s, cursors); !slices.Equal(got, wantCursors) {
		t.Fatalf("backfilled cursors:\n%s\nkept:\n%s", strings.Join(got, "\n"), strings.Join(wantCursors, "\n"))
	}
	if len(wantCursors) < 6 {
		t.Fatalf("only %d cursor rows: the test data is too thin", len(wantCursors))
	}
}

func testPrune(t *testing.T, newStore NewStore, in Internals) {
	s := newStore(t)
	ctx := ctxAs(nil)
	now := workspace.Now()
	write := func(at time.Time, n int) {
		in.SetNow(s, func() time.Time { return at })
		for i := 0; i < n; i++ {
			if err := s.WriteAudit(ctx, workspace.Audit{Action: "test.prune", Metadata: map[string]any{"at": at.Format(time.RFC3339)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(now.AddDate(0, 0, -400), 12)
	write(now.AddDate(0, 0, -365).Add(-time.Microsecond), 1) // just too old
	write(now.AddDate(0, 0, -365), 2)                        // exactly at the cutoff: kept
	write(now.AddDate(0, 0, -10), 3)
	in.SetNow(s, workspace.Now)

	// Ensure exactly the rows before the cutoff go, 5 per transaction.
	before := now.AddDate(0, 0, -365)
	res, err := s.PruneActivityLogs(ctx, before, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 13 || res.Batches != 3 {
		t.Fatalf("prune = %+v, want 13 rows in 3 batches", res)
	}
	logs := mustLogs(t, s, workspace.ActivityFilter{})
	var kept, pruneRows int
	for _, l := range logs {
		switch {
		case l.Action == workspace.ActionActivityPrune:
			pruneRows++
			var m map[string]any
			if json.Unmarshal(l.Metadata, &m); m["deleted"] != 13.0 {
				t.Fatalf("prune row metadata = %s", l.Metadata)
			}
		case l.CreatedAt.Before(before):
			t.Fatalf("row %d of %v survived", l.ID, l.CreatedAt)
		default:
			kept++
		}
	}
	if kept != 5 || pruneRows != 1 {
		t.Fatalf("kept %d rows and %d prune rows, want 5 and 1", kept, pruneRows)
	}

	// Ensure a second run finds nothing and writes nothing; space is
	// reclaimed without error.
	if res, err := s.PruneActivityLogs(ctx, before, 5); err != nil || res != (workspace.PruneResult{}) {
		t.Fatalf("second prune = %+v, %v", res, err)
	}
	if n := len(mustLogs(t, s, workspace.ActivityFilter{})); n != 6 {
		t.Fatalf("rows after the second prune = %d, want 6", n)
	}
	if msg, err := s.ReclaimSpace(context.Background(), false); err != nil || msg == "" {
		t.Fatalf("ReclaimSpace = %q, %v", msg, err)
	}
}

func mustCipher(tb testing.TB, keys ...string) *workspace.AuditCipher {
	tb.Helper()
	var list []workspace.AuditKey
	for _, k := range keys {
		list = append(list, workspace.AuditKey{ID: k, Key: []byte(strings.Repeat(k[len(k)-1:], 32))})
	}
	c, err := workspace.NewAuditCipher(list, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func testEncrypted(t *testing.T, newStore NewStore, in Internals) {
	s := newStore(t)
	u := MustCreateUser(t, s, "alice", nil)
	in.SetCipher(s, mustCipher(t, "k1"))
	meta := map[string]any{
		"email": "alice@example.com", "login": "Alice.Example", "password": "hunter22", "lot_id": 7,
		"nested": map[string]any{"client_ip": "198.51.100.9"},
	}
	if err := s.WriteAudit(ctxAs(u), workspace.Audit{Action: "test.encrypted", Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	read := func() []map[string]any {
		var out []map[string]any
		for _, l := range mustLogs(t, s, workspace.ActivityFilter{Action: ptr("test.encrypted")}) {
			var m map[string]any
			if err := json.Unmarshal(l.Metadata, &m); err != nil {
				t.Fatalf("metadata %s: %v", l.Metadata, err)
			}
			m["id"] = l.ID
			out = append(out, m)
		}
		return out
	}

	// Ensure the reader sees the plaintext and the database does not.
	rows := read()
	first := rows[0]
	if first["email"] != "alice@example.com" || first["login"] != "Alice.Example" || first["password"] != workspace.Redacted ||
		first["lot_id"] != 7.0 || first["nested"].(map[string]any)["client_ip"] != "198.51.100.9" {
		t.Fatalf("decrypted metadata = %v", first)
	}
	raw := in.RawMetadata(t, s, first["id"].(int))
	for _, plain := range []string{"alice@example.com", "Alice.Example", "hunter22", "198.51.100.9"} {
		if strings.Contains(raw, plain) {
			t.Fatalf("stored metadata contains %q: %s", plain, raw)
		}
	}
	if strings.Count(raw, "enc:v1:k1:") != 3 || !strings.Contains(raw, `7`) {
		t.Fatalf("stored metadata = %s", raw)
	}

	// Ensure rotation: new rows use the new key, old rows still decrypt.
	in.SetCipher(s, mustCipher(t, "k2", "k1"))
	if err := s.WriteAudit(ctxAs(u), workspace.Audit{Action: "test.encrypted", Metadata: map[string]any{"email": "bob@example.com"}}); err != nil {
		t.Fatal(err)
	}
	rows = read()
	if len(rows) != 2 || rows[0]["email"] != "bob@example.com" || rows[1]["email"] != "alice@example.com" {
		t.Fatalf("after rotation: %v", rows)
	}
	if raw := in.RawMetadata(t, s, rows[0]["id"].(int)); !strings.Contains(raw, "enc:v1:k2:") || strings.Contains(raw, "bob@") {
		t.Fatalf("new row stored as %s", raw)
	}

	// Ensure a row whose key was dropped is still listed, still encrypted.
	in.SetCipher(s, mustCipher(t, "k2"))
	rows = read()
	if rows[0]["email"] != "bob@example.com" || !strings.HasPrefix(rows[1]["email"].(string), "enc:v1:k1:") {
		t.Fatalf("without k1: %v", rows)
	}

	// Ensure a filter on an encrypted key is refused rather than empty.
	_, _, err := s.FindActivityLogs(context.Background(), workspace.ActivityFilter{Metadata: map[string]any{"email": "bob@example.com"}})
	wantCode(t, err, workspace.EINVALID)
}
