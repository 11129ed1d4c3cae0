package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"workspace"
)

// mustSend sends text to a conversation as u.
func mustSend(tb testing.TB, s workspace.Store, u *workspace.User, conv, text string) *workspace.Message {
	tb.Helper()
	m := &workspace.Message{ConversationID: conv, Text: text}
	if err := s.CreateMessage(ctxAs(u), m); err != nil {
		tb.Fatalf("CreateMessage(%s): %v", conv, err)
	}
	return m
}

func unread(tb testing.TB, s workspace.Store, u *workspace.User) *workspace.UnreadCounts {
	tb.Helper()
	c, err := s.CountUnread(context.Background(), u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func testMessage(t *testing.T, newStore NewStore) {
	// Ensure a message round-trips with its author, in a channel and a DM.
	t.Run("CreateOK", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		m := mustSend(t, s, a, "general", "héllo 👋")
		if m.ID == 0 || m.Username != "alice" || m.UserID != a.ID || m.CreatedAt.IsZero() {
			t.Fatalf("created = %+v", m)
		}
		got, err := s.FindMessageByID(context.Background(), b.ID, m.ID)
		if err != nil || got.Text != "héllo 👋" || !got.CreatedAt.Equal(m.CreatedAt) {
			t.Fatalf("read back = %+v, %v", got, err)
		}
		dm := mustSend(t, s, b, workspace.DirectConversation(a.ID, b.ID), "psst")
		if dm.IsRead {
			t.Fatal("a new direct message is read")
		}
		// No audit row for sending: the message is its own record.
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr("message.*")})); n != 0 {
			t.Fatalf("message.* rows after sends = %d", n)
		}
	})

	// Ensure only the two users of a DM can write or read it, and bad ids are refused.
	t.Run("DirectPrivacy", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		c := MustCreateUser(t, s, "carol", nil)
		dm := workspace.DirectConversation(a.ID, b.ID)
		m := mustSend(t, s, a, dm, "secret")
		wantCode(t, s.CreateMessage(ctxAs(c), &workspace.Message{ConversationID: dm, Text: "hi"}), workspace.ENOTFOUND)
		_, err := s.FindMessageByID(context.Background(), c.ID, m.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		_, _, err = s.FindMessages(context.Background(), c.ID, workspace.MessageFilter{ConversationID: dm})
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.MarkMessageRead(context.Background(), c.ID, m.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		wantCode(t, s.MarkConversationRead(context.Background(), c.ID, dm), workspace.ENOTFOUND)
		list, _, _ := s.FindConversations(context.Background(), c.ID, workspace.ConversationFilter{})
		for _, conv := range list {
			if conv.ID == dm {
				t.Fatal("carol lists alice and bob's DM")
			}
		}
		recent, _, err := s.FindRecentMessages(context.Background(), c.ID, "", 50)
		if err != nil || len(recent) != 0 {
			t.Fatalf("carol's recent messages = %d, %v", len(recent), err)
		}
		// A DM with a user who does not exist, malformed ids.
		wantCode(t, s.CreateMessage(ctxAs(a), &workspace.Message{ConversationID: fmt.Sprintf("dm:%d:99999", a.ID), Text: "x"}), workspace.ENOTFOUND)
		for _, bad := range []string{"dm:2:1", "dm:1:1", "dm:01:2", "General", "", "a b", "dm:x:y"} {
			wantCode(t, s.CreateMessage(ctxAs(a), &workspace.Message{ConversationID: bad, Text: "x"}), workspace.EINVALID)
		}
		for _, bad := range []string{"", "   ", "a\x00b"} {
			wantCode(t, s.CreateMessage(ctxAs(a), &workspace.Message{ConversationID: "general", Text: bad}), workspace.EINVALID)
		}
	})

	// Ensure pages: newest first, before/after keysets, no gap or overlap.
	t.Run("Pages", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		var ids []int
		for i := 0; i < 7; i++ {
			ids = append(ids, mustSend(t, s, a, "general", fmt.Sprint("m", i)).ID)
		}
		mustSend(t, s, a, "random", "elsewhere")
		var got []int
		before := 0
		for {
			page, more, err := s.FindMessages(context.Background(), a.ID, workspace.MessageFilter{ConversationID: "general", Before: before, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				got = append(got, m.ID)
			}
			if !more {
				break
			}
			before = page[len(page)-1].ID
		}
		if fmt.Sprint(got) != fmt.Sprint([]int{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}) {
			t.Fatalf("paged = %v, ids %v", got, ids)
		}
		after, more, err := s.FindMessages(context.Background(), a.ID, workspace.MessageFilter{ConversationID: "general", After: ids[3], Limit: 2})
		if err != nil || len(after) != 2 || after[0].ID != ids[4] || after[1].ID != ids[5] || !more {
			t.Fatalf("after = %v, %v, %v", after, more, err)
		}

		// Every message of a page is its own: the stores read a page
		// through one scan destination, and no field may leak from one
		// row into another (deleted ones included).
		for _, id := range []int{ids[3], ids[4]} {
			if _, err := s.DeleteMessage(ctxAs(a), id); err != nil {
				t.Fatal(err)
			}
		}
		page, _, err := s.FindMessages(context.Background(), a.ID, workspace.MessageFilter{ConversationID: "general"})
		if err != nil || len(page) != len(ids) {
			t.Fatalf("page = %d messages, %v", len(page), err)
		}
		for i, m := range page {
			one, err := s.FindMessageByID(context.Background(), a.ID, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessage(m, one) || m.Text != fmt.Sprint("m", len(ids)-1-i) || (m.DeletedAt != nil) != (m.ID == ids[3] || m.ID == ids[4]) {
				t.Fatalf("page[%d] = %+v, alone %+v", i, m, one)
			}
		}
	})

	// Ensure edits and deletions are the author's (deletion also an admin's)
	// and audited without the text.
	t.Run("EditDelete", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		m := mustSend(t, s, a, "general", "typo")
		_, err := s.UpdateMessageText(ctxAs(b), m.ID, "hacked")
		wantCode(t, err, workspace.EFORBIDDEN)
		up, err := s.UpdateMessageText(ctxAs(a), m.ID, "fixed")
		if err != nil || up.Text != "fixed" {
			t.Fatalf("edit: %v %v", up, err)
		}
		_, err = s.DeleteMessage(ctxAs(b), m.ID)
		wantCode(t, err, workspace.EFORBIDDEN)
		if _, err := s.DeleteMessage(ctxAs(admin), m.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.DeleteMessage(ctxAs(a), m.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.UpdateMessageText(ctxAs(a), m.ID, "again")
		wantCode(t, err, workspace.ENOTFOUND)
		got, _ := s.FindMessageByID(context.Background(), a.ID, m.ID)
		if got.DeletedAt == nil || got.Text != "fixed" {
			t.Fatalf("after delete = %+v", got)
		}
		logs := mustLogs(t, s, workspace.ActivityFilter{Action: ptr("message.*")})
		if len(logs) != 2 {
			t.Fatalf("message.* rows = %d", len(logs))
		}
		for _, l := range logs {
			if string(l.Metadata) == "" || containsAny(string(l.Metadata), "typo", "fixed") {
				t.Fatalf("audit metadata = %s", l.Metadata)
			}
		}
	})

	// Ensure unread counts are exact through reads, edits, deletes and
	// concurrent sends, for DMs (is_read) and channels (cursor).
	t.Run("UnreadExact", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		dm := workspace.DirectConversation(a.ID, b.ID)
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(2)
			for _, conv := range []string{dm, "general"} {
				go func() {
					defer wg.Done()
					if err := s.CreateMessage(ctxAs(a), &workspace.Message{ConversationID: conv, Text: fmt.Sprint(conv, i)}); err != nil {
						t.Error(err) // Fatal may not be called off the test goroutine
					}
				}()
			}
		}
		wg.Wait()
		mustSend(t, s, b, "general", "bob's own") // never unread for bob
		u := unread(t, s, b)
		if u.Total != 20 || u.Conversations[dm] != 10 || u.Conversations["general"] != 10 {
			t.Fatalf("bob unread = %+v, want 10 + 10", u)
		}
		if u := unread(t, s, a); u.Total != 1 {
			t.Fatalf("alice unread = %+v, want bob's one channel message", u)
		}
		page, _, _ := s.FindMessages(context.Background(), b.ID, workspace.MessageFilter{ConversationID: dm, Limit: 3})
		if _, err := s.MarkMessageRead(context.Background(), b.ID, page[2].ID); err != nil {
			t.Fatal(err)
		}
		// The author reading their own DM changes nothing.
		if _, err := s.MarkMessageRead(context.Background(), a.ID, page[1].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteMessage(ctxAs(a), page[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateMessageText(ctxAs(a), page[1].ID, "edited"); err != nil {
			t.Fatal(err)
		}
		if u := unread(t, s, b); u.Conversations[dm] != 8 {
			t.Fatalf("dm unread after read+delete+edit = %d, want 8", u.Conversations[dm])
		}
		ch, _, _ := s.FindMessages(context.Background(), b.ID, workspace.MessageFilter{ConversationID: "general", Limit: 50})
		// ch[0] is bob's own; marking ch[4] read reads it and everything older.
		if _, err := s.MarkMessageRead(context.Background(), b.ID, ch[4].ID); err != nil {
			t.Fatal(err)
		}
		if u := unread(t, s, b); u.Conversations["general"] != 3 {
			t.Fatalf("channel unread = %d, want 3", u.Conversations["general"])
		}
		// Marking an older message read never moves the cursor back.
		if _, err := s.MarkMessageRead(context.Background(), b.ID, ch[8].ID); err != nil {
			t.Fatal(err)
		}
		if u := unread(t, s, b); u.Conversations["general"] != 3 {
			t.Fatalf("channel unread after older read = %d, want 3", u.Conversations["general"])
		}
		if err := s.MarkConversationRead(context.Background(), b.ID, "general"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkConversationRead(context.Background(), b.ID, dm); err != nil {
			t.Fatal(err)
		}
		if u := unread(t, s, b); u.Total != 0 {
			t.Fatalf("after reading all: %+v", u)
		}
	})

	// Ensure conversations list with last message, ordered by recency, and DMs open.
	t.Run("Conversations", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		mustSend(t, s, a, "general", "one")
		c, err := s.OpenDirectConversation(ctxAs(a), b.ID)
		if err != nil || c.ID != workspace.DirectConversation(a.ID, b.ID) || c.LastMessage != nil {
			t.Fatalf("open dm = %+v, %v", c, err)
		}
		_, err = s.OpenDirectConversation(ctxAs(a), a.ID)
		wantCode(t, err, workspace.EINVALID)
		_, err = s.OpenDirectConversation(ctxAs(a), 99999)
		wantCode(t, err, workspace.ENOTFOUND)
		last := mustSend(t, s, b, "random", "two")
		list, next, err := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{})
		if err != nil || next != "" || len(list) != 3 || list[0].ID != "random" || list[0].LastMessage.ID != last.ID || list[2].ID != c.ID {
			t.Fatalf("conversations = %+v, %q, %v", list, next, err)
		}
		// The last message carries every field, as the message read alone:
		// an edited channel message, and an unread direct one (below).
		sameAsAlone := func(convID string, msgID int) {
			t.Helper()
			list, _, err := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			one, err := s.FindConversation(context.Background(), a.ID, convID)
			if err != nil {
				t.Fatal(err)
			}
			alone, err := s.FindMessageByID(context.Background(), a.ID, msgID)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(list, func(c *workspace.ConversationSummary) bool { return c.ID == convID })
			if i < 0 {
				t.Fatalf("%s not listed: %+v", convID, list)
			}
			for _, got := range []*workspace.ConversationSummary{list[i], one} {
				if diff := cmp.Diff(alone, got.LastMessage); diff != "" {
					t.Fatalf("last message of %s differs from the message read alone (-alone +listed):\n%s", convID, diff)
				}
			}
		}
		if _, err := s.UpdateMessageText(ctxAs(b), last.ID, "two, edited"); err != nil {
			t.Fatal(err)
		}
		sameAsAlone("random", last.ID)
		recent, _, err := s.FindRecentMessages(context.Background(), b.ID, "", 1)
		if err != nil || len(recent) != 1 || recent[0].ID != last.ID {
			t.Fatalf("recent = %v, %v", recent, err)
		}
		dm := mustSend(t, s, b, c.ID, "unread by alice")
		if dm.IsRead {
			t.Fatalf("a direct message is sent read: %+v", dm)
		}
		sameAsAlone(c.ID, dm.ID)
	})

	// Ensure messages sent at the same time are stored exactly once each,
	// and one that cannot be stored fails alone (sends may share a
	// transaction).
	t.Run("ConcurrentSendsFailAlone", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		gone := MustCreateUser(t, s, "gone", nil)
		if err := s.DeleteUser(ctxAs(a), gone.ID); err != nil {
			t.Fatal(err)
		}
		convs := []string{"general", workspace.DirectConversation(a.ID, b.ID), workspace.DirectConversation(a.ID, gone.ID)}
		const n = 60
		ids := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &workspace.Message{ConversationID: convs[i%3], Text: fmt.Sprint("m", i)}
				errs[i] = s.CreateMessage(ctxAs(a), m)
				ids[i] = m.ID
			}()
		}
		wg.Wait()
		seen := map[int]bool{}
		for i := range n {
			if i%3 == 2 {
				wantCode(t, errs[i], workspace.ENOTFOUND)
				continue
			}
			if errs[i] != nil || ids[i] == 0 || seen[ids[i]] {
				t.Fatalf("send %d: id %d, err %v", i, ids[i], errs[i])
			}
			seen[ids[i]] = true
			got, err := s.FindMessageByID(context.Background(), b.ID, ids[i])
			if err != nil || got.Text != fmt.Sprint("m", i) || got.ConversationID != convs[i%3] {
				t.Fatalf("message %d read back as %+v, %v", ids[i], got, err)
			}
		}
		for _, conv := range convs[:2] {
			page, _, err := s.FindMessages(context.Background(), b.ID, workspace.MessageFilter{ConversationID: conv, Limit: 200})
			if err != nil || len(page) != n/3 {
				t.Fatalf("%s holds %d messages (%v), want %d", conv, len(page), err, n/3)
			}
		}
	})

	// Ensure deleting a conversation's two newest messages at once leaves
	// the one before them as its last message.
	t.Run("ConcurrentDeletesKeepLast", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		for round := range 10 {
			conv := fmt.Sprintf("race-%d", round)
			keep := mustSend(t, s, a, conv, "keep")
			doomed := []*workspace.Message{mustSend(t, s, a, conv, "x"), mustSend(t, s, a, conv, "y")}
			var wg sync.WaitGroup
			for _, m := range doomed {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.DeleteMessage(ctxAs(a), m.ID); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			c, err := s.FindConversation(context.Background(), a.ID, conv)
			if err != nil || c.LastMessage == nil || c.LastMessage.ID != keep.ID {
				t.Fatalf("round %d: last message %+v (%v), want %d", round, c, err, keep.ID)
			}
		}
	})

	// Ensure the conversation list pages by activity with a cursor, across
	// conversations without messages (ties), and that each entry's last
	// message and unread count are the reader's own.
	t.Run("ConversationPages", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		c := MustCreateUser(t, s, "carol", nil)
		var want []string // newest activity first
		for i := range 7 {
			conv := fmt.Sprintf("ch-%d", i)
			mustSend(t, s, b, conv, "hello")
			want = append([]string{conv}, want...)
		}
		dmAB := workspace.DirectConversation(a.ID, b.ID)
		mustSend(t, s, b, dmAB, "psst")
		mustSend(t, s, b, "ch-2", "again") // ch-2 moves to the top, after the DM
		want = append([]string{"ch-2", dmAB}, slices.DeleteFunc(want, func(id string) bool { return id == "ch-2" })...)
		mustSend(t, s, b, workspace.DirectConversation(b.ID, c.ID), "not alice's")
		// Opened, never used: last, by id descending in byte order.
		// Re-opening a used one changes nothing.
		for _, other := range []*workspace.User{c, b} {
			if _, err := s.OpenDirectConversation(ctxAs(a), other.ID); err != nil {
				t.Fatal(err)
			}
		}
		dmAC := workspace.DirectConversation(a.ID, c.ID)
		want = append(want, dmAC)

		for _, limit := range []int{1, 2, 3, 50} {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				list, next, err := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{Cursor: cursor, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if pages > len(want) {
					t.Fatalf("limit %d: no end after %d pages", limit, pages)
				}
				for _, conv := range list {
					got = append(got, conv.ID)
					switch {
					case conv.ID == dmAC && (conv.LastMessage != nil || conv.UnreadCount != 0):
						t.Fatalf("unused DM = %+v", conv)
					case conv.ID == "ch-2" && (conv.LastMessage == nil || conv.LastMessage.Text != "again" || conv.UnreadCount != 2):
						t.Fatalf("ch-2 = %+v (last %+v)", conv, conv.LastMessage)
					case conv.ID == dmAB && (conv.UnreadCount != 1 || len(conv.UserIDs) != 2):
						t.Fatalf("dm = %+v", conv)
					}
				}
				if next == "" {
					break
				}
				if len(list) != limit {
					t.Fatalf("limit %d: a page of %d with a next cursor", limit, len(list))
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: pages = %v, want %v", limit, got, want)
			}
		}

		// Deleting the last message moves the conversation back; deleting
		// its author recomputes it from what is left.
		top, _, _ := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{Limit: 1})
		if _, err := s.DeleteMessage(ctxAs(b), top[0].LastMessage.ID); err != nil {
			t.Fatal(err)
		}
		want = []string{dmAB, "ch-6", "ch-5", "ch-4", "ch-3", "ch-2", "ch-1", "ch-0", dmAC}
		list, _, err := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{})
		if err != nil || !slices.Equal(convIDs(list), want) || list[5].LastMessage.Text != "hello" {
			t.Fatalf("after deleting ch-2's last message: %v, %v; want %v", convIDs(list), err, want)
		}
		mustSend(t, s, c, "ch-0", "carol was here")
		if list, _, _ := s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{Limit: 1}); list[0].ID != "ch-0" {
			t.Fatalf("after carol's message: %v", convIDs(list))
		}
		if err := s.DeleteUser(ctxAs(a), c.ID); err != nil {
			t.Fatal(err)
		}
		list, _, err = s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{Limit: 50})
		if err != nil || list[0].ID != dmAB || slices.Contains(convIDs(list), dmAC) {
			t.Fatalf("after deleting carol: %v, %v", convIDs(list), err)
		}
		for _, conv := range list {
			if conv.ID == "ch-0" && (conv.LastMessage == nil || conv.LastMessage.Text != "hello") {
				t.Fatalf("ch-0 after deleting carol = %+v", conv.LastMessage)
			}
		}

		// One conversation: the reader's view, or not found.
		one, err := s.FindConversation(context.Background(), a.ID, dmAB)
		if err != nil || one.UnreadCount != 1 || one.LastMessage == nil || one.LastMessage.Text != "psst" {
			t.Fatalf("FindConversation = %+v, %v", one, err)
		}
		_, err = s.FindConversation(context.Background(), a.ID, workspace.DirectConversation(b.ID, 999))
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.FindConversation(context.Background(), a.ID, "never-used")
		wantCode(t, err, workspace.ENOTFOUND)

		_, _, err = s.FindConversations(context.Background(), a.ID, workspace.ConversationFilter{Cursor: "bogus"})
		wantCode(t, err, workspace.EINVALID)
		// The unread total agrees with the list.
		total := 0
		for _, conv := range list {
			total += conv.UnreadCount
		}
		if u := unread(t, s, a); u.Total != total {
			t.Fatalf("unread total %d, list sums to %d", u.Total, total)
		}
	})
}

func convIDs(list []*workspace.ConversationSummary) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// sameMessage reports whether a and b hold the same message, field by
// field (times compared as instants).
func sameMessage(a, b *workspace.Message) bool {
	sameTime := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return a.ID == b.ID && a.UserID == b.UserID && a.Username == b.Username && a.ConversationID == b.ConversationID &&
		a.Text == b.Text && a.IsRead == b.IsRead && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		sameTime(a.DeletedAt, b.DeletedAt)
}
