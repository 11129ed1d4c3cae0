package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"workspace"
)

const userColumns = `u.id, u.username, u.email, COALESCE(r.role, 'user'), u.created_at, u.updated_at, u.last_login, u.password_hash`

const userFrom = ` FROM users u LEFT JOIN user_roles r ON r.user_id = u.id `

// firstUserLock serialises account creation so that two concurrent first
// registrations cannot both become admin.
const firstUserLock = 0x77730001

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func scanUser(row pgx.Row) (*workspace.User, error) {
	var u workspace.User
	var role string
	if err := row.Scan(&u.ID, &u.Username, &u.Email, &role, &u.CreatedAt, &u.UpdatedAt, &u.LastLogin, &u.PasswordHash); err != nil {
		return nil, mapErr(err)
	}
	u.Role = workspace.Role(role)
	return &u, nil
}

func findUserByID(ctx context.Context, q querier, id int) (*workspace.User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userColumns+userFrom+`WHERE u.id = $1`, id))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	return u, err
}

// FindUserByID returns the user with id.
func (db *DB) FindUserByID(ctx context.Context, id int) (*workspace.User, error) {
	return findUserByID(ctx, db.pool, id)
}

// FindUserByLogin finds a user by username, or by email when login holds
// an '@', case-insensitively.
func (db *DB) FindUserByLogin(ctx context.Context, login string) (*workspace.User, error) {
	q := `SELECT ` + userColumns + userFrom + `WHERE lower(u.username) = lower($1)`
	if strings.Contains(login, "@") {
		q = `SELECT ` + userColumns + userFrom + `WHERE lower(u.email) = lower($1)`
	}
	u, err := scanUser(db.pool.QueryRow(ctx, q, login))
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
	var a args
	where := []string{"true"}
	if after > 0 {
		where = append(where, "u.id < "+a.add(after))
	}
	if f.Query != nil && *f.Query != "" {
		p := a.add("%" + workspace.EscapeLike(strings.ToLower(*f.Query)) + "%")
		where = append(where, `(lower(u.username) LIKE `+p+` OR lower(u.email) LIKE `+p+`)`)
	}
	if f.Role != nil {
		where = append(where, "COALESCE(r.role, 'user') = "+a.add(string(*f.Role)))
	}
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+userFrom+`WHERE `+strings.Join(where, " AND ")+
		` ORDER BY u.id DESC LIMIT `+a.add(limit+1), a...)
	return userPage(rows, err, limit)
}

func checkUnique(ctx context.Context, tx *Tx, id int, username string, email *string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE lower(username) = lower($1) AND id <> $2`, username, id).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n > 0 {
		return workspace.Conflict("username", "is already taken")
	}
	if email == nil {
		return nil
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE lower(email) = lower($1) AND id <> $2`, *email, id).Scan(&n); err != nil {
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
	defer tx.rollback()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, firstUserLock); err != nil {
		return mapErr(err)
	}
	if err := checkUnique(ctx, tx, 0, u.Username, u.Email); err != nil {
		return err
	}
	if u.Role == "" {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return mapErr(err)
		}
		u.Role = workspace.FirstUserRole(exists)
	}
	u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	if err := tx.QueryRow(ctx, `
		INSERT INTO users (username, password_hash, email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4) RETURNING id`,
		u.Username, u.PasswordHash, u.Email, tx.now).Scan(&u.ID); err != nil {
		return mapErr(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, u.ID, string(u.Role)); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.UserCreatedAudit(ctx, u)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
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
	defer tx.rollback()
	// Lock the row: concurrent updates of one user apply one after the other.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, mapErr(err)
	}
	u, err := findUserByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var admins int
	if upd.Role != nil && *upd.Role != workspace.RoleAdmin && u.Role == workspace.RoleAdmin {
		// Lock the admin rows so two demotions cannot both pass the check.
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM user_roles WHERE role = 'admin' FOR UPDATE) a`).Scan(&admins); err != nil {
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
	if _, err := tx.Exec(ctx, `UPDATE users SET username = $1, email = $2, updated_at = $3 WHERE id = $4`,
		u.Username, u.Email, tx.now, u.ID); err != nil {
		return nil, mapErr(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET role = excluded.role`, u.ID, string(u.Role)); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, *audit); err != nil {
		return nil, err
	}
	return u, mapErr(tx.Commit(ctx))
}

// SetPassword replaces the password hash and revokes the other sessions.
func (db *DB) SetPassword(ctx context.Context, id int, hash string, keepSessionID string) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, tx.now, id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	tag, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND id <> $3 AND revoked_at IS NULL`,
		tx.now, id, keepSessionID)
	if err != nil {
		return mapErr(err)
	}
	revoked := tag.RowsAffected()
	if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE session_id IN
		(SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL)`, id); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.PasswordChangedAudit(id, int(revoked))); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// DeleteUser deletes the user with id.
func (db *DB) DeleteUser(ctx context.Context, id int) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	// The message order lock first (sends take it before touching the
	// user row): no send is in flight when the conversations whose last
	// message goes with the user are recomputed below, and that
	// recomputation sees every committed message.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, messageOrderLock); err != nil {
		return mapErr(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
		return mapErr(err)
	}
	u, err := findUserByID(ctx, tx, id)
	if err != nil {
		return err
	}
	var lots, admins int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM lots WHERE user_id = $1`, id).Scan(&lots); err != nil {
		return mapErr(err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM user_roles WHERE role = 'admin' FOR UPDATE) a`).Scan(&admins); err != nil {
		return mapErr(err)
	}
	if err := workspace.CanDeleteUser(u, lots, admins); err != nil {
		return err
	}
	// Their live channel messages leave the counts of migration 00010
	// (their direct conversations go with them).
	for _, q := range []string{forgetAuthorCounts, forgetAuthorReads} {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return mapErr(err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
		return mapErr(err)
	}
	// Their messages went with them: conversations whose last message was
	// one of them get their new last message.
	if _, err := tx.Exec(ctx, refreshLastMessages); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.UserDeletedAudit(ctx, u)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// FindActiveUsers reads the active_users view, newest first.
func (db *DB) FindActiveUsers(ctx context.Context, cursor string, limit int) ([]*workspace.User, string, error) {
	before, err := workspace.DecodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = workspace.PageLimit(limit)
	var a args
	q := `SELECT ` + userColumns + ` FROM active_users u LEFT JOIN user_roles r ON r.user_id = u.id`
	if before > 0 {
		q += ` WHERE u.id < ` + a.add(before)
	}
	rows, err := db.pool.Query(ctx, q+` ORDER BY u.id DESC LIMIT `+a.add(limit+1), a...)
	return userPage(rows, err, limit)
}

// userPage reads users fetched with limit+1 rows into one page and the
// cursor of the next.
func userPage(rows pgx.Rows, err error, limit int) ([]*workspace.User, string, error) {
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
