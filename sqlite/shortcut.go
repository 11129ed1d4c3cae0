package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"workspace"
)

// shortcutColumns reads a NULL action_type or order_index (rows not written
// by this API) as "" and 0.
const shortcutColumns = `id, user_id, name, description, icon, COALESCE(action_type, ''), action_data,
	COALESCE(order_index, 0), created_at, updated_at`

// shortcutOrder is the order of a user's list; rows without an order_index
// come last on both engines.
const shortcutOrder = ` ORDER BY order_index NULLS LAST, id`

func scanShortcut(s scanner) (*workspace.Shortcut, error) {
	var (
		sc                     workspace.Shortcut
		desc, icon, actionData sql.NullString
	)
	if err := s.Scan(&sc.ID, &sc.UserID, &sc.Name, &desc, &icon, &sc.ActionType, &actionData, &sc.OrderIndex,
		timeScanner{&sc.CreatedAt}, timeScanner{&sc.UpdatedAt}); err != nil {
		return nil, mapErr(err)
	}
	sc.Description, sc.Icon = ptrNull(desc), ptrNull(icon)
	if actionData.Valid {
		sc.ActionData = json.RawMessage(actionData.String)
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

func findShortcutByID(ctx context.Context, q querier, userID, id int) (*workspace.Shortcut, error) {
	sc, err := scanShortcut(q.QueryRowContext(ctx, `SELECT `+shortcutColumns+` FROM shortcuts WHERE id = ? AND user_id = ?`, id, userID))
	return sc, shortcutNotFound(err)
}

type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func findShortcuts(ctx context.Context, q rowsQuerier, userID int) ([]*workspace.Shortcut, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+shortcutColumns+` FROM shortcuts WHERE user_id = ?`+shortcutOrder, userID)
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

func jsonArg(data json.RawMessage) any {
	if data == nil {
		return nil
	}
	return string(data)
}

// FindShortcuts returns the user's shortcuts in order.
func (db *DB) FindShortcuts(ctx context.Context, userID int) ([]*workspace.Shortcut, error) {
	return findShortcuts(ctx, db.read, userID)
}

// FindShortcutByID returns the user's shortcut with id.
func (db *DB) FindShortcutByID(ctx context.Context, userID, id int) (*workspace.Shortcut, error) {
	return findShortcutByID(ctx, db.read, userID, id)
}

// CreateShortcut appends sc to its owner's list. The count that places it
// is taken inside the write transaction, which SQLite runs alone.
func (db *DB) CreateShortcut(ctx context.Context, sc *workspace.Shortcut) error {
	if err := workspace.PrepareNewShortcut(sc); err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := requireUser(ctx, tx, sc.UserID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM shortcuts WHERE user_id = ?`, sc.UserID).Scan(&n); err != nil {
		return mapErr(err)
	}
	if n >= workspace.MaxShortcuts {
		return workspace.Errorf(workspace.ECONFLICT, "You already have %d shortcuts, the most allowed; delete one first.", n)
	}
	sc.OrderIndex, sc.CreatedAt, sc.UpdatedAt = n, tx.now, tx.now
	err = tx.QueryRowContext(ctx, `
		INSERT INTO shortcuts (user_id, name, description, icon, action_type, action_data, order_index, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		sc.UserID, sc.Name, sc.Description, sc.Icon, sc.ActionType, jsonArg(sc.ActionData), sc.OrderIndex,
		fmtTime(tx.now), fmtTime(tx.now)).Scan(&sc.ID)
	if err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.ShortcutCreatedAudit(sc)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// UpdateShortcut applies upd to the user's shortcut with id.
func (db *DB) UpdateShortcut(ctx context.Context, userID, id int, upd workspace.ShortcutUpdate) (*workspace.Shortcut, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	sc, err := findShortcutByID(ctx, tx, userID, id)
	if err != nil {
		return nil, err
	}
	audit, err := workspace.ApplyShortcutUpdate(sc, upd, tx.now)
	if err != nil || audit == nil {
		return sc, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE shortcuts SET name = ?, description = ?, icon = ?, action_type = ?,
		action_data = ?, updated_at = ? WHERE id = ? AND user_id = ?`,
		sc.Name, sc.Description, sc.Icon, sc.ActionType, jsonArg(sc.ActionData), fmtTime(tx.now), id, userID); err != nil {
		return nil, mapErr(err)
	}
	if err := insertActivity(ctx, tx, *audit); err != nil {
		return nil, err
	}
	return sc, mapErr(tx.Commit())
}

// DeleteShortcut deletes the user's shortcut with id and renumbers the rest.
func (db *DB) DeleteShortcut(ctx context.Context, userID, id int) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	sc, err := scanShortcut(tx.QueryRowContext(ctx, `DELETE FROM shortcuts WHERE id = ? AND user_id = ? RETURNING `+shortcutColumns, id, userID))
	if err != nil {
		return shortcutNotFound(err)
	}
	// Renumber 0..n-1 in the current order, which closes the gap.
	if _, err := tx.ExecContext(ctx, `
		UPDATE shortcuts SET order_index = r.rn, updated_at = ?
		FROM (SELECT id, row_number() OVER (`+shortcutOrder+`) - 1 AS rn FROM shortcuts WHERE user_id = ?) AS r
		WHERE shortcuts.id = r.id AND shortcuts.order_index IS NOT r.rn`, fmtTime(tx.now), userID); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.ShortcutDeletedAudit(sc)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// ReorderShortcuts numbers the user's shortcuts in the order of ids, in one
// statement of one transaction.
func (db *DB) ReorderShortcuts(ctx context.Context, userID int, ids []int) ([]*workspace.Shortcut, error) {
	if len(ids) > workspace.MaxShortcuts {
		return nil, workspace.Invalid("ids", "must have at most %d items", workspace.MaxShortcuts)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
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
	order, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	// json_each numbers the array's elements from 0: its key is the new index.
	res, err := tx.ExecContext(ctx, `
		UPDATE shortcuts SET order_index = j.key, updated_at = ?
		FROM json_each(?) AS j
		WHERE shortcuts.id = j.value AND shortcuts.user_id = ? AND shortcuts.order_index IS NOT j.key`,
		fmtTime(tx.now), string(order), userID)
	if err != nil {
		return nil, mapErr(err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := insertActivity(ctx, tx, workspace.ShortcutReorderedAudit(ids)); err != nil {
			return nil, err
		}
	}
	list, err := findShortcuts(ctx, tx, userID)
	if err != nil {
		return nil, err
	}
	return list, mapErr(tx.Commit())
}
