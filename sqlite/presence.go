package sqlite

import (
	"context"
	"time"

	"workspace"
)

// AddPresence records a live connection.
func (db *DB) AddPresence(ctx context.Context, connectionID string, userID int, instanceID string) error {
	now := fmtTime(db.Now())
	_, err := db.exec(ctx, `INSERT INTO presence (connection_id, user_id, instance_id, connected_at, seen_at)
		VALUES (?, ?, ?, ?, ?)`, connectionID, userID, instanceID, now, now)
	return mapErr(err)
}

// RemovePresence forgets a connection.
func (db *DB) RemovePresence(ctx context.Context, connectionID string) error {
	_, err := db.exec(ctx, `DELETE FROM presence WHERE connection_id = ?`, connectionID)
	return mapErr(err)
}

// TouchPresence refreshes an instance's connections.
func (db *DB) TouchPresence(ctx context.Context, instanceID string) error {
	_, err := db.exec(ctx, `UPDATE presence SET seen_at = ? WHERE instance_id = ?`, fmtTime(db.Now()), instanceID)
	return mapErr(err)
}

// FindOnlineUsers lists users with a connection seen after since.
func (db *DB) FindOnlineUsers(ctx context.Context, since time.Time) ([]workspace.OnlineUser, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT u.id, u.username FROM presence p JOIN users u ON u.id = p.user_id
		WHERE p.seen_at > ? ORDER BY u.id`, fmtTime(since))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := []workspace.OnlineUser{}
	for rows.Next() {
		var o workspace.OnlineUser
		if err := rows.Scan(&o.UserID, &o.Username); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, o)
	}
	return out, mapErr(rows.Err())
}

// FindMessagesSince returns messages above afterID that readerID may read.
func (db *DB) FindMessagesSince(ctx context.Context, readerID, afterID, limit int) ([]*workspace.Message, error) {
	// ? + 0: see FindMessages (no re-prepare per binding after ANALYZE).
	q, args := `WHERE m.id > ? + 0 ORDER BY m.id LIMIT ?`, []any{afterID, limit}
	if readerID != 0 {
		q, args = `WHERE m.id > ? + 0 AND m.conversation_id IN
		  (SELECT id FROM conversations WHERE kind = 'channel' OR user_a = ? OR user_b = ?)
		ORDER BY m.id LIMIT ?`, []any{afterID, readerID, readerID, limit}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+messageColumns+messageFrom+q, args...)
	return scanMessages(rows, err, 0) // limit caps a batch; most hold a few rows
}

// LatestMessageID returns the highest message id.
func (db *DB) LatestMessageID(ctx context.Context) (int, error) {
	var id int
	err := db.read.QueryRowContext(ctx, `SELECT COALESCE(max(id), 0) FROM messages`).Scan(&id)
	return id, mapErr(err)
}

// LoadCalendarEvent returns an event regardless of reader or deletion.
func (db *DB) LoadCalendarEvent(ctx context.Context, id int) (*workspace.CalendarEvent, error) {
	e, err := scanEvent(db.read.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ?`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, errEventNotFound
	} else if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT user_id FROM event_attendees WHERE event_id = ? ORDER BY user_id`, id)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var uid int
		if err := rows.Scan(&uid); err != nil {
			return nil, mapErr(err)
		}
		e.AttendeeIDs = append(e.AttendeeIDs, uid)
	}
	return e, mapErr(rows.Err())
}
