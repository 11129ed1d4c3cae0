package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"workspace"
)

// CreateSession records a successful login.
func (db *DB) CreateSession(ctx context.Context, l workspace.Login) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	s := l.Session
	s.CreatedAt, s.LastUsedAt = tx.now, tx.now
	tag, err := tx.Exec(ctx, `UPDATE users SET last_login = $1, password_hash = COALESCE($2, password_hash) WHERE id = $3`,
		tx.now, nullString(l.Rehash), s.UserID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip_address, user_agent)
		VALUES ($1, $2, $3, $3, $4, $5::inet, $6)`,
		s.ID, s.UserID, tx.now, s.ExpiresAt, ipArg(s.IPAddress), nullString(s.UserAgent)); err != nil {
		return mapErr(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)`,
		l.RefreshHash, s.ID, tx.now); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.LoginAudit(s)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

const sessionColumns = `s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
	COALESCE(host(s.ip_address), ''), COALESCE(s.user_agent, '')`

func scanSession(row pgx.Row) (*workspace.Session, error) {
	var s workspace.Session
	if err := row.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &s.RevokedAt, &s.IPAddress, &s.UserAgent); err != nil {
		return nil, mapErr(err)
	}
	return &s, nil
}

// RotateRefreshToken exchanges a refresh token for its successor.
func (db *DB) RotateRefreshToken(ctx context.Context, r workspace.Rotation) (*workspace.Session, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	var sessionID string
	err = tx.QueryRow(ctx, `SELECT session_id FROM refresh_tokens WHERE token_hash = $1`, r.OldHash).Scan(&sessionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, workspace.ErrInvalidRefresh
	} else if err != nil {
		return nil, mapErr(err)
	}
	// Lock the session: concurrent refreshes of one session are serialised,
	// and each reads the token state the previous one committed.
	s, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1 FOR UPDATE`, sessionID))
	if err != nil {
		return nil, err
	}
	if !s.Active(tx.now) {
		return nil, workspace.ErrInvalidRefresh
	}
	var rotatedAt *time.Time
	err = tx.QueryRow(ctx, `SELECT rotated_at FROM refresh_tokens WHERE token_hash = $1`, r.OldHash).Scan(&rotatedAt)
	if errors.Is(err, pgx.ErrNoRows) { // deleted by a revocation meanwhile
		return nil, workspace.ErrInvalidRefresh
	} else if err != nil {
		return nil, mapErr(err)
	}
	var successorCurrent bool
	if rotatedAt != nil {
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM refresh_tokens
			WHERE token_hash = $1 AND session_id = $2 AND rotated_at IS NULL)`, r.NewHash, s.ID).Scan(&successorCurrent); err != nil {
			return nil, mapErr(err)
		}
	}
	switch workspace.DecideRotation(rotatedAt, successorCurrent, tx.now, r.Grace) {
	case workspace.RotateNow:
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2`, tx.now, r.OldHash); err != nil {
			return nil, mapErr(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)`,
			r.NewHash, s.ID, tx.now); err != nil {
			return nil, mapErr(err)
		}
	case workspace.RotateReuse:
		if err := revokeSession(ctx, tx, s.ID); err != nil {
			return nil, err
		}
		if err := insertActivity(ctx, tx, workspace.RefreshReuseAudit(s)); err != nil {
			return nil, err
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, mapErr(err)
		}
		return nil, workspace.ErrInvalidRefresh
	}
	s.LastUsedAt = tx.now
	if _, err := tx.Exec(ctx, `UPDATE sessions SET last_used_at = $1 WHERE id = $2`, tx.now, s.ID); err != nil {
		return nil, mapErr(err)
	}
	return s, mapErr(tx.Commit(ctx))
}

func revokeSession(ctx context.Context, tx *Tx, id string) error {
	if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, tx.now, id); err != nil {
		return mapErr(err)
	}
	_, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE session_id = $1`, id)
	return mapErr(err)
}

// FindSessionByID returns a session and its user.
func (db *DB) FindSessionByID(ctx context.Context, id string) (*workspace.Session, *workspace.User, error) {
	s, err := scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id))
	if err != nil {
		if workspace.ErrorCode(err) == workspace.ENOTFOUND {
			return nil, nil, workspace.Errorf(workspace.ENOTFOUND, "Session not found.")
		}
		return nil, nil, err
	}
	u, err := findUserByID(ctx, db.pool, s.UserID)
	if err != nil {
		return nil, nil, err
	}
	return s, u, nil
}

// FindSessions lists a user's active sessions, newest first.
func (db *DB) FindSessions(ctx context.Context, userID int) ([]*workspace.Session, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 ORDER BY s.created_at DESC, s.id`,
		userID, workspace.Truncate(db.Now()))
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
	defer tx.rollback()
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL)`,
		sessionID, userID).Scan(&ok); err != nil {
		return mapErr(err)
	}
	if !ok {
		return workspace.Errorf(workspace.ENOTFOUND, "Session not found.")
	}
	if err := revokeSession(ctx, tx, sessionID); err != nil {
		return err
	}
	if err := insertActivity(ctx, tx, workspace.Audit{Action: action, UserID: &userID,
		Metadata: map[string]any{"session_id": sessionID}}); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}
