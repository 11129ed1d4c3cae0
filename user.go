package workspace

import (
	"context"
	"regexp"
	"time"
	"unicode/utf8"
)

// Role is a user's role, kept in the user_roles extension table.
type Role string

// The roles. The first account created becomes RoleAdmin.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin }

// User is an account (the seed's users table plus its role).
type User struct {
	ID           int        `json:"id"`
	Username     string     `json:"username"`
	Email        *string    `json:"email"`
	Role         Role       `json:"role"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLogin    *time.Time `json:"last_login"`
	PasswordHash string     `json:"-"` // never leaves the server
}

// Limits of the users table (VARCHAR(255) and the seed's CHECKs).
const (
	MinUsernameLen = 3
	MaxUsernameLen = 255
	MaxEmailLen    = 255
)

// emailRE is the seed's email_format CHECK, so the API refuses exactly what
// PostgreSQL would.
var emailRE = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,}$`)

// usernameRE is the username alphabet. It is ASCII on purpose: usernames
// are unique case-insensitively, and lower() folds exactly the same way on
// SQLite and PostgreSQL only for ASCII; it also rules out look-alike names
// and '@', which marks an email at login.
var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateUsername checks the seed's username_length CHECK, the column width
// and the username alphabet.
func ValidateUsername(v *Validation, name string) {
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		v.Add("username", "must be valid UTF-8")
	case n < MinUsernameLen:
		v.Add("username", "must be at least %d characters", MinUsernameLen)
	case n > MaxUsernameLen:
		v.Add("username", "must be at most %d characters", MaxUsernameLen)
	case !usernameRE.MatchString(name):
		v.Add("username", "may contain only letters a-z, digits, '.', '_' and '-', and must start with a letter or digit")
	}
}

// ValidateEmail checks the seed's email_format CHECK and the column width.
func ValidateEmail(v *Validation, email string) {
	switch {
	case len(email) > MaxEmailLen:
		v.Add("email", "must be at most %d characters", MaxEmailLen)
	case !emailRE.MatchString(email):
		v.Add("email", "must be a valid email address")
	}
}

// Validate checks every field against the seed's constraints.
func (u *User) Validate() error {
	var v Validation
	ValidateUsername(&v, u.Username)
	if u.Email != nil {
		ValidateEmail(&v, *u.Email)
	}
	if u.Role != "" && !u.Role.Valid() {
		v.Add("role", "must be %q or %q", RoleUser, RoleAdmin)
	}
	if u.PasswordHash == "" {
		v.Add("password", "is required")
	}
	return v.Err()
}

// UserFilter selects users; results are newest first.
type UserFilter struct {
	// Query matches a substring of the username or email, case-insensitively.
	Query  *string
	Role   *Role
	Cursor string
	Limit  int
}

// UserUpdate changes the non-nil fields of a user. An Email pointing to ""
// clears the email.
type UserUpdate struct {
	Username *string
	Email    *string
	Role     *Role
}

// Validate checks the fields being changed.
func (up UserUpdate) Validate() error {
	var v Validation
	if up.Username != nil {
		ValidateUsername(&v, *up.Username)
	}
	if up.Email != nil && *up.Email != "" {
		ValidateEmail(&v, *up.Email)
	}
	if up.Role != nil && !up.Role.Valid() {
		v.Add("role", "must be %q or %q", RoleUser, RoleAdmin)
	}
	return v.Err()
}

// UserStore persists accounts. Every mutation writes its activity_logs row
// in the same transaction, with the actor from the context.
type UserStore interface {
	// FindUserByID returns ENOTFOUND if there is no such user.
	FindUserByID(ctx context.Context, id int) (*User, error)
	// FindUserByLogin finds a user by username or email, case-insensitively.
	// Returns ENOTFOUND if none matches.
	FindUserByLogin(ctx context.Context, login string) (*User, error)
	// FindUsers returns one page of users, newest first, and the cursor of
	// the next page ("" on the last). Returns EINVALID for a bad cursor.
	FindUsers(ctx context.Context, f UserFilter) ([]*User, string, error)
	// FindActiveUsers reads the active_users view (signed in within 7
	// days), newest first. Returns EINVALID for a bad cursor.
	FindActiveUsers(ctx context.Context, cursor string, limit int) ([]*User, string, error)
	// CreateUser inserts u and fills ID, Role and timestamps. When u.Role is
	// empty the first user of the database becomes admin and later ones
	// users. Returns EINVALID if u is invalid and ECONFLICT if the username
	// or email is taken (case-insensitively).
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser applies upd. Returns ENOTFOUND, EINVALID, ECONFLICT (taken
	// username/email, or demoting the last admin).
	UpdateUser(ctx context.Context, id int, upd UserUpdate) (*User, error)
	// SetPassword replaces the password hash and revokes every session of the
	// user except keepSessionID (which may be ""). Returns ENOTFOUND.
	SetPassword(ctx context.Context, id int, hash string, keepSessionID string) error
	// DeleteUser deletes the user; their messages, events and shortcuts
	// cascade and their activity rows keep user_id NULL. Returns ENOTFOUND,
	// and ECONFLICT if the user received lots (the seed's lots.user_id has
	// no ON DELETE) or is the last admin.
	DeleteUser(ctx context.Context, id int) error
}

// FirstUserRole is the role of a new account created without one: the first
// account of a deployment administers it. It is decided by "no user exists"
// rather than "no admin exists", so that data brought over from a
// deployment without roles does not hand admin to the next stranger who
// registers.
func FirstUserRole(anyUserExists bool) Role {
	if anyUserExists {
		return RoleUser
	}
	return RoleAdmin
}

// ApplyUserUpdate applies upd to u in memory and returns the audit row that
// describes the change, or nil when nothing changes. admins is the number
// of admins, consulted only when upd demotes an admin. Returns ECONFLICT
// when it would leave no admin.
func ApplyUserUpdate(ctx context.Context, u *User, upd UserUpdate, admins int) (*Audit, error) {
	var changed []string
	meta := map[string]any{"user_id": u.ID}
	if upd.Username != nil && *upd.Username != u.Username {
		meta["old_username"] = u.Username
		u.Username = *upd.Username
		changed = append(changed, "username")
	}
	if upd.Email != nil {
		var email *string
		if *upd.Email != "" {
			email = upd.Email
		}
		if (email == nil) != (u.Email == nil) || (email != nil && *email != *u.Email) {
			u.Email = email
			changed = append(changed, "email")
		}
	}
	if upd.Role != nil && *upd.Role != u.Role {
		if u.Role == RoleAdmin && admins <= 1 {
			return nil, Conflict("role", "cannot demote the last admin")
		}
		meta["old_role"], meta["role"] = u.Role, *upd.Role
		u.Role = *upd.Role
		changed = append(changed, "role")
	}
	if len(changed) == 0 {
		return nil, nil
	}
	meta["changed"] = changed
	return &Audit{Action: ActionUserUpdate, Metadata: meta}, nil
}

// CanDeleteUser refuses to delete a user who received lots (lots.user_id
// has no ON DELETE in the seed, so the rows would block it) or the last admin.
func CanDeleteUser(u *User, lots, admins int) error {
	if lots > 0 {
		return Errorf(ECONFLICT, "User %q received %d lot(s); lots keep who received them, so reassign or delete those lots first.", u.Username, lots)
	}
	if u.Role == RoleAdmin && admins <= 1 {
		return Errorf(ECONFLICT, "Cannot delete the last admin.")
	}
	return nil
}

// UserCreatedAudit is the audit row of a new account. A self-registration
// (no actor) is attributed to the new user.
func UserCreatedAudit(ctx context.Context, u *User) Audit {
	a := Audit{Action: ActionUserCreate, Metadata: map[string]any{"user_id": u.ID, "username": u.Username, "role": u.Role}}
	if ActorFromContext(ctx).UserID == 0 {
		a.UserID = &u.ID
	}
	return a
}

// UserDeletedAudit is the audit row of a deleted account. A user deleting
// themselves leaves a row with no user (theirs is gone).
func UserDeletedAudit(ctx context.Context, u *User) Audit {
	a := Audit{Action: ActionUserDelete, Metadata: map[string]any{"user_id": u.ID, "username": u.Username}}
	if ActorFromContext(ctx).UserID == u.ID {
		none := 0
		a.UserID = &none
	}
	return a
}

// PasswordChangedAudit is the audit row of a password change.
func PasswordChangedAudit(userID, revokedSessions int) Audit {
	return Audit{Action: ActionPasswordChange, UserID: &userID,
		Metadata: map[string]any{"user_id": userID, "revoked_sessions": revokedSessions}}
}
