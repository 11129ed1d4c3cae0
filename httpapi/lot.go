package httpapi

import (
	"context"
	"time"

	"workspace"
)

// LotListInput filters the lot list.
type LotListInput struct {
	Status       string    `query:"status" enum:"received,processing,completed,rejected," doc:"Only lots in this status."`
	ReceivedFrom time.Time `query:"received_from" doc:"Only lots received at or after this time (RFC 3339)."`
	ReceivedTo   time.Time `query:"received_to" doc:"Only lots received before this time (RFC 3339)."`
	Cursor       string    `query:"cursor" maxLength:"64"`
	Limit        int       `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// LotListOutput is one page of lots, newest first.
type LotListOutput struct {
	Body struct {
		Lots       []*workspace.Lot `json:"lots"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}
}

// handleLotList: lots are a team resource, every signed-in user lists them.
func (s *Server) handleLotList(ctx context.Context, in *LotListInput) (*LotListOutput, error) {
	f := workspace.LotFilter{Cursor: in.Cursor, Limit: in.Limit}
	if in.Status != "" {
		st := workspace.LotStatus(in.Status)
		f.Status = &st
	}
	if !in.ReceivedFrom.IsZero() {
		f.ReceivedFrom = &in.ReceivedFrom
	}
	if !in.ReceivedTo.IsZero() {
		f.ReceivedTo = &in.ReceivedTo
	}
	lots, next, err := s.Store.FindLots(ctx, f)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &LotListOutput{}
	out.Body.Lots, out.Body.NextCursor = lots, next
	if out.Body.Lots == nil {
		out.Body.Lots = []*workspace.Lot{}
	}
	return out, nil
}

// LotCreateInput records a received lot. Who received it is the caller;
// id, user_id, processed_at and the timestamps are not writable.
type LotCreateInput struct {
	Body struct {
		Status      string     `json:"status,omitempty" enum:"received" doc:"A new lot is always received (the default)."`
		ItemCount   int        `json:"item_count" minimum:"1" maximum:"2147483647"`
		Description *string    `json:"description,omitempty" maxLength:"10000"`
		ReceivedAt  *time.Time `json:"received_at,omitempty" doc:"When the goods arrived (RFC 3339; default: now)."`
	}
}

// LotOutput answers with one lot.
type LotOutput struct {
	Body *workspace.Lot
}

func (s *Server) handleLotCreate(ctx context.Context, in *LotCreateInput) (*LotOutput, error) {
	b := in.Body
	l := &workspace.Lot{
		UserID:      workspace.ActorFromContext(ctx).UserID,
		Status:      workspace.LotStatus(b.Status),
		ItemCount:   b.ItemCount,
		Description: b.Description,
	}
	if b.ReceivedAt != nil {
		l.ReceivedAt = *b.ReceivedAt
	}
	if err := s.Store.CreateLot(ctx, l); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeLotCreated, ID: l.ID})
	return &LotOutput{Body: l}, nil
}

// LotIDInput names a lot.
type LotIDInput struct {
	ID int `path:"id" minimum:"1" maximum:"2147483647"`
}

func (s *Server) handleLotGet(ctx context.Context, in *LotIDInput) (*LotOutput, error) {
	l, err := s.Store.FindLotByID(ctx, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &LotOutput{Body: l}, nil
}

// LotUpdateInput changes a lot: its status (a move of the status machine,
// by anyone) or its item count and description (by the receiver or an
// admin).
type LotUpdateInput struct {
	ID   int `path:"id" minimum:"1" maximum:"2147483647"`
	Body struct {
		Status      *string `json:"status,omitempty" enum:"received,processing,completed,rejected" doc:"received → processing → completed or rejected; received → rejected. Anything else is 409."`
		ItemCount   *int    `json:"item_count,omitempty" minimum:"1" maximum:"2147483647" doc:"Receiver or admin only."`
		Description *string `json:"description,omitempty" maxLength:"10000" doc:"Receiver or admin only; empty string removes it."`
	}
}

func (s *Server) handleLotUpdate(ctx context.Context, in *LotUpdateInput) (*LotOutput, error) {
	b := in.Body
	upd := workspace.LotUpdate{ItemCount: b.ItemCount, Description: b.Description}
	if b.Status != nil {
		st := workspace.LotStatus(*b.Status)
		upd.Status = &st
	}
	l, err := s.Store.UpdateLot(ctx, in.ID, upd)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeLotUpdated, ID: l.ID})
	return &LotOutput{Body: l}, nil
}

func (s *Server) handleLotDelete(ctx context.Context, in *LotIDInput) (*struct{}, error) {
	if err := s.Store.DeleteLot(ctx, in.ID); err != nil {
		return nil, s.Error(ctx, err)
	}
	return nil, nil
}
