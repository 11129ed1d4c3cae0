package postgres

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"workspace"
)

// shortcutsLock is the first key of the per-owner advisory lock that
// serialises changes to one user's order (create, delete, reorder), so two
// concurrent creates cannot take the same order_index.
const shortcutsLock = 0x77730002

// shortcutColumns reads a NULL action_type or order_index (rows not written
// by this API) as "" and 0.
const shortcutColumns = `id, user_id, name, description, icon, COALESCE(action_type, ''), action_data,
	COALESCE(order_index, 0), created_at, updated_at`

// shortcutOrder is the order of a user's list; rows without an order_index
// come last on both engines.
const shortcutOrder = ` ORDER BY order_index NULLS LAST, id`

func scanShortcut(row pgx.Row) (*workspace.Shortcut, error) {
	var sc workspace.Shortcut
	var data []byte
	if err := row.Scan(&sc.ID, &sc.UserID, &sc.Name, &sc.Description, &sc.Icon, &sc.ActionType, &data,
		&sc.OrderIndex, &sc.CreatedAt, &sc.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	if data != nil {
		// JSONB prints its own spacing; give back the compact form SQLite keeps.
		var b bytes.Buffer
		if json.Compact(&b, data) == nil {
			data = b.Bytes()
		}
		sc.ActionData = data
	}
	return &sc, nil
}

// shortcutNotFound is the ENOTFOUND of shortcuts, whether the shortcut is
// missing or another user's.
func shortcutNotFound(err error) error {
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return workspace.Errorf(workspace.ENOTFOUND, "Shortcut not found.")
	}
	return err
}

func findShortcutByID(ctx context.Context, q querier, userID, id int, lock bool) (*workspace.Shortcut, error) {
	q1 := `SELECT ` + shortcutColumns + ` FROM shortcuts WHERE id = $1 AND user_id = $2`
	if lock {
		q1 += ` FOR UPDATE`
	}
	sc, err := scanShortcut(q.QueryRow(ctx, q1, id, userID))
	return sc, shortcutNotFound(err)
}

type rowsQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func findShortcuts(ctx context.Context, q rowsQuerier, userID int) ([]*workspace.Shortcut, error) {
	rows, err := q.Query(ctx, `SELECT `+shortcutColumns+` FROM shortcuts WHERE user_id = $1`+shortcutOrder, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.Shortcut
	for rows.Next() {
		sc, err := scanShortcut(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, mapErr(rows.Err())
}

// lockShortcuts takes the owner's order lock until the end of tx.
func lockShortcuts(ctx context.Context, tx *Tx, userID int) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, int32(shortcutsLock), userID)
	return mapErr(err)
}

func jsonArg(data json.RawMessage) *string {
	if data == nil {
		return nil
	}
	s := string(data)
	return &s
}

// FindShortcuts returns the user's shortcuts in order.
func (db *DB) FindShortcuts(ctx context.Context, userID int) ([]*workspace.Shortcut, error) {
	return findShortcuts(ctx, db.pool, userID)
}

// FindShortcutByID returns the user's shortcut with id.
func (db *DB) FindShortcutByID(ctx context.Context, userID, id int) (*workspace.Shortcut, error) {
	return findShortcutByID(ctx, db.pool, userID, id, false)
}

// CreateShortcut appends sc to its owner's list, under the owner's order
// lock.
func (db *DB) CreateShortcut(ctx context.Context, sc *workspace.Shortcut) error {
	if err := workspace.PrepareNewShortcut(sc); err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if err := lockShortcuts(ctx, tx, sc.UserID); err != nil {
		return err
	}
	if err := requireUser(ctx, tx, sc.UserID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM shortcuts WHERE user_id = $1`, sc.UserID).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n >= workspace.MaxShortcuts {
		return workspace.Errorf(workspace.ECONFLICT, "You already have %d shortcuts, the most allowed; delete one first.", n)
	}
	sc.OrderIndex, sc.CreatedAt, sc.UpdatedAt = n, tx.now, tx.now
	if err := tx.QueryRow(ctx, `
		INSERT INTO shortcuts (user_id, name, description, icon, action_type, action_data, order_index, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $8) RETURNING id`,
		sc.UserID, sc.Name, sc.Description, sc.Icon, sc.ActionType, jsonArg(sc.ActionData), sc.OrderIndex, tx.now).Scan(&sc.ID); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.ShortcutCreatedAudit(sc)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// UpdateShortcut applies upd to the user's shortcut with id; the row is
// locked so concurrent updates apply one after the other.
func (db *DB) UpdateShortcut(ctx context.Context, userID, id int, upd workspace.ShortcutUpdate) (*workspace.Shortcut, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	sc, err := findShortcutByID(ctx, tx, userID, id, true)
	if err != nil {
		return nil, err
	}
	audit, err := workspace.ApplyShortcutUpdate(sc, upd, tx.now)
	if err != nil || audit == nil {
		return sc, err
	}
	if _, err := tx.Exec(ctx, `UPDATE shortcuts SET name = $1, description = $2, icon = $3, action_type = $4,
		action_data = $5::jsonb, updated_at = $6 WHERE id = $7 AND user_id = $8`,
		sc.Name, sc.Description, sc.Icon, sc.ActionType, jsonArg(sc.ActionData), tx.now, id, userID); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, *audit); err != nil {
		return nil, err
	}
	return sc, mapErr(tx.Commit(ctx))
}

// DeleteShortcut deletes the user's shortcut with id and renumbers the
// rest, under the owner's order lock.
func (db *DB) DeleteShortcut(ctx context.Context, userID, id int) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if err := lockShortcuts(ctx, tx, userID); err != nil {
		return err
	}
	sc, err := scanShortcut(tx.QueryRow(ctx, `DELETE FROM shortcuts WHERE id = $1 AND user_id = $2 RETURNING `+shortcutColumns, id, userID))
	if err != nil {
		return shortcutNotFound(err)
	}
	// Renumber 0..n-1 in the current order, which closes the gap.
	if _, err := tx.Exec(ctx, `
		UPDATE shortcuts s SET order_index = r.rn, updated_at = $2
		FROM (SELECT id, row_number() OVER (`+shortcutOrder+`) - 1 AS rn FROM shortcuts WHERE user_id = $1) r
		WHERE s.id = r.id AND s.order_index IS DISTINCT FROM r.rn`, userID, tx.now); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.ShortcutDeletedAudit(sc)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// ReorderShortcuts numbers the user's shortcuts in the order of ids, in one
// statement of one transaction, under the owner's order lock.
func (db *DB) ReorderShortcuts(ctx context.Context, userID int, ids []int) ([]*workspace.Shortcut, error) {
	if len(ids) > workspace.MaxShortcuts {
		return nil, workspace.Invalid("ids", "must have at most %d items", workspace.MaxShortcuts)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	if err := lockShortcuts(ctx, tx, userID); err != nil {
		return nil, err
	}
	current, err := findShortcuts(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	owned := make([]int, len(current))
	for i, sc := range current {
		owned[i] = sc.ID
	}
	if err := workspace.CheckShortcutOrder(ids, owned); err != nil {
		return nil, err
	}
	order := make([]int32, len(ids))
	for i, id := range ids {
		order[i] = int32(id)
	}
	// WITH ORDINALITY numbers the array's elements from 1.
	tag, err := tx.Exec(ctx, `
		UPDATE shortcuts s SET order_index = o.ord - 1, updated_at = $3
		FROM unnest($2::int4[]) WITH ORDINALITY AS o(id, ord)
		WHERE s.id = o.id AND s.user_id = $1 AND s.order_index IS DISTINCT FROM o.ord - 1`,
		userID, order, tx.now)
	if err != nil {
		return nil, mapErr(err)
	}
	if tag.RowsAffected() > 0 {
		if err := insertActivity(ctx, tx, workspace.ShortcutReorderedAudit(ids)); err != nil {
			return nil, err
		}
	}
	list, err := findShortcuts(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	return list, mapErr(tx.Commit(ctx))
}
