package workspace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"workspace"
)

// TestLotTransition checks every pair of statuses against the machine
// received → processing → completed | rejected, received → rejected.
func TestLotTransition(t *testing.T) {
	legal := map[[2]workspace.LotStatus]bool{
		{workspace.LotReceived, workspace.LotProcessing}:  true,
		{workspace.LotReceived, workspace.LotRejected}:    true,
		{workspace.LotProcessing, workspace.LotCompleted}: true,
		{workspace.LotProcessing, workspace.LotRejected}:  true,
	}
	for _, from := range workspace.LotStatuses {
		for _, to := range workspace.LotStatuses {
			err := workspace.LotTransition(from, to)
			if legal[[2]workspace.LotStatus{from, to}] {
				if err != nil {
					t.Errorf("%s → %s: %v", from, to, err)
				}
				continue
			}
			if workspace.ErrorCode(err) != workspace.ECONFLICT || !strings.Contains(workspace.ErrorMessage(err), `"`+string(from)+`"`) {
				t.Errorf("%s → %s: %v, want ECONFLICT naming %q", from, to, err, from)
			}
		}
	}
}

func TestApplyLotUpdate(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	receiver := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: 7, Role: workspace.RoleUser})
	teammate := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: 8, Role: workspace.RoleUser})
	admin := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: 9, Role: workspace.RoleAdmin})
	newLot := func() *workspace.Lot {
		return &workspace.Lot{ID: 1, UserID: 7, Status: workspace.LotReceived, ItemCount: 3}
	}
	st := func(s workspace.LotStatus) *workspace.LotStatus { return &s }
	n := func(v int) *int { return &v }

	// A teammate moves the status; the final one sets processed_at.
	l := newLot()
	audits, err := workspace.ApplyLotUpdate(teammate, l, workspace.LotUpdate{Status: st(workspace.LotRejected)}, now)
	if err != nil || len(audits) != 1 || audits[0].Action != workspace.ActionLotStatusChange || l.ProcessedAt == nil || !l.ProcessedAt.Equal(now) {
		t.Fatalf("teammate rejects: %v, %v, %+v", audits, err, l)
	}
	// Only the receiver or an admin edits the count.
	if _, err := workspace.ApplyLotUpdate(teammate, newLot(), workspace.LotUpdate{ItemCount: n(4)}, now); workspace.ErrorCode(err) != workspace.EFORBIDDEN {
		t.Fatalf("teammate edits count: %v", err)
	}
	for _, ctx := range []context.Context{receiver, admin} {
		l := newLot()
		audits, err := workspace.ApplyLotUpdate(ctx, l, workspace.LotUpdate{ItemCount: n(4)}, now)
		if err != nil || len(audits) != 1 || l.ItemCount != 4 || !l.UpdatedAt.Equal(now) {
			t.Fatalf("edit count: %v, %v, %+v", audits, err, l)
		}
	}
	// Nothing to change, nothing to audit.
	if audits, err := workspace.ApplyLotUpdate(receiver, newLot(), workspace.LotUpdate{ItemCount: n(3), Description: new(string)}, now); err != nil || len(audits) != 0 {
		t.Fatalf("no-op: %v, %v", audits, err)
	}
	// The system (no user) is neither receiver nor admin.
	if workspace.CanEditLot(workspace.Actor{}, &workspace.Lot{}) {
		t.Fatal("the zero actor may edit a lot with no receiver")
	}
}

func TestPrepareNewLot(t *testing.T) {
	ctx := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: 7})
	l := &workspace.Lot{ItemCount: 1}
	if err := workspace.PrepareNewLot(ctx, l); err != nil || l.Status != workspace.LotReceived || l.UserID != 7 {
		t.Fatalf("defaults: %+v, %v", l, err)
	}
	for _, tc := range []struct {
		l     workspace.Lot
		field string
	}{
		{workspace.Lot{ItemCount: 0}, "item_count"},
		{workspace.Lot{ItemCount: -1}, "item_count"},
		{workspace.Lot{ItemCount: workspace.MaxItemCount + 1}, "item_count"},
		{workspace.Lot{ItemCount: 1, Status: "done"}, "status"},
		{workspace.Lot{ItemCount: 1, Status: workspace.LotProcessing}, "status"},
		{workspace.Lot{ItemCount: 1, Description: ptr(strings.Repeat("x", workspace.MaxLotDescriptionLen+1))}, "description"},
		{workspace.Lot{ItemCount: 1, Description: ptr("\x00")}, "description"},
		{workspace.Lot{ItemCount: 1, Description: ptr("\xff")}, "description"},
	} {
		err := workspace.PrepareNewLot(ctx, &tc.l)
		if e, ok := err.(*workspace.Error); !ok || e.Code != workspace.EINVALID || e.Fields[0].Field != tc.field {
			t.Errorf("%+v: %v, want EINVALID on %s", tc.l, err, tc.field)
		}
	}
}

func ptr[T any](v T) *T { return &v }
