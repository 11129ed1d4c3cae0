package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"workspace"
)

// MustCreateLot creates a received lot of n items, received by u.
func MustCreateLot(tb testing.TB, s workspace.Store, u *workspace.User, n int) *workspace.Lot {
	tb.Helper()
	l := &workspace.Lot{ItemCount: n}
	if err := s.CreateLot(ctxAs(u), l); err != nil {
		tb.Fatalf("CreateLot: %v", err)
	}
	return l
}

// auditsOf returns the audit rows of action whose metadata has key = id.
func auditsOf(tb testing.TB, s workspace.Store, action, key string, id int) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range mustLogs(tb, s, workspace.ActivityFilter{Action: &action}) {
		var m map[string]any
		if err := json.Unmarshal(l.Metadata, &m); err != nil {
			tb.Fatalf("metadata of %s: %v", action, err)
		}
		if v, ok := m[key].(float64); ok && int(v) == id {
			out = append(out, m)
		}
	}
	return out
}

// moveLot takes a new lot along the legal path to status.
func moveLot(tb testing.TB, s workspace.Store, u *workspace.User, id int, to workspace.LotStatus) {
	tb.Helper()
	path := map[workspace.LotStatus][]workspace.LotStatus{
		workspace.LotProcessing: {workspace.LotProcessing},
		workspace.LotCompleted:  {workspace.LotProcessing, workspace.LotCompleted},
		workspace.LotRejected:   {workspace.LotRejected},
	}[to]
	for _, st := range path {
		if _, err := s.UpdateLot(ctxAs(u), id, workspace.LotUpdate{Status: ptr(st)}); err != nil {
			tb.Fatalf("move lot %d to %s: %v", id, st, err)
		}
	}
}

func testLot(t *testing.T, newStore NewStore) {
	// Ensure a new lot is received, by its creator, now, and reads back alike.
	t.Run("CreateOK", func(t *testing.T) {
		s := newStore(t)
		MustCreateUser(t, s, "admin", nil)
		bob := MustCreateUser(t, s, "bob", nil)
		before := workspace.Now()
		l := &workspace.Lot{ItemCount: 12, Description: ptr("pallets, 2 damaged ✓")}
		if err := s.CreateLot(ctxAs(bob), l); err != nil {
			t.Fatal(err)
		}
		if l.ID == 0 || l.UserID != bob.ID || l.Status != workspace.LotReceived || l.ProcessedAt != nil ||
			l.ReceivedAt.Before(before) || l.ReceivedAt.Location() != time.UTC {
			t.Fatalf("created = %+v", l)
		}
		got, err := s.FindLotByID(context.Background(), l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Fatalf("read back differs (-created +read):\n%s", diff)
		}

		// An explicit received_at in another zone is kept, in UTC, to the microsecond.
		at := time.Date(2024, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
		l2 := &workspace.Lot{ItemCount: 1, ReceivedAt: at, Status: workspace.LotReceived}
		if err := s.CreateLot(ctxAs(bob), l2); err != nil {
			t.Fatal(err)
		}
		got, _ = s.FindLotByID(context.Background(), l2.ID)
		if want := at.UTC().Truncate(time.Microsecond); !got.ReceivedAt.Equal(want) || got.ReceivedAt.Location() != time.UTC {
			t.Fatalf("received_at = %v, want %v", got.ReceivedAt, want)
		}
		if rows := auditsOf(t, s, workspace.ActionLotCreate, "lot_id", l.ID); len(rows) != 1 {
			t.Fatalf("lot.create rows = %v", rows)
		}
		_, err = s.FindLotByID(context.Background(), 999999)
		wantCode(t, err, workspace.ENOTFOUND)
	})

	// Ensure the seed's CHECKs and the API's bounds are refused before SQL.
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newStore(t)
		bob := MustCreateUser(t, s, "bob", nil)
		for name, l := range map[string]*workspace.Lot{
			"ItemCountZero":     {ItemCount: 0},
			"ItemCountNegative": {ItemCount: -3},
			"ItemCountTooBig":   {ItemCount: workspace.MaxItemCount + 1},
			"StatusUnknown":     {ItemCount: 1, Status: "lost"},
			"StatusNotReceived": {ItemCount: 1, Status: workspace.LotCompleted},
			"DescriptionLong":   {ItemCount: 1, Description: ptr(strings.Repeat("é", workspace.MaxLotDescriptionLen+1))},
			"DescriptionNUL":    {ItemCount: 1, Description: ptr("a\x00b")},
			"ReceivedAtYear":    {ItemCount: 1, ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		} {
			t.Run(name, func(t *testing.T) {
				err := s.CreateLot(ctxAs(bob), l)
				wantCode(t, err, workspace.EINVALID)
				if e := err.(*workspace.Error); len(e.Fields) == 0 {
					t.Fatalf("no field named: %v", e)
				}
			})
		}
		wantCode(t, s.CreateLot(ctxAs(bob), &workspace.Lot{ItemCount: 1, UserID: 999999}), workspace.ENOTFOUND)
		wantCode(t, s.CreateLot(ctxAs(nil), &workspace.Lot{ItemCount: 1}), workspace.EINVALID) // no receiver
		lots, _, err := s.FindLots(context.Background(), workspace.LotFilter{})
		if err != nil || len(lots) != 0 {
			t.Fatalf("lots = %d, %v; want none stored", len(lots), err)
		}
		_, err = s.UpdateLot(ctxAs(bob), 1, workspace.LotUpdate{ItemCount: ptr(0)})
		wantCode(t, err, workspace.EINVALID)
		_, err = s.UpdateLot(ctxAs(bob), 1, workspace.LotUpdate{Status: ptr(workspace.LotStatus("lost"))})
		wantCode(t, err, workspace.EINVALID)
	})

	// Ensure every pair of statuses follows the status machine: the four
	// legal moves succeed (processed_at set on reaching a final status),
	// every other one, the same status included, is ECONFLICT naming the
	// current status and changes nothing.
	t.Run("Transitions", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		legal := map[[2]workspace.LotStatus]bool{
			{workspace.LotReceived, workspace.LotProcessing}:  true,
			{workspace.LotReceived, workspace.LotRejected}:    true,
			{workspace.LotProcessing, workspace.LotCompleted}: true,
			{workspace.LotProcessing, workspace.LotRejected}:  true,
		}
		for _, from := range workspace.LotStatuses {
			for _, to := range workspace.LotStatuses {
				t.Run(string(from)+"To"+string(to), func(t *testing.T) {
					l := MustCreateLot(t, s, u, 5)
					moveLot(t, s, u, l.ID, from)
					before, _ := s.FindLotByID(context.Background(), l.ID)
					got, err := s.UpdateLot(ctxAs(u), l.ID, workspace.LotUpdate{Status: ptr(to)})
					if !legal[[2]workspace.LotStatus{from, to}] {
						wantCode(t, err, workspace.ECONFLICT)
						if msg := workspace.ErrorMessage(err); !strings.Contains(msg, `"`+string(from)+`"`) {
							t.Fatalf("message %q does not name the current status %q", msg, from)
						}
						after, _ := s.FindLotByID(context.Background(), l.ID)
						if diff := cmp.Diff(before, after); diff != "" {
							t.Fatalf("refused transition changed the lot:\n%s", diff)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != to || (got.ProcessedAt != nil) != to.Final() {
						t.Fatalf("after %s→%s: status %s, processed_at %v", from, to, got.Status, got.ProcessedAt)
					}
					if to.Final() && !got.ProcessedAt.Equal(got.UpdatedAt) {
						t.Fatalf("processed_at %v, updated_at %v", got.ProcessedAt, got.UpdatedAt)
					}
					read, _ := s.FindLotByID(context.Background(), l.ID)
					if diff := cmp.Diff(got, read); diff != "" {
						t.Fatalf("read back (-returned +read):\n%s", diff)
					}
					rows := auditsOf(t, s, workspace.ActionLotStatusChange, "lot_id", l.ID)
					if len(rows) == 0 || rows[0]["from"] != string(from) || rows[0]["to"] != string(to) {
						t.Fatalf("lot.status_change rows = %v", rows)
					}
				})
			}
		}
	})

	// Ensure concurrent transitions of one lot cannot both succeed.
	t.Run("ConcurrentTransitions", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		// Every request of a round asks for the same move, so whatever order
		// they run in, one can succeed (a second processing→rejected would be
		// legal). Several rounds: the first also warms the connection pool,
		// so the later ones really overlap.
		for round := range 6 {
			l := MustCreateLot(t, s, u, 5)
			to := workspace.LotProcessing
			if round%2 == 1 {
				to = workspace.LotRejected
			}
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{}) // release every goroutine at once
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = s.UpdateLot(ctxAs(u), l.ID, workspace.LotUpdate{Status: ptr(to)})
				}()
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
				} else if workspace.ErrorCode(err) != workspace.ECONFLICT {
					t.Fatalf("loser's error = %v, want ECONFLICT", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d transitions from received to %s succeeded, want exactly 1", wins, to)
			}
			if rows := auditsOf(t, s, workspace.ActionLotStatusChange, "lot_id", l.ID); len(rows) != 1 {
				t.Fatalf("lot.status_change rows = %d, want 1", len(rows))
			}
		}
	})

	// Ensure the receiver or an admin edits the item count and description;
	// anyone moves the status; a no-op writes nothing.
	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		bob := MustCreateUser(t, s, "bob", nil)
		carol := MustCreateUser(t, s, "carol", nil)
		l := MustCreateLot(t, s, bob, 5)

		got, err := s.UpdateLot(ctxAs(bob), l.ID, workspace.LotUpdate{ItemCount: ptr(6), Description: ptr("six")})
		if err != nil || got.ItemCount != 6 || got.Description == nil || *got.Description != "six" {
			t.Fatalf("receiver's edit: %+v, %v", got, err)
		}
		_, err = s.UpdateLot(ctxAs(carol), l.ID, workspace.LotUpdate{ItemCount: ptr(1)})
		wantCode(t, err, workspace.EFORBIDDEN)
		_, err = s.UpdateLot(ctxAs(carol), l.ID, workspace.LotUpdate{Description: ptr("")})
		wantCode(t, err, workspace.EFORBIDDEN)
		if cur, _ := s.FindLotByID(context.Background(), l.ID); cur.ItemCount != 6 || cur.Description == nil {
			t.Fatalf("refused edit stored: %+v", cur)
		}
		got, err = s.UpdateLot(ctxAs(admin), l.ID, workspace.LotUpdate{Description: ptr("")})
		if err != nil || got.Description != nil {
			t.Fatalf("admin clears description: %+v, %v", got, err)
		}
		if got, err = s.UpdateLot(ctxAs(carol), l.ID, workspace.LotUpdate{Status: ptr(workspace.LotProcessing)}); err != nil || got.Status != workspace.LotProcessing {
			t.Fatalf("teammate moves status: %+v, %v", got, err)
		}
		if _, err := s.UpdateLot(ctxAs(bob), l.ID, workspace.LotUpdate{ItemCount: ptr(6)}); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateLot(ctxAs(bob), 999999, workspace.LotUpdate{ItemCount: ptr(1)})
		wantCode(t, err, workspace.ENOTFOUND)

		updates := auditsOf(t, s, workspace.ActionLotUpdate, "lot_id", l.ID)
		if len(updates) != 2 { // the no-op and the refusals wrote nothing
			t.Fatalf("lot.update rows = %v, want 2", updates)
		}
		if changed := updates[1]["changed"]; cmp.Diff([]any{"item_count", "description"}, changed) != "" {
			t.Fatalf("changed = %v", changed)
		}
		if n := len(auditsOf(t, s, workspace.ActionLotStatusChange, "lot_id", l.ID)); n != 1 {
			t.Fatalf("lot.status_change rows = %d", n)
		}
	})

	// Ensure lists filter by status and received range and page newest first.
	t.Run("FindLotsFiltered", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
		var ids []int
		for i := range 5 {
			l := &workspace.Lot{ItemCount: i + 1, ReceivedAt: day.Add(time.Duration(i) * 24 * time.Hour)}
			if err := s.CreateLot(ctxAs(u), l); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, l.ID)
		}
		moveLot(t, s, u, ids[1], workspace.LotProcessing)
		moveLot(t, s, u, ids[3], workspace.LotProcessing)
		find := func(f workspace.LotFilter) []int {
			t.Helper()
			lots, _, err := s.FindLots(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, l := range lots {
				got = append(got, l.ID)
			}
			return got
		}
		if diff := cmp.Diff([]int{ids[3], ids[1]}, find(workspace.LotFilter{Status: ptr(workspace.LotProcessing)})); diff != "" {
			t.Fatalf("status filter (-want +got):\n%s", diff)
		}
		from, to := day.Add(24*time.Hour), day.Add(3*24*time.Hour) // [day 1, day 3)
		if diff := cmp.Diff([]int{ids[2], ids[1]}, find(workspace.LotFilter{ReceivedFrom: &from, ReceivedTo: &to})); diff != "" {
			t.Fatalf("range filter (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int{ids[1]}, find(workspace.LotFilter{ReceivedFrom: &from, ReceivedTo: &to, Status: ptr(workspace.LotProcessing)})); diff != "" {
			t.Fatalf("both filters (-want +got):\n%s", diff)
		}
		var got []int
		cursor := ""
		for {
			page, next, err := s.FindLots(context.Background(), workspace.LotFilter{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page {
				got = append(got, l.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if diff := cmp.Diff([]int{ids[4], ids[3], ids[2], ids[1], ids[0]}, got); diff != "" {
			t.Fatalf("paged ids (-want +got):\n%s", diff)
		}
		_, _, err := s.FindLots(context.Background(), workspace.LotFilter{Cursor: "garbage"})
		wantCode(t, err, workspace.EINVALID)
		_, _, err = s.FindLots(context.Background(), workspace.LotFilter{Status: ptr(workspace.LotStatus("lost"))})
		wantCode(t, err, workspace.EINVALID)
	})

	// Ensure only admins delete lots, and a user who received lots cannot
	// be deleted until they are gone.
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		bob := MustCreateUser(t, s, "bob", nil)
		l := MustCreateLot(t, s, bob, 3)

		err := s.DeleteUser(ctxAs(admin), bob.ID)
		wantCode(t, err, workspace.ECONFLICT)
		if msg := workspace.ErrorMessage(err); !strings.Contains(msg, "lot") {
			t.Fatalf("message %q does not say why", msg)
		}
		wantCode(t, s.DeleteLot(ctxAs(bob), l.ID), workspace.EFORBIDDEN)
		if _, err := s.FindLotByID(context.Background(), l.ID); err != nil {
			t.Fatalf("refused delete removed the lot: %v", err)
		}
		if err := s.DeleteLot(ctxAs(admin), l.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindLotByID(context.Background(), l.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		wantCode(t, s.DeleteLot(ctxAs(admin), l.ID), workspace.ENOTFOUND)
		if rows := auditsOf(t, s, workspace.ActionLotDelete, "lot_id", l.ID); len(rows) != 1 {
			t.Fatalf("lot.delete rows = %v", rows)
		}
		if err := s.DeleteUser(ctxAs(admin), bob.ID); err != nil {
			t.Fatalf("delete user without lots: %v", err)
		}
	})

	// Ensure each mutation writes exactly one audit row per change, by the actor.
	t.Run("OneAuditPerMutation", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		l := MustCreateLot(t, s, admin, 2)
		if _, err := s.UpdateLot(ctxAs(admin), l.ID, workspace.LotUpdate{Status: ptr(workspace.LotRejected), ItemCount: ptr(3)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLot(ctxAs(admin), l.ID); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, row := range mustLogs(t, s, workspace.ActivityFilter{Action: ptr("lot.*")}) {
			got[row.Action]++
			if row.UserID == nil || *row.UserID != admin.ID {
				t.Fatalf("row %s by %v, want the actor %d", row.Action, row.UserID, admin.ID)
			}
		}
		want := map[string]int{"lot.create": 1, "lot.status_change": 1, "lot.update": 1, "lot.delete": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("audit rows (-want +got):\n%s", diff)
		}
	})
}
