package workspace

import (
	"context"
	"time"
)

// Session is one signed-in device: it is created by a login and lives
// through its chain of rotated refresh tokens until it expires or is
// revoked (logout, revocation, password change, refresh-token reuse).
type Session struct {
	ID         string     `json:"id"`
	UserID     int        `json:"user_id"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt time.Time  `json:"last_used_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	IPAddress  string     `json:"ip_address,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
}

// Active reports whether the session can still authenticate at now.
func (s *Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// Login is what CreateSession records about a successful sign-in.
type Login struct {
	Session     *Session
	RefreshHash []byte // SHA-256 of the refresh token; the token itself is never stored
	// Rehash, when not empty, replaces the user's password hash (a hash made
	// at a lower cost is upgraded on login).
	Rehash string
}

// Rotation is a refresh of a session: the presented token's hash and the
// hash of the token that replaces it.
type Rotation struct {
	OldHash, NewHash []byte
	// Grace is how long after a rotation the old token still yields the same
	// new token (two concurrent refreshes by one client).
	Grace time.Duration
}

// Revocation reasons, written as the audit action.
const (
	ActionLogout        = "auth.logout"
	ActionSessionRevoke = "auth.session_revoke"
)

// SessionStore persists sessions and refresh tokens.
type SessionStore interface {
	// CreateSession records a successful login: it inserts the session and
	// its first refresh token, sets users.last_login, applies Rehash and
	// writes the auth.login audit row. Returns ENOTFOUND if the user is gone.
	CreateSession(ctx context.Context, l Login) error
	// RotateRefreshToken exchanges a refresh token for its successor and
	// returns the session. A token rotated less than Grace ago whose
	// successor is still current is accepted again (idempotent). Any other
	// use of a rotated token revokes the session, writes an
	// auth.refresh_reuse audit row and returns EUNAUTHORIZED; an unknown,
	// expired or revoked token returns EUNAUTHORIZED.
	RotateRefreshToken(ctx context.Context, r Rotation) (*Session, error)
	// FindSessionByID returns the session with its user (for
	// authenticating access tokens). Returns ENOTFOUND.
	FindSessionByID(ctx context.Context, id string) (*Session, *User, error)
	// FindSessions lists the active sessions of a user, newest first.
	FindSessions(ctx context.Context, userID int) ([]*Session, error)
	// RevokeSession revokes a session of userID and audits it under action
	// (ActionLogout or ActionSessionRevoke). Returns ENOTFOUND if the user
	// has no such active session.
	RevokeSession(ctx context.Context, userID int, sessionID, action string) error
}

// RotationOutcome is what a presented refresh token leads to.
type RotationOutcome int

// The outcomes of DecideRotation.
const (
	// RotateNow: the token is current; replace it with its successor.
	RotateNow RotationOutcome = iota
	// RotateRepeat: the token was just rotated and its successor is still
	// current: a concurrent refresh by the same client gets the same
	// successor again.
	RotateRepeat
	// RotateReuse: an old token came back. Someone holds a copy of it:
	// revoke the whole session.
	RotateReuse
)

// DecideRotation is the refresh-token policy, shared by both engines.
// rotatedAt is when the presented token was exchanged (nil: never) and
// successorCurrent whether the token it was exchanged for is still unused.
func DecideRotation(rotatedAt *time.Time, successorCurrent bool, now time.Time, grace time.Duration) RotationOutcome {
	switch {
	case rotatedAt == nil:
		return RotateNow
	case successorCurrent && now.Sub(*rotatedAt) <= grace:
		return RotateRepeat
	default:
		return RotateReuse
	}
}

// ErrInvalidRefresh is returned for any refresh token that cannot be
// exchanged; the client must sign in again. One message for every cause,
// so a caller learns nothing about which tokens exist.
var ErrInvalidRefresh = &Error{Code: EUNAUTHORIZED, Message: "Invalid or expired refresh token; sign in again."}

// LoginAudit is the audit row of a successful sign-in.
func LoginAudit(s *Session) Audit {
	return Audit{Action: ActionLogin, UserID: &s.UserID, Metadata: map[string]any{"session_id": s.ID}}
}

// RefreshReuseAudit is the audit row of a rotated refresh token presented
// again, which revoked its session.
func RefreshReuseAudit(s *Session) Audit {
	return Audit{Action: ActionRefreshReuse, UserID: &s.UserID, Metadata: map[string]any{"session_id": s.ID}}
}
