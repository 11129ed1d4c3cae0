package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"workspace"
)

const eventColumns = `e.id, e.user_id, e.title, e.description, e.start_time, e.end_time, e.location, e.attendees, e.created_at, e.updated_at, e.deleted_at`

func scanEvent(row pgx.Row) (*workspace.CalendarEvent, error) {
	var e workspace.CalendarEvent
	if err := row.Scan(&e.ID, &e.UserID, &e.Title, &e.Description, &e.StartTime, &e.EndTime, &e.Location, &e.Attendees,
		&e.CreatedAt, &e.UpdatedAt, &e.DeletedAt); err != nil {
		return nil, mapErr(err)
	}
	if e.Attendees == nil {
		e.Attendees = []string{}
	}
	return &e, nil
}

func scanEvents(rows pgx.Rows, err error) ([]*workspace.CalendarEvent, error) {
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

// attendeesArg stores attendees as TEXT[], NULL when there are none.
func attendeesArg(a []string) []string {
	if len(a) == 0 {
		return nil
	}
	return a
}

// visibleTo is the condition "the reader (placeholder p) owns e or is
// bound to it as an attendee".
func visibleTo(p string) string {
	return `(e.user_id = ` + p + ` OR EXISTS (SELECT 1 FROM event_attendees a WHERE a.event_id = e.id AND a.user_id = ` + p + `))`
}

// bindAttendees replaces the accounts bound to an event by those its
// attendee names resolve to now (see migration 00006). Each row copies the
// event's times as stored (migration 00011), so it runs after the event's
// INSERT or UPDATE.
func bindAttendees(ctx context.Context, tx *Tx, eventID int, names []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM event_attendees WHERE event_id = $1`, eventID); err != nil {
		return mapErr(err)
	}
	if len(names) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO event_attendees (event_id, user_id, start_time, end_time)
		SELECT DISTINCT e.id, u.id, e.start_time, e.end_time FROM events e, users u
		WHERE e.id = $1 AND (lower(u.username) = ANY($2) OR lower(u.email) = ANY($2))`, eventID, names)
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
	defer tx.rollback()
	e.CreatedAt, e.UpdatedAt = tx.now, tx.now
	if err := tx.QueryRow(ctx, `INSERT INTO events (user_id, title, description, start_time, end_time, location, attendees, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		e.UserID, e.Title, e.Description, e.StartTime, e.EndTime, e.Location, attendeesArg(e.Attendees), tx.now).Scan(&e.ID); err != nil {
		return mapErr(err)
	}
	if err := bindAttendees(ctx, tx, e.ID, e.Attendees); err != nil {
		return err
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventCreate, e, nil)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// FindCalendarEventByID returns a live event reader owns or attends.
func (db *DB) FindCalendarEventByID(ctx context.Context, readerID int, id int) (*workspace.CalendarEvent, error) {
	e, err := scanEvent(db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.id = $1 AND e.deleted_at IS NULL AND `+visibleTo("$2"), id, readerID))
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
	q, a, err := eventsQuery(relation, readerID, f)
	if err != nil {
		return nil, "", err
	}
	out, err := scanEvents(db.pool.Query(ctx, q, a...))
	if err != nil {
		return nil, "", err
	}
	out, next := workspace.PaginateEvents(out, workspace.PageLimit(f.Limit))
	return out, next, nil
}

// eventsQuery is findEvents' SELECT of one page (limit + 1 rows) and its
// arguments.
func eventsQuery(relation string, readerID int, f workspace.CalendarEventFilter) (string, args, error) {
	cs, cid, hasCursor, err := workspace.DecodeTimeCursor(f.Cursor)
	if err != nil {
		return "", nil, err
	}
	a := args{readerID}
	// The reader's events are found through the two user indexes (owned,
	// attended), as on SQLite, not by walking everyone's events by time
	// with a visibility check each: the start_time index cannot bound a
	// range from below by end_time, so a December month walked the whole
	// year. pgbench over random months and readers: 894 -> 1,680 queries/s.
	// Both user indexes carry the times, so a range is tested inside them
	// and only the events in it are read (migration 00011); the outer
	// conditions on e stay the authority.
	var window, outer string
	if f.From != nil {
		p := a.add(f.From.UTC())
		window, outer = window+` AND end_time > `+p, outer+` AND e.end_time > `+p
	}
	if f.To != nil {
		p := a.add(f.To.UTC())
		window, outer = window+` AND start_time < `+p, outer+` AND e.start_time < `+p
	}
	q := `SELECT ` + eventColumns + ` FROM ` + relation + ` e WHERE e.deleted_at IS NULL AND e.id IN
		(SELECT id FROM events WHERE user_id = $1` + window + `
		 UNION ALL SELECT event_id FROM event_attendees WHERE user_id = $1` + window + `)` + outer
	if hasCursor {
		q += ` AND (e.start_time, e.id) > (` + a.add(cs.UTC()) + `, ` + a.add(cid) + `)`
	}
	return q + ` ORDER BY e.start_time, e.id LIMIT ` + a.add(workspace.PageLimit(f.Limit)+1), a, nil
}

// UpdateCalendarEvent applies upd to one of the actor's events.
func (db *DB) UpdateCalendarEvent(ctx context.Context, id int, upd workspace.CalendarEventUpdate) (*workspace.CalendarEvent, error) {
	actor := workspace.ActorFromContext(ctx)
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	e, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e
		WHERE e.id = $1 AND e.user_id = $2 AND e.deleted_at IS NULL FOR UPDATE`, id, actor.UserID))
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
	if _, err := tx.Exec(ctx, `UPDATE events SET title = $1, description = $2, start_time = $3, end_time = $4, location = $5,
		attendees = $6, updated_at = $7 WHERE id = $8`, e.Title, e.Description, e.StartTime, e.EndTime, e.Location,
		attendeesArg(e.Attendees), tx.now, id); err != nil {
		return nil, mapErr(err)
	}
	if upd.Attendees != nil {
		if err := bindAttendees(ctx, tx, id, e.Attendees); err != nil {
			return nil, err
		}
	} else if _, err := tx.Exec(ctx, `UPDATE event_attendees SET start_time = $1, end_time = $2 WHERE event_id = $3`,
		e.StartTime, e.EndTime, id); err != nil {
		return nil, mapErr(err) // the attendees' copy of the times (migration 00011)
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventUpdate, e, changed)); err != nil {
		return nil, err
	}
	return e, mapErr(tx.Commit(ctx))
}

// DeleteCalendarEvent soft-deletes one of the actor's events.
func (db *DB) DeleteCalendarEvent(ctx context.Context, id int) error {
	actor := workspace.ActorFromContext(ctx)
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	tag, err := tx.Exec(ctx, `UPDATE events SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND user_id = $3 AND deleted_at IS NULL`,
		tx.now, id, actor.UserID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return errEventNotFound
	}
	if err := insertActivity(ctx, tx, workspace.EventAudit(workspace.ActionEventDelete, &workspace.CalendarEvent{ID: id}, nil)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// SetCalendarFeedToken replaces userID's feed token hash.
func (db *DB) SetCalendarFeedToken(ctx context.Context, userID int, tokenHash []byte) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if _, err := tx.Exec(ctx, `INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`,
		userID, tokenHash, tx.now); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.Audit{Action: workspace.ActionCalendarFeedNew, UserID: &userID}); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// FindUserByCalendarFeedToken returns the owner of a feed token.
func (db *DB) FindUserByCalendarFeedToken(ctx context.Context, tokenHash []byte) (*workspace.User, error) {
	u, err := scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+userFrom+
		`JOIN calendar_feeds f ON f.user_id = u.id WHERE f.token_hash = $1`, tokenHash))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, workspace.Errorf(workspace.ENOTFOUND, "Unknown calendar feed.")
	}
	return u, err
}
