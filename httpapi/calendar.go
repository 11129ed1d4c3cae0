package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"workspace"
)

// EventListInput selects the caller's events overlapping [from, to).
type EventListInput struct {
	From   time.Time `query:"from" doc:"RFC 3339; events ending after it."`
	To     time.Time `query:"to" doc:"RFC 3339; events starting before it."`
	Cursor string    `query:"cursor" maxLength:"128"`
	Limit  int       `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
}

// EventListOutput is a page of events, by start time.
type EventListOutput struct {
	Body struct {
		Events     []*workspace.CalendarEvent `json:"events"`
		NextCursor string                     `json:"next_cursor,omitempty"`
	}
}

func (s *Server) handleEventList(ctx context.Context, in *EventListInput) (*EventListOutput, error) {
	u := workspace.ActorFromContext(ctx).UserID
	f := workspace.CalendarEventFilter{Cursor: in.Cursor, Limit: in.Limit}
	if !in.From.IsZero() {
		f.From = &in.From
	}
	if !in.To.IsZero() {
		f.To = &in.To
	}
	if f.From != nil && f.To != nil && !f.To.After(*f.From) {
		return nil, s.Error(ctx, workspace.Invalid("to", "must be after from"))
	}
	list, next, err := s.Store.FindCalendarEvents(ctx, u, f)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &EventListOutput{}
	out.Body.Events, out.Body.NextCursor = nonNil(list), next
	return out, nil
}

func (s *Server) handleEventPending(ctx context.Context, in *PageInput) (*EventListOutput, error) {
	u := workspace.ActorFromContext(ctx).UserID
	list, next, err := s.Store.FindPendingEvents(ctx, u, in.Cursor, in.Limit)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &EventListOutput{}
	out.Body.Events, out.Body.NextCursor = nonNil(list), next
	return out, nil
}

// EventCreateInput creates an event.
type EventCreateInput struct {
	Body struct {
		Title       string    `json:"title" minLength:"1" maxLength:"255"`
		Description *string   `json:"description,omitempty" maxLength:"10000"`
		StartTime   time.Time `json:"start_time" doc:"RFC 3339."`
		EndTime     time.Time `json:"end_time" doc:"RFC 3339; after start_time."`
		Location    *string   `json:"location,omitempty" maxLength:"255"`
		Attendees   []string  `json:"attendees,omitempty" maxItems:"100" doc:"Usernames or emails."`
	}
}

// EventOutput answers with one event.
type EventOutput struct {
	Body *workspace.CalendarEvent
}

func (s *Server) handleEventCreate(ctx context.Context, in *EventCreateInput) (*EventOutput, error) {
	b := in.Body
	e := &workspace.CalendarEvent{Title: b.Title, Description: b.Description, StartTime: b.StartTime, EndTime: b.EndTime,
		Location: b.Location, Attendees: b.Attendees}
	if err := s.Store.CreateCalendarEvent(ctx, e); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeEventCreated, ID: e.ID})
	return &EventOutput{Body: e}, nil
}

// EventIDInput names an event.
type EventIDInput struct {
	ID int `path:"id" minimum:"1" maximum:"2147483647"`
}

func (s *Server) handleEventGet(ctx context.Context, in *EventIDInput) (*EventOutput, error) {
	u := workspace.ActorFromContext(ctx).UserID
	e, err := s.Store.FindCalendarEventByID(ctx, u, in.ID)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &EventOutput{Body: e}, nil
}

// EventUpdateInput changes an event; an empty description or location
// clears it.
type EventUpdateInput struct {
	ID   int `path:"id" minimum:"1" maximum:"2147483647"`
	Body struct {
		Title       *string    `json:"title,omitempty" minLength:"1" maxLength:"255"`
		Description *string    `json:"description,omitempty" maxLength:"10000"`
		StartTime   *time.Time `json:"start_time,omitempty"`
		EndTime     *time.Time `json:"end_time,omitempty"`
		Location    *string    `json:"location,omitempty" maxLength:"255"`
		Attendees   *[]string  `json:"attendees,omitempty" maxItems:"100"`
	}
}

func (s *Server) handleEventUpdate(ctx context.Context, in *EventUpdateInput) (*EventOutput, error) {
	b := in.Body
	e, err := s.Store.UpdateCalendarEvent(ctx, in.ID, workspace.CalendarEventUpdate{Title: b.Title, Description: b.Description,
		StartTime: b.StartTime, EndTime: b.EndTime, Location: b.Location, Attendees: b.Attendees})
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeEventUpdated, ID: e.ID})
	return &EventOutput{Body: e}, nil
}

func (s *Server) handleEventDelete(ctx context.Context, in *EventIDInput) (*struct{}, error) {
	if err := s.Store.DeleteCalendarEvent(ctx, in.ID); err != nil {
		return nil, s.Error(ctx, err)
	}
	s.publish(ctx, workspace.Change{Kind: workspace.ChangeEventDeleted, ID: in.ID})
	return nil, nil
}

// FeedOutput answers a feed rotation with the new secret URL.
type FeedOutput struct {
	Body struct {
		URL   string `json:"url" doc:"Path of the feed; calendar apps subscribe to it without a bearer token. Shown once."`
		Token string `json:"token"`
	}
}

func (s *Server) handleCalendarFeedRotate(ctx context.Context, _ *struct{}) (*FeedOutput, error) {
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	if err := s.Store.SetCalendarFeedToken(ctx, workspace.ActorFromContext(ctx).UserID, sum[:]); err != nil {
		return nil, s.Error(ctx, err)
	}
	out := &FeedOutput{}
	out.Body.URL, out.Body.Token = "/api/v1/calendar/feeds/"+token+".ics", token
	return out, nil
}
