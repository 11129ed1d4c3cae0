package postgres

import (
	"context"
	"time"

	"workspace"
)

// AddPresence records a live connection.
func (db *DB) AddPresence(ctx context.Context, connectionID string, userID int, instanceID string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO presence (connection_id, user_id, instance_id, connected_at, seen_at)
		VALUES ($1, $2, $3, $4, $4)`, connectionID, userID, instanceID, workspace.Truncate(db.Now()))
	return mapErr(err)
}

// RemovePresence forgets a connection.
func (db *DB) RemovePresence(ctx context.Context, connectionID string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM presence WHERE connection_id = $1`, connectionID)
	return mapErr(err)
}

// TouchPresence refreshes an instance's connections.
func (db *DB) TouchPresence(ctx context.Context, instanceID string) error {
	_, err := db.pool.Exec(ctx, `UPDATE presence SET seen_at = $1 WHERE instance_id = $2`, workspace.Truncate(db.Now()), instanceID)
	return mapErr(err)
}

// FindOnlineUsers lists users with a connection seen after since.
func (db *DB) FindOnlineUsers(ctx context.Context, since time.Time) ([]workspace.OnlineUser, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT u.id, u.username FROM presence p JOIN users u ON u.id = p.user_id
		WHERE p.seen_at > $1 ORDER BY u.id`, workspace.Truncate(since))
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
	q, args := `WHERE m.id > $1 ORDER BY m.id LIMIT $2`, []any{afterID, limit}
	if readerID != 0 {
		q, args = `WHERE m.id > $1 AND m.conversation_id IN
		  (SELECT id FROM conversations WHERE kind = 'channel' OR user_a = $2 OR user_b = $2)
		ORDER BY m.id LIMIT $3`, []any{afterID, readerID, limit}
	}
	rows, err := db.pool.Query(ctx, `SELECT `+messageColumns+messageFrom+q, args...)
	return scanMessages(rows, err, 0) // limit caps a batch; most hold a few rows
}

// LatestMessageID returns the highest message id.
func (db *DB) LatestMessageID(ctx context.Context) (int, error) {
	var id int
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM messages`).Scan(&id)
	return id, mapErr(err)
}

// LoadCalendarEvent returns an event regardless of reader or deletion.
func (db *DB) LoadCalendarEvent(ctx context.Context, id int) (*workspace.CalendarEvent, error) {
	e, err := scanEvent(db.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, errEventNotFound
	} else if err != nil {
		return nil, err
	}
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE(array_agg(user_id ORDER BY user_id), '{}') FROM event_attendees WHERE event_id = $1`,
		id).Scan(&e.AttendeeIDs); err != nil {
		return nil, mapErr(err)
	}
	return e, nil
}
