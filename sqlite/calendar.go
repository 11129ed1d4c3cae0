package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"workspace"
)

const eventColumns = `e.id, e.user_id, e.title, e.description, e.start_time, e.end_time, e.location, e.attendees, e.created_at, e.updated_at, e.deleted_at`

func scanEvent(s scanner) (*workspace.CalendarEvent, error) {
	var (
		e                  workspace.CalendarEvent
		desc, loc, attends sql.NullString
	)
	if err := s.Scan(&e.ID, &e.UserID, &e.Title, &desc, timeScanner{&e.StartTime}, timeScanner{&e.EndTime}, &loc, &attends,
		timeScanner{&e.CreatedAt}, timeScanner{&e.UpdatedAt}, nullTimeScanner{&e.DeletedAt}); err != nil {
		return nil, mapErr(err)
	}
	e.Description, e.Location = ptrNull(desc), ptrNull(loc)
	e.Attendees = []string{}
	if attends.Valid {
		if err := json.Unmarshal([]byte(attends.String), &e.Attendees); err != nil {
			return nil, err
		}
	}
	return &e, nil
}

func scanEvents(rows *sql.Rows, err error) ([]*workspace.CalendarEvent, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.CalendarEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, mapErr(rows.Err())
}

// attendeesArg stores attendees as a JSON array, NULL when there are none.
func attendeesArg(a []string) any {
	if len(a) == 0 {
		return nil
	}
	b, _ := json.Marshal(a)
	return string(b)
}

// visibleTo is the condition "reader owns e or is bound to it as an
// attendee" with its arguments.
func visibleTo(readerID int) (string, []any) {
	return `(e.user_id = ? OR EXISTS (SELECT 1 FROM event_attendees a WHERE a.event_id = e.id AND a.user_id = ?))`,
		[]any{readerID, readerID}
}

// bindAttendees replaces the accounts bound to an event by those its
// attendee names resolve to now (see migration 00006). Each row copies the
// event's times as stored (migration 00011), so it runs after the event's
// INSERT or UPDATE.
func bindAttendees(ctx context.Context, tx *Tx, eventID int, names []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_attendees WHERE event_id = ?`, eventID); err != nil {
		return mapErr(err)
	}
	if len(names) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO event_attendees (event_id, user_id, start_time, end_time)
		SELECT DISTINCT e.id, u.id, e.start_time, e.end_time FROM events e, users u, json_each(?) AS a
		WHERE e.id = ? AND (lower(u.username) = a.value OR lower(u.email) = a.value)`, attendeesArg(names), eventID)
	return mapErr(err)
}

var errEventNotFound = workspace.Errorf(workspace.ENOTFOUND, "Event not found.")

// CreateCalendarEvent stores an event for the actor.
func (db *DB) CreateCalendarEvent(ctx context.Context, e *workspace.CalendarEvent) error {
	e.UserID = workspace.ActorFromContext(ctx).UserID
	e.Attendees = workspace.NormalizeAttendees(e.Attendees)
	e.StartTime, e.EndTime = workspace.Truncate(e.StartTime), workspace.Truncate(e.EndTime)
	if err := e.Validate(); err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	e.CreatedAt, e.UpdatedAt = tx.now, tx.now
	if err := tx.QueryRowContext(ctx, `INSERT INTO events (user_id, title, description, start_time, end_time, location, attendees, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.UserID, e.Title, e.Description, fmtTime(e.StartTime), fmtTime(e.EndTime), e.Location, attendeesArg(e.Attendees),
		fmtTime(tx.now), fmtTime(tx.now)).Scan(&e.ID); err != nil {
		return mapErr(err)
	}
	if err := bindAttendees(ctx, tx, e.ID, e.Attendees); err != nil {
		return err
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventCreate, e, nil)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// FindCalendarEventByID returns a live event reader owns or attends.
func (db *DB) FindCalendarEventByID(ctx context.Context, readerID int, id int) (*workspace.CalendarEvent, error) {
	cond, args := visibleTo(readerID)
	e, err := scanEvent(db.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.id = ? AND e.deleted_at IS NULL AND `+cond, append([]any{id}, args...)...))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, errEventNotFound
	}
	return e, err
}

// FindCalendarEvents returns reader's events overlapping [From, To).
func (db *DB) FindCalendarEvents(ctx context.Context, readerID int, f workspace.CalendarEventFilter) ([]*workspace.CalendarEvent, string, error) {
	return db.findEvents(ctx, "events", readerID, f)
}

// FindPendingEvents reads the pending_events view for reader.
func (db *DB) FindPendingEvents(ctx context.Context, readerID int, cursor string, limit int) ([]*workspace.CalendarEvent, string, error) {
	return db.findEvents(ctx, "pending_events", readerID, workspace.CalendarEventFilter{Cursor: cursor, Limit: limit})
}

// findEvents pages through a relation (the events table or the
// pending_events view) by (start_time, id).
func (db *DB) findEvents(ctx context.Context, relation string, readerID int, f workspace.CalendarEventFilter) ([]*workspace.CalendarEvent, string, error) {
	q, args, err := eventsQuery(relation, readerID, f)
	if err != nil {
		return nil, "", err
	}
	out, err := scanEvents(db.read.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.PaginateEvents(out, workspace.PageLimit(f.Limit))
	return out, next, nil
}

// eventsQuery is findEvents' SELECT of one page (limit + 1 rows) and its
// arguments.
func eventsQuery(relation string, readerID int, f workspace.CalendarEventFilter) (string, []any, error) {
	cs, cid, hasCursor, err := workspace.DecodeTimeCursor(f.Cursor)
	if err != nil {
		return "", nil, err
	}
	// The reader's events are found through the two user indexes (owned,
	// attended) rather than by scanning the time range of everyone's, and
	// both indexes carry the times, so a range is tested inside them and
	// only the events in it are read (migration 00011). The outer
	// conditions on e stay the authority. The parameters are expressions
	// (? + 0, CAST(? AS TEXT)), not bare: see FindMessages (no re-prepare
	// per binding after ANALYZE).
	var window string
	var windowArgs []any
	if f.From != nil {
		window, windowArgs = window+` AND end_time > CAST(? AS TEXT)`, append(windowArgs, fmtTime(*f.From))
	}
	if f.To != nil {
		window, windowArgs = window+` AND start_time < CAST(? AS TEXT)`, append(windowArgs, fmtTime(*f.To))
	}
	q := `SELECT ` + eventColumns + ` FROM ` + relation + ` e WHERE e.deleted_at IS NULL AND e.id IN
		(SELECT id FROM events WHERE user_id = ? + 0` + window + `
		 UNION ALL SELECT event_id FROM event_attendees WHERE user_id = ? + 0` + window + `)`
	args := append([]any{readerID}, windowArgs...)       // the owned events' subquery
	args = append(append(args, readerID), windowArgs...) // the attended ones'
	if f.From != nil {
		q, args = q+` AND e.end_time > CAST(? AS TEXT)`, append(args, fmtTime(*f.From))
	}
	if f.To != nil {
		q, args = q+` AND e.start_time < CAST(? AS TEXT)`, append(args, fmtTime(*f.To))
	}
	if hasCursor {
		q, args = q+` AND (e.start_time, e.id) > (CAST(? AS TEXT), ? + 0)`, append(args, fmtTime(cs), cid)
	}
	return q + ` ORDER BY e.start_time, e.id LIMIT ?`, append(args, workspace.PageLimit(f.Limit)+1), nil
}

// UpdateCalendarEvent applies upd to one of the actor's events.
func (db *DB) UpdateCalendarEvent(ctx context.Context, id int, upd workspace.CalendarEventUpdate) (*workspace.CalendarEvent, error) {
	actor := workspace.ActorFromContext(ctx)
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	e, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ? AND e.user_id = ? AND e.deleted_at IS NULL`, id, actor.UserID))
	if err != nil {
		if workspace.ErrorCode(err) == workspace.ENOTFOUND {
			return nil, errEventNotFound
		}
		return nil, err
	}
	changed := upd.Apply(e)
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return e, nil
	}
	e.UpdatedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE events SET title = ?, description = ?, start_time = ?, end_time = ?, location = ?,
		attendees = ?, updated_at = ? WHERE id = ?`, e.Title, e.Description, fmtTime(e.StartTime), fmtTime(e.EndTime), e.Location,
		attendeesArg(e.Attendees), fmtTime(tx.now), id); err != nil {
		return nil, mapErr(err)
	}
	if upd.Attendees != nil {
		if err := bindAttendees(ctx, tx, id, e.Attendees); err != nil {
			return nil, err
		}
	} else if _, err := tx.ExecContext(ctx, `UPDATE event_attendees SET start_time = ?, end_time = ? WHERE event_id = ?`,
		fmtTime(e.StartTime), fmtTime(e.EndTime), id); err != nil {
		return nil, mapErr(err) // the attendees' copy of the times (migration 00011)
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventUpdate, e, changed)); err != nil {
		return nil, err
	}
	return e, mapErr(tx.Commit())
}

// DeleteCalendarEvent soft-deletes one of the actor's events.
func (db *DB) DeleteCalendarEvent(ctx context.Context, id int) error {
	actor := workspace.ActorFromContext(ctx)
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE events SET deleted_at = ?, updated_at = ? WHERE id = ? AND user_id = ? AND deleted_at IS NULL`,
		fmtTime(tx.now), fmtTime(tx.now), id, actor.UserID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errEventNotFound
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventDelete, &workspace.CalendarEvent{ID: id}, nil)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// SetCalendarFeedToken replaces userID's feed token hash.
func (db *DB) SetCalendarFeedToken(ctx context.Context, userID int, tokenHash []byte) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
		userID, tokenHash, fmtTime(tx.now)); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.Audit{Action: workspace.ActionCalendarFeedNew, UserID: &userID}); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// FindUserByCalendarFeedToken returns the owner of a feed token.
func (db *DB) FindUserByCalendarFeedToken(ctx context.Context, tokenHash []byte) (*workspace.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, `SELECT `+userColumns+userFrom+
		`JOIN calendar_feeds f ON f.user_id = u.id WHERE f.token_hash = ?`, tokenHash))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, workspace.Errorf(workspace.ENOTFOUND, "Unknown calendar feed.")
	}
	return u, err
}
