package storetest

import (
	"context"
	"testing"
	"time"

	"workspace"
)

func testRealtime(t *testing.T, newStore NewStore) {
	// Ensure presence rows come and go, and expire by age.
	t.Run("Presence", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		ctx := context.Background()
		for _, p := range []struct {
			conn string
			user int
			inst string
		}{{"c1", a.ID, "i1"}, {"c2", a.ID, "i2"}, {"c3", b.ID, "i2"}} {
			if err := s.AddPresence(ctx, p.conn, p.user, p.inst); err != nil {
				t.Fatal(err)
			}
		}
		online, err := s.FindOnlineUsers(ctx, time.Now().Add(-time.Minute))
		if err != nil || len(online) != 2 || online[0].Username != "alice" || online[1].Username != "bob" {
			t.Fatalf("online = %+v, %v", online, err)
		}
		if err := s.RemovePresence(ctx, "c3"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemovePresence(ctx, "c3"); err != nil {
			t.Fatalf("removing twice: %v", err)
		}
		if online, _ := s.FindOnlineUsers(ctx, time.Now().Add(-time.Minute)); len(online) != 1 {
			t.Fatalf("after bob left: %+v", online)
		}
		if online, _ := s.FindOnlineUsers(ctx, time.Now().Add(time.Minute)); len(online) != 0 {
			t.Fatalf("rows not seen since the cutoff still count: %+v", online)
		}
		if err := s.TouchPresence(ctx, "i1"); err != nil {
			t.Fatal(err)
		}
	})

	// Ensure the message tail reads in id order, filtered by reader.
	t.Run("MessagesSince", func(t *testing.T) {
		s := newStore(t)
		a := MustCreateUser(t, s, "alice", nil)
		b := MustCreateUser(t, s, "bob", nil)
		c := MustCreateUser(t, s, "carol", nil)
		if id, err := s.LatestMessageID(context.Background()); err != nil || id != 0 {
			t.Fatalf("latest of none = %d, %v", id, err)
		}
		m1 := mustSend(t, s, a, "general", "one")
		m2 := mustSend(t, s, a, workspace.DirectConversation(a.ID, b.ID), "two")
		m3 := mustSend(t, s, b, "random", "three")
		all, err := s.FindMessagesSince(context.Background(), 0, m1.ID, 10)
		if err != nil || len(all) != 2 || all[0].ID != m2.ID || all[1].ID != m3.ID {
			t.Fatalf("since m1 = %v, %v", all, err)
		}
		carol, _ := s.FindMessagesSince(context.Background(), c.ID, 0, 10)
		if len(carol) != 2 || carol[0].ID != m1.ID || carol[1].ID != m3.ID {
			t.Fatalf("carol's tail = %v", carol)
		}
		if id, _ := s.LatestMessageID(context.Background()); id != m3.ID {
			t.Fatalf("latest = %d, want %d", id, m3.ID)
		}
	})
}
