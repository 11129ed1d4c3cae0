package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"workspace"
)

// CreateSession records a successful login.
func (db *DB) CreateSession(ctx context.Context, l workspace.Login) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	s := l.Session
	s.CreatedAt, s.LastUsedAt = tx.now, tx.now
	res, err := tx.ExecContext(ctx, `UPDATE users SET last_login = ?,
		password_hash = COALESCE(?, password_hash) WHERE id = ?`, fmtTime(tx.now), nullString(l.Rehash), s.UserID)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip_address, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, fmtTime(s.CreatedAt), fmtTime(s.LastUsedAt), fmtTime(s.ExpiresAt),
		ipArg(s.IPAddress), nullString(s.UserAgent)); err != nil {
		return mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)`,
		l.RefreshHash, s.ID, fmtTime(tx.now)); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.LoginAudit(s)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

const sessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
	COALESCE(s.ip_address, ''), COALESCE(s.user_agent, '')`

func scanSession(sc scanner) (*workspace.Session, error) {
	var s workspace.Session
	err := sc.Scan(&s.ID, &s.UserID, timeScanner{&s.CreatedAt}, timeScanner{&s.LastUsedAt}, timeScanner{&s.ExpiresAt},
		nullTimeScanner{&s.RevokedAt}, &s.IPAddress, &s.UserAgent)
	if err != nil {
		return nil, mapErr(err)
	}
	return &s, nil
}

// RotateRefreshToken exchanges a refresh token for its successor.
func (db *DB) RotateRefreshToken(ctx context.Context, r workspace.Rotation) (*workspace.Session, error) {
	tx, err := db.begin(ctx) // BEGIN IMMEDIATE: concurrent refreshes are serialised
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var (
		sessionID string
		rotatedAt *time.Time
	)
	err = tx.QueryRowContext(ctx, `SELECT session_id, rotated_at FROM refresh_tokens WHERE token_hash = ?`, r.OldHash).
		Scan(&sessionID, nullTimeScanner{&rotatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, workspace.ErrInvalidRefresh
	} else if err != nil {
		return nil, mapErr(err)
	}
	s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, sessionID))
	if err != nil {
		return nil, err
	}
	if !s.Active(tx.now) {
		return nil, workspace.ErrInvalidRefresh
	}
	var successorCurrent bool
	if rotatedAt != nil {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens
			WHERE token_hash = ? AND session_id = ? AND rotated_at IS NULL`, r.NewHash, s.ID).Scan(&n); err != nil {
			return nil, mapErr(err)
		}
		successorCurrent = n == 1
	}
	switch workspace.DecideRotation(rotatedAt, successorCurrent, tx.now, r.Grace) {
	case workspace.RotateNow:
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?`, fmtTime(tx.now), r.OldHash); err != nil {
			return nil, mapErr(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)`,
			r.NewHash, s.ID, fmtTime(tx.now)); err != nil {
			return nil, mapErr(err)
		}
	case workspace.RotateReuse:
		if err := revokeSession(ctx, tx, s.ID); err != nil {
			return nil, err
		}
		if err := insertActivity(ctx, tx, workspace.RefreshReuseAudit(s)); err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, mapErr(err)
		}
		return nil, workspace.ErrInvalidRefresh
	}
	s.LastUsedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = ? WHERE id = ?`, fmtTime(tx.now), s.ID); err != nil {
		return nil, mapErr(err)
	}
	return s, mapErr(tx.Commit())
}

func revokeSession(ctx context.Context, tx *Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, fmtTime(tx.now), id); err != nil {
		return mapErr(err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE session_id = ?`, id)
	return mapErr(err)
}

// FindSessionByID returns a session and its user.
func (db *DB) FindSessionByID(ctx context.Context, id string) (*workspace.Session, *workspace.User, error) {
	s, err := scanSession(db.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`, id))
	if err != nil {
		if workspace.ErrorCode(err) == workspace.ENOTFOUND {
			return nil, nil, workspace.Errorf(workspace.ENOTFOUND, "Session not found.")
		}
		return nil, nil, err
	}
	u, err := findUserByID(ctx, db.read, s.UserID)
	if err != nil {
		return nil, nil, err
	}
	return s, u, nil
}

// FindSessions lists a user's active sessions, newest first.
func (db *DB) FindSessions(ctx context.Context, userID int) ([]*workspace.Session, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? ORDER BY s.created_at DESC, s.id`,
		userID, fmtTime(db.Now()))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, mapErr(rows.Err())
}

// RevokeSession revokes one active session of userID.
func (db *DB) RevokeSession(ctx context.Context, userID int, sessionID, action string) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
		sessionID, userID).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "Session not found.")
	}
	if err := revokeSession(ctx, tx, sessionID); err != nil {
		return err
	}
	if err := insertActivity(ctx, tx, workspace.Audit{Action: action, UserID: &userID,
		Metadata: map[string]any{"session_id": sessionID}}); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}
