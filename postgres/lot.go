package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"workspace"
)

const lotColumns = `id, user_id, status, item_count, description, received_at, processed_at, created_at, updated_at`

func scanLot(row pgx.Row) (*workspace.Lot, error) {
	var l workspace.Lot
	var status string
	if err := row.Scan(&l.ID, &l.UserID, &status, &l.ItemCount, &l.Description, &l.ReceivedAt, &l.ProcessedAt,
		&l.CreatedAt, &l.UpdatedAt); err != nil {
		return nil, mapErr(err)
	}
	l.Status = workspace.LotStatus(status)
	return &l, nil
}

// lotNotFound is the ENOTFOUND of lots; scanLot's generic one becomes it.
func lotNotFound(err error) error {
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return workspace.Errorf(workspace.ENOTFOUND, "Lot not found.")
	}
	return err
}

func findLotByID(ctx context.Context, q querier, id int) (*workspace.Lot, error) {
	l, err := scanLot(q.QueryRow(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = $1`, id))
	return l, lotNotFound(err)
}

// requireUser returns ENOTFOUND unless the user exists (see
// sqlite.requireUser).
func requireUser(ctx context.Context, tx *Tx, id int) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, id).Scan(&exists); err != nil {
		return mapErr(err)
	}
	if !exists {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	return nil
}

// FindLotByID returns the lot with id.
func (db *DB) FindLotByID(ctx context.Context, id int) (*workspace.Lot, error) {
	return findLotByID(ctx, db.pool, id)
}

// FindLots returns one page of lots, newest first.
func (db *DB) FindLots(ctx context.Context, f workspace.LotFilter) ([]*workspace.Lot, string, error) {
	if err := f.Validate(); err != nil {
		return nil, "", err
	}
	after, err := workspace.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := workspace.PageLimit(f.Limit)
	var a args
	where := []string{"true"}
	if after > 0 {
		where = append(where, "id < "+a.add(after))
	}
	if f.Status != nil {
		where = append(where, "status = "+a.add(string(*f.Status)))
	}
	if f.ReceivedFrom != nil {
		where = append(where, "received_at >= "+a.add(f.ReceivedFrom.UTC()))
	}
	if f.ReceivedTo != nil {
		where = append(where, "received_at < "+a.add(f.ReceivedTo.UTC()))
	}
	// Only fixed fragments are joined; every value is a bound parameter.
	rows, err := db.pool.Query(ctx, `SELECT `+lotColumns+` FROM lots WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT `+a.add(limit+1), a...)
	if err != nil {
		return nil, "", mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.Lot
	for rows.Next() {
		l, err := scanLot(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(err)
	}
	out, next := workspace.Paginate(out, limit, func(l *workspace.Lot) int64 { return int64(l.ID) })
	return out, next, nil
}

// CreateLot inserts l as received.
func (db *DB) CreateLot(ctx context.Context, l *workspace.Lot) error {
	if err := workspace.PrepareNewLot(ctx, l); err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if err := requireUser(ctx, tx, l.UserID); err != nil {
		return err
	}
	if l.ReceivedAt.IsZero() {
		l.ReceivedAt = tx.now
	}
	l.CreatedAt, l.UpdatedAt = tx.now, tx.now
	if err := tx.QueryRow(ctx, `
		INSERT INTO lots (user_id, status, item_count, description, received_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		l.UserID, string(l.Status), l.ItemCount, l.Description, l.ReceivedAt, tx.now).Scan(&l.ID); err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.LotCreatedAudit(l)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// UpdateLot applies upd to the lot with id. A status change is a
// conditional UPDATE on the status it was decided from: of two concurrent
// transitions the second waits for the first, then finds the status
// changed and matches no row.
func (db *DB) UpdateLot(ctx context.Context, id int, upd workspace.LotUpdate) (*workspace.Lot, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	l, err := findLotByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	from := l.Status
	audits, err := workspace.ApplyLotUpdate(ctx, l, upd, tx.now)
	if err != nil {
		return nil, err
	}
	if len(audits) == 0 {
		return l, nil
	}
	// Only the columns being changed are written, so concurrent edits of
	// different fields do not undo each other.
	var a args
	set := []string{"updated_at = " + a.add(tx.now)}
	if upd.Status != nil {
		set = append(set, "status = "+a.add(string(l.Status)), "processed_at = "+a.add(l.ProcessedAt))
	}
	if upd.ItemCount != nil {
		set = append(set, "item_count = "+a.add(l.ItemCount))
	}
	if upd.Description != nil {
		set = append(set, "description = "+a.add(l.Description))
	}
	where := "id = " + a.add(id)
	if upd.Status != nil {
		where += " AND status = " + a.add(string(from))
	}
	l, err = scanLot(tx.QueryRow(ctx, `UPDATE lots SET `+strings.Join(set, ", ")+` WHERE `+where+` RETURNING `+lotColumns, a...))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, lotRaceLost(ctx, tx, id)
	} else if err != nil {
		return nil, err
	}
	for _, au := range audits {
		if err := insertActivity(ctx, tx, au); err != nil {
			return nil, err
		}
	}
	return l, mapErr(tx.Commit(ctx))
}

// lotRaceLost explains a conditional update that matched no row: the lot
// was deleted, or its status changed since it was read. The new statement
// sees the winner's commit (READ COMMITTED).
func lotRaceLost(ctx context.Context, tx *Tx, id int) error {
	cur, err := findLotByID(ctx, tx, id)
	if err != nil {
		return err
	}
	return workspace.LotStatusChanged(id, cur.Status)
}

// DeleteLot deletes the lot with id (admins only).
func (db *DB) DeleteLot(ctx context.Context, id int) error {
	if !workspace.CanDeleteLot(workspace.ActorFromContext(ctx)) {
		return workspace.Errorf(workspace.EFORBIDDEN, "Only an admin can delete lots.")
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	l, err := scanLot(tx.QueryRow(ctx, `DELETE FROM lots WHERE id = $1 RETURNING `+lotColumns, id))
	if err != nil {
		return lotNotFound(err)
	}
	if err := insertActivity(ctx, tx, workspace.LotDeletedAudit(l)); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}
