package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"workspace"
)

const userColumns = `u.id, u.username, u.email, COALESCE(r.role, 'user'), u.created_at, u.updated_at, u.last_login, u.password_hash`

const userFrom = ` FROM users u LEFT JOIN user_roles r ON r.user_id = u.id `

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (*workspace.User, error) {
	var (
		u     workspace.User
		email sql.NullString
	)
	if err := s.Scan(&u.ID, &u.Username, &email, &u.Role, timeScanner{&u.CreatedAt}, timeScanner{&u.UpdatedAt},
		nullTimeScanner{&u.LastLogin}, &u.PasswordHash); err != nil {
		return nil, mapErr(err)
	}
	u.Email = ptrNull(email)
	return &u, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func findUserByID(ctx context.Context, q querier, id int) (*workspace.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+userFrom+`WHERE u.id = ?`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	return u, err
}

// FindUserByID returns the user with id.
func (db *DB) FindUserByID(ctx context.Context, id int) (*workspace.User, error) {
	return findUserByID(ctx, db.read, id)
}

// FindUserByLogin finds a user by username, or by email when login holds
// an '@' (usernames cannot), case-insensitively.
func (db *DB) FindUserByLogin(ctx context.Context, login string) (*workspace.User, error) {
	q := `SELECT ` + userColumns + userFrom + `WHERE lower(u.username) = lower(?)`
	if strings.Contains(login, "@") {
		q = `SELECT ` + userColumns + userFrom + `WHERE lower(u.email) = lower(?)`
	}
	u, err := scanUser(db.read.QueryRowContext(ctx, q, login))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	return u, err
}

// FindUsers returns one page of users, newest first.
func (db *DB) FindUsers(ctx context.Context, f workspace.UserFilter) ([]*workspace.User, string, error) {
	after, err := workspace.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := workspace.PageLimit(f.Limit)
	where, args := []string{"1=1"}, []any{}
	if after > 0 {
		where, args = append(where, "u.id < ?"), append(args, after)
	}
	if f.Query != nil && *f.Query != "" {
		pat := "%" + workspace.EscapeLike(strings.ToLower(*f.Query)) + "%"
		where, args = append(where, `(lower(u.username) LIKE ? ESCAPE '\' OR lower(u.email) LIKE ? ESCAPE '\')`), append(args, pat, pat)
	}
	if f.Role != nil {
		where, args = append(where, "COALESCE(r.role, 'user') = ?"), append(args, string(*f.Role))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+userFrom+`WHERE `+strings.Join(where, " AND ")+
		` ORDER BY u.id DESC LIMIT ?`, append(args, limit+1)...)
	return userPage(rows, err, limit)
}

// checkUnique returns a field-level ECONFLICT if another user than id has
// the username or email (case-insensitively).
func checkUnique(ctx context.Context, tx *Tx, id int, username string, email *string) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE lower(username) = lower(?) AND id <> ?`, username, id).Scan(&n)
	if err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return workspace.Conflict("username", "is already taken")
	}
	if email == nil {
		return nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE lower(email) = lower(?) AND id <> ?`, *email, id).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return workspace.Conflict("email", "is already in use")
	}
	return nil
}

// CreateUser inserts u; the first user of the database becomes admin.
func (db *DB) CreateUser(ctx context.Context, u *workspace.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := checkUnique(ctx, tx, 0, u.Username, u.Email); err != nil {
		return err
	}
	if u.Role == "" {
		var any int
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&any); err != nil {
			return mapErr(err)
		}
		u.Role = workspace.FirstUserRole(any == 1)
	}
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	err = tx.QueryRowContext(ctx, `
		INSERT INTO users (username, password_hash, email, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		u.Username, u.PasswordHash, u.Email, fmtTime(tx.now), fmtTime(tx.now)).Scan(&u.ID)
	if err != nil {
		return mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)`, u.ID, string(u.Role)); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.UserCreatedAudit(ctx, u)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// UpdateUser applies upd to the user with id.
func (db *DB) UpdateUser(ctx context.Context, id int, upd workspace.UserUpdate) (*workspace.User, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := findUserByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var admins int
	if upd.Role != nil && *upd.Role != workspace.RoleAdmin && u.Role == workspace.RoleAdmin {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM user_roles WHERE role = 'admin'`).Scan(&admins); err != nil {
			return nil, mapErr(err)
		}
	}
	audit, err := workspace.ApplyUserUpdate(ctx, u, upd, admins)
	if err != nil || audit == nil {
		return u, err
	}
	if err := checkUnique(ctx, tx, u.ID, u.Username, u.Email); err != nil {
		return nil, err
	}
	u.UpdatedAt = tx.now
	if _, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, email = ?, updated_at = ? WHERE id = ?`,
		u.Username, u.Email, fmtTime(tx.now), u.ID); err != nil {
		return nil, mapErr(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET role = excluded.role`, u.ID, string(u.Role)); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, *audit); err != nil {
		return nil, err
	}
	return u, mapErr(tx.Commit())
}

// SetPassword replaces the password hash and revokes the other sessions.
func (db *DB) SetPassword(ctx context.Context, id int, hash string, keepSessionID string) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, fmtTime(tx.now), id)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	res, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`,
		fmtTime(tx.now), id, keepSessionID)
	if err != nil {
		return mapErr(err)
	}
	revoked, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE session_id IN
		(SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL)`, id); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.PasswordChangedAudit(id, int(revoked))); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// DeleteUser deletes the user with id.
func (db *DB) DeleteUser(ctx context.Context, id int) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	u, err := findUserByID(ctx, tx, id)
	if err != nil {
		return err
	}
	var lots, admins int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM lots WHERE user_id = ?`, id).Scan(&lots); err != nil {
		return mapErr(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM user_roles WHERE role = 'admin'`).Scan(&admins); err != nil {
		return mapErr(err)
	}
	if err := workspace.CanDeleteUser(u, lots, admins); err != nil {
		return err
	}
	// Their live channel messages leave the counts of migration 00010
	// (their direct conversations go with them).
	for _, q := range []string{forgetAuthorCounts, forgetAuthorReads} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return mapErr(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id); err != nil {
		return mapErr(err)
	}
	// Their messages went with them: conversations whose last message was
	// one of them get their new last message.
	if _, err := tx.ExecContext(ctx, refreshLastMessages); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.UserDeletedAudit(ctx, u)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// FindActiveUsers reads the active_users view, newest first.
func (db *DB) FindActiveUsers(ctx context.Context, cursor string, limit int) ([]*workspace.User, string, error) {
	before, err := workspace.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = workspace.PageLimit(limit)
	q, args := `SELECT `+userColumns+` FROM active_users u LEFT JOIN user_roles r ON r.user_id = u.id`, []any{}
	if before > 0 {
		q, args = q+` WHERE u.id < ?`, append(args, before)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY u.id DESC LIMIT ?`, append(args, limit+1)...)
	return userPage(rows, err, limit)
}

// userPage reads users fetched with limit+1 rows into one page and the
// cursor of the next.
func userPage(rows *sql.Rows, err error, limit int) ([]*workspace.User, string, error) {
	if err != nil {
		return nil, "", mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(err)
	}
	out, next := workspace.Paginate(out, limit, func(u *workspace.User) int64 { return int64(u.ID) })
	return out, next, nil
}
