package workspace

import (
	"context"
	"slices"
	"strings"
	"time"
)

// CalendarEvent is a calendar entry (the seed's events table; "Event" alone
// would be ambiguous next to realtime events).
type CalendarEvent struct {
	ID          int       `json:"id"`
	UserID      int       `json:"user_id"`
	Title       string    `json:"title"`
	Description *string   `json:"description"`
	StartTime   time.Time `json:"start_time"`
	EndTime     time.Time `json:"end_time"`
	Location    *string   `json:"location"`
	Attendees   []string  `json:"attendees" doc:"Usernames or emails (stored lowercase)."`
	// AttendeeIDs are the accounts the attendees named when the event was
	// last written (see migration 00006); only they, and the owner, read it.
	// Loaded by LoadCalendarEvent only.
	AttendeeIDs []int      `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

// Calendar limits.
const (
	MaxTitleLen       = 255
	MaxLocationLen    = 255
	MaxDescriptionLen = 10_000
	MaxAttendees      = 100
)

// Events must fall between these years: the SQLite text form of a time
// sorts correctly only with four-digit years.
var (
	minEventTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// NormalizeAttendees lowercases, trims and de-duplicates attendees.
func NormalizeAttendees(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, a := range in {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// Validate checks an event against the seed's CHECKs (title_length,
// end_after_start) and the column widths. Call NormalizeAttendees first.
func (e *CalendarEvent) Validate() error {
	var v Validation
	ValidateText(&v, "title", e.Title, MaxTitleLen, true)
	if e.Description != nil {
		ValidateText(&v, "description", *e.Description, MaxDescriptionLen, false)
	}
	if e.Location != nil {
		ValidateText(&v, "location", *e.Location, MaxLocationLen, false)
	}
	switch {
	case e.StartTime.Before(minEventTime) || e.StartTime.After(maxEventTime):
		v.Add("start_time", "must be between the years 1900 and 9999")
	case e.EndTime.Before(minEventTime) || e.EndTime.After(maxEventTime):
		v.Add("end_time", "must be between the years 1900 and 9999")
	case !e.EndTime.After(e.StartTime):
		v.Add("end_time", "must be after start_time")
	}
	if len(e.Attendees) > MaxAttendees {
		v.Add("attendees", "at most %d attendees", MaxAttendees)
	}
	for _, a := range e.Attendees {
		var av Validation
		if strings.Contains(a, "@") {
			ValidateEmail(&av, a)
		} else {
			ValidateUsername(&av, a)
		}
		if av.Err() != nil {
			v.Add("attendees", "%q is neither a username nor an email address", a)
			break
		}
	}
	return v.Err()
}

// CanRead reports whether userID owns the event or was bound to it as an
// attendee (AttendeeIDs must be loaded).
func (e *CalendarEvent) CanRead(userID int) bool {
	return userID == e.UserID || slices.Contains(e.AttendeeIDs, userID)
}

// CalendarEventUpdate changes the non-nil fields. Empty Description or
// Location clear them.
type CalendarEventUpdate struct {
	Title       *string
	Description *string
	StartTime   *time.Time
	EndTime     *time.Time
	Location    *string
	Attendees   *[]string
}

// Apply applies upd to e and returns the names of the changed fields.
func (upd CalendarEventUpdate) Apply(e *CalendarEvent) []string {
	var changed []string
	if upd.Title != nil && *upd.Title != e.Title {
		e.Title, changed = *upd.Title, append(changed, "title")
	}
	if upd.Description != nil {
		e.Description, changed = emptyNil(*upd.Description), append(changed, "description")
	}
	if upd.Location != nil {
		e.Location, changed = emptyNil(*upd.Location), append(changed, "location")
	}
	if upd.StartTime != nil {
		e.StartTime, changed = Truncate(*upd.StartTime), append(changed, "start_time")
	}
	if upd.EndTime != nil {
		e.EndTime, changed = Truncate(*upd.EndTime), append(changed, "end_time")
	}
	if upd.Attendees != nil {
		e.Attendees, changed = NormalizeAttendees(*upd.Attendees), append(changed, "attendees")
	}
	return changed
}

func emptyNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CalendarEventFilter selects the events a reader owns or attends that
// overlap [From, To), ordered by start time.
type CalendarEventFilter struct {
	From, To *time.Time
	Cursor   string
	Limit    int
}

// CalendarEventStore persists the calendar. An event is visible to its
// owner and to the accounts its attendees named when it was written.
type CalendarEventStore interface {
	// CreateCalendarEvent stores e for the actor (fills ID, UserID,
	// timestamps). Returns EINVALID.
	CreateCalendarEvent(ctx context.Context, e *CalendarEvent) error
	// FindCalendarEventByID returns ENOTFOUND if there is no such live
	// event or readerID neither owns nor attends it.
	FindCalendarEventByID(ctx context.Context, readerID, id int) (*CalendarEvent, error)
	// FindCalendarEvents returns a page of readerID's events overlapping the
	// range, by start time, and the next cursor. EINVALID for a bad cursor.
	FindCalendarEvents(ctx context.Context, readerID int, f CalendarEventFilter) ([]*CalendarEvent, string, error)
	// FindPendingEvents reads the pending_events view (upcoming, live) for
	// readerID, by start time.
	FindPendingEvents(ctx context.Context, readerID int, cursor string, limit int) ([]*CalendarEvent, string, error)
	// UpdateCalendarEvent applies upd (owner only). Returns ENOTFOUND
	// (also for an attendee), EINVALID.
	UpdateCalendarEvent(ctx context.Context, id int, upd CalendarEventUpdate) (*CalendarEvent, error)
	// DeleteCalendarEvent soft-deletes an event (owner only). ENOTFOUND.
	DeleteCalendarEvent(ctx context.Context, id int) error
	// LoadCalendarEvent returns an event whoever owns it, deleted or not,
	// for server-side fan-out. Returns ENOTFOUND.
	LoadCalendarEvent(ctx context.Context, id int) (*CalendarEvent, error)
	// SetCalendarFeedToken stores the hash of userID's secret feed token,
	// replacing the previous one.
	SetCalendarFeedToken(ctx context.Context, userID int, tokenHash []byte) error
	// FindUserByCalendarFeedToken returns ENOTFOUND for an unknown token.
	FindUserByCalendarFeedToken(ctx context.Context, tokenHash []byte) (*User, error)
}

// Calendar audit actions.
const (
	ActionEventCreate     = "event.create"
	ActionEventUpdate     = "event.update"
	ActionEventDelete     = "event.delete"
	ActionCalendarFeedNew = "calendar.feed_rotate"
)

// EventAudit is the audit row of a calendar change.
func EventAudit(action string, e *CalendarEvent, changed []string) Audit {
	meta := map[string]any{"event_id": e.ID}
	if changed != nil {
		meta["changed"] = changed
	}
	return Audit{Action: action, Metadata: meta}
}

// PaginateEvents trims events fetched with limit+1 rows and returns the
// cursor of the next page.
func PaginateEvents(rows []*CalendarEvent, limit int) ([]*CalendarEvent, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	last := rows[limit-1]
	return rows[:limit], EncodeTimeCursor(last.StartTime, int64(last.ID))
}
