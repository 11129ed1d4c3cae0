package storetest

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"workspace"
)

// unreadModel is what unread counts must be, from the rules alone: a
// channel message is unread by every other user until their cursor (the
// highest id they marked read) passes it; a direct message until its
// recipient marks it read; deleted messages are never unread.
type unreadModel struct {
	msgs    []*modelMessage
	cursors map[int]map[string]int // user → channel → last read id
}

type modelMessage struct {
	id, user        int
	conv            string
	deleted, isRead bool
}

func (md *unreadModel) sent(m *workspace.Message, ref workspace.ConversationRef) {
	md.msgs = append(md.msgs, &modelMessage{id: m.ID, user: m.UserID, conv: m.ConversationID, isRead: ref.Kind == workspace.KindChannel})
}

func (md *unreadModel) readUpTo(user int, conv string, id int) {
	if md.cursors[user] == nil {
		md.cursors[user] = map[string]int{}
	}
	md.cursors[user][conv] = max(md.cursors[user][conv], id)
}

// counts returns user's nonzero unread counts by conversation.
func (md *unreadModel) counts(user int) map[string]int {
	out := map[string]int{}
	for _, m := range md.msgs {
		ref, _ := workspace.ParseConversation(m.conv)
		if m.deleted || m.user == user || !ref.CanRead(user) {
			continue
		}
		if ref.Kind == workspace.KindChannel && m.id > md.cursors[user][m.conv] || ref.Kind == workspace.KindDirect && !m.isRead {
			out[m.conv]++
		}
	}
	return out
}

// checkUnread compares every user's unread counts, through CountUnread and
// the conversation list, with the model.
func checkUnread(tb testing.TB, s workspace.Store, md *unreadModel, users []*workspace.User, step string) {
	tb.Helper()
	for _, u := range users {
		want := md.counts(u.ID)
		got := unread(tb, s, u)
		total := 0
		for _, n := range want {
			total += n
		}
		if !maps.Equal(got.Conversations, want) || got.Total != total {
			tb.Fatalf("%s: %s's unread = %v (total %d), want %v (total %d)", step, u.Username, got.Conversations, got.Total, want, total)
		}
		list, _, err := s.FindConversations(context.Background(), u.ID, workspace.ConversationFilter{Limit: 200})
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range list {
			if c.UnreadCount != want[c.ID] {
				tb.Fatalf("%s: %s's list shows %s with %d unread, want %d", step, u.Username, c.ID, c.UnreadCount, want[c.ID])
			}
		}
	}
}

func testUnread(t *testing.T, newStore NewStore) {
	// Ensure kept unread counts equal the rules through a long random run
	// of sends, deletes, reads of one message (old and new, deleted or
	// not), reads of a whole conversation, and finally a user's deletion.
	t.Run("UnreadModel", func(t *testing.T) {
		s := newStore(t)
		users := []*workspace.User{MustCreateUser(t, s, "ann", nil), MustCreateUser(t, s, "ben", nil), MustCreateUser(t, s, "cat", nil)}
		convs := []string{"general", "random",
			workspace.DirectConversation(users[0].ID, users[1].ID), workspace.DirectConversation(users[1].ID, users[2].ID)}
		md := &unreadModel{cursors: map[int]map[string]int{}}
		rng := rand.New(rand.NewPCG(6, 10))
		ctx := context.Background()
		for step := range 400 {
			u := users[rng.IntN(len(users))]
			conv := convs[rng.IntN(len(convs))]
			ref, _ := workspace.ParseConversation(conv)
			if !ref.CanRead(u.ID) {
				continue
			}
			var what string
			switch op := rng.IntN(10); {
			case op < 5 || len(md.msgs) == 0:
				what = "send"
				m := mustSend(t, s, u, conv, fmt.Sprint("m", step))
				md.sent(m, ref)
			case op < 6:
				m := md.msgs[rng.IntN(len(md.msgs))]
				if m.deleted {
					continue
				}
				what = fmt.Sprintf("delete %d", m.id)
				author := users[0]
				for _, x := range users {
					if x.ID == m.user {
						author = x
					}
				}
				if _, err := s.DeleteMessage(ctxAs(author), m.id); err != nil {
					t.Fatal(err)
				}
				m.deleted = true
			case op < 9:
				m := md.msgs[rng.IntN(len(md.msgs))]
				mref, _ := workspace.ParseConversation(m.conv)
				if !mref.CanRead(u.ID) {
					continue
				}
				what = fmt.Sprintf("%s reads %d", u.Username, m.id)
				if _, err := s.MarkMessageRead(ctx, u.ID, m.id); err != nil {
					t.Fatal(err)
				}
				if mref.Kind == workspace.KindChannel {
					md.readUpTo(u.ID, m.conv, m.id)
				} else if m.user != u.ID {
					m.isRead = true
				}
			default:
				what = fmt.Sprintf("%s reads %s", u.Username, conv)
				if err := s.MarkConversationRead(ctx, u.ID, conv); err != nil {
					t.Fatal(err)
				}
				for _, m := range md.msgs {
					if m.conv != conv {
						continue
					}
					if ref.Kind == workspace.KindChannel {
						md.readUpTo(u.ID, conv, m.id)
					} else if m.user != u.ID {
						m.isRead = true
					}
				}
			}
			checkUnread(t, s, md, users, fmt.Sprintf("step %d (%s)", step, what))
		}
		// Deleting ben takes his messages and his direct conversations.
		gone := users[1]
		if err := s.DeleteUser(ctxAs(users[0]), gone.ID); err != nil {
			t.Fatal(err)
		}
		md.msgs = slices.DeleteFunc(md.msgs, func(m *modelMessage) bool {
			ref, _ := workspace.ParseConversation(m.conv)
			return m.user == gone.ID || ref.Kind == workspace.KindDirect && ref.CanRead(gone.ID)
		})
		checkUnread(t, s, md, []*workspace.User{users[0], users[2]}, "after deleting ben")
	})

	// Ensure counts stay exact under concurrent sends, deletes and reads of
	// one conversation. Cursors only move forward and flags only flip once,
	// so the end state does not depend on the interleaving: the model is
	// built from what each call returned.
	t.Run("UnreadConcurrent", func(t *testing.T) {
		s := newStore(t)
		users := []*workspace.User{MustCreateUser(t, s, "ann", nil), MustCreateUser(t, s, "ben", nil), MustCreateUser(t, s, "cat", nil)}
		dm := workspace.DirectConversation(users[0].ID, users[1].ID)
		md := &unreadModel{cursors: map[int]map[string]int{}}
		var mu sync.Mutex // guards md
		var wg sync.WaitGroup
		for w, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				var mine []*modelMessage
				for i := range 40 {
					conv := "general"
					if w < 2 && i%3 == 0 {
						conv = dm
					}
					ref, _ := workspace.ParseConversation(conv)
					m := &workspace.Message{ConversationID: conv, Text: fmt.Sprint(u.Username, i)}
					if err := s.CreateMessage(ctxAs(u), m); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					md.sent(m, ref)
					mine = append(mine, md.msgs[len(md.msgs)-1])
					// Something someone else sent, to read.
					other := md.msgs[rng.IntN(len(md.msgs))]
					mu.Unlock()
					if i%5 == 4 { // delete one of mine
						d := mine[rng.IntN(len(mine))]
						mu.Lock()
						del := !d.deleted
						d.deleted = true
						mu.Unlock()
						if del {
							if _, err := s.DeleteMessage(ctxAs(u), d.id); err != nil {
								t.Error(err)
								return
							}
						}
					}
					oref, _ := workspace.ParseConversation(other.conv)
					if !oref.CanRead(u.ID) {
						continue
					}
					if _, err := s.MarkMessageRead(context.Background(), u.ID, other.id); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if oref.Kind == workspace.KindChannel {
						md.readUpTo(u.ID, other.conv, other.id)
					} else if other.user != u.ID {
						other.isRead = true
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		checkUnread(t, s, md, users, "after the concurrent run")
	})

	// Ensure whole-conversation reads running beside sends, by both users of
	// a direct conversation at once, neither fail (lock order: no deadlock)
	// nor lose a count: once everyone has read everything, every count is
	// 0, and the next message counts 1.
	t.Run("UnreadConcurrentReads", func(t *testing.T) {
		s := newStore(t)
		a, b := MustCreateUser(t, s, "ann", nil), MustCreateUser(t, s, "ben", nil)
		dm := workspace.DirectConversation(a.ID, b.ID)
		var wg sync.WaitGroup
		for _, u := range []*workspace.User{a, b} {
			for _, conv := range []string{dm, "general"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						if err := s.CreateMessage(ctxAs(u), &workspace.Message{ConversationID: conv, Text: fmt.Sprint(i)}); err != nil {
							t.Error(err)
							return
						}
						if err := s.MarkConversationRead(context.Background(), u.ID, conv); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, u := range []*workspace.User{a, b} {
			for _, conv := range []string{dm, "general"} {
				if err := s.MarkConversationRead(context.Background(), u.ID, conv); err != nil {
					t.Fatal(err)
				}
			}
			if n := unread(t, s, u); n.Total != 0 {
				t.Fatalf("%s after reading everything: %+v", u.Username, n)
			}
		}
		mustSend(t, s, a, dm, "last")
		mustSend(t, s, a, "general", "last")
		if n := unread(t, s, b); n.Total != 2 || n.Conversations[dm] != 1 || n.Conversations["general"] != 1 {
			t.Fatalf("ben after two more: %+v", n)
		}
	})
}
