package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"workspace"
)

const lotColumns = `id, user_id, status, item_count, description, received_at, processed_at, created_at, updated_at`

func scanLot(s scanner) (*workspace.Lot, error) {
	var (
		l      workspace.Lot
		status string
		desc   sql.NullString
	)
	if err := s.Scan(&l.ID, &l.UserID, &status, &l.ItemCount, &desc, timeScanner{&l.ReceivedAt},
		nullTimeScanner{&l.ProcessedAt}, timeScanner{&l.CreatedAt}, timeScanner{&l.UpdatedAt}); err != nil {
		return nil, mapErr(err)
	}
	l.Status, l.Description = workspace.LotStatus(status), ptrNull(desc)
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
	l, err := scanLot(q.QueryRowContext(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = ?`, id))
	return l, lotNotFound(err)
}

// requireUser returns ENOTFOUND unless the user exists: a row that would
// reference a missing user is refused with a clear answer rather than a
// foreign-key error.
func requireUser(ctx context.Context, tx *Tx, id int) error {
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, id).Scan(&exists); err != nil {
		return mapErr(err)
	}
	if exists == 0 {
		return workspace.Errorf(workspace.ENOTFOUND, "User not found.")
	}
	return nil
}

// FindLotByID returns the lot with id.
func (db *DB) FindLotByID(ctx context.Context, id int) (*workspace.Lot, error) {
	return findLotByID(ctx, db.read, id)
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
	where, args := []string{"1=1"}, []any{}
	if after > 0 {
		where, args = append(where, "id < ?"), append(args, after)
	}
	if f.Status != nil {
		where, args = append(where, "status = ?"), append(args, string(*f.Status))
	}
	if f.ReceivedFrom != nil {
		where, args = append(where, "received_at >= ?"), append(args, fmtTime(*f.ReceivedFrom))
	}
	if f.ReceivedTo != nil {
		where, args = append(where, "received_at < ?"), append(args, fmtTime(*f.ReceivedTo))
	}
	// Only fixed fragments are joined; every value is a bound parameter.
	rows, err := db.read.QueryContext(ctx, `SELECT `+lotColumns+` FROM lots WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
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
	defer tx.Rollback()
	if err := requireUser(ctx, tx, l.UserID); err != nil {
		return err
	}
	if l.ReceivedAt.IsZero() {
		l.ReceivedAt = tx.now
	}
	l.CreatedAt, l.UpdatedAt = tx.now, tx.now
	err = tx.QueryRowContext(ctx, `
		INSERT INTO lots (user_id, status, item_count, description, received_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		l.UserID, string(l.Status), l.ItemCount, l.Description, fmtTime(l.ReceivedAt), fmtTime(tx.now), fmtTime(tx.now)).Scan(&l.ID)
	if err != nil {
		return mapErr(err)
	}
	if err := insertActivity(ctx, tx, workspace.LotCreatedAudit(l)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// UpdateLot applies upd to the lot with id. A status change is a
// conditional UPDATE on the status it was decided from, so of two
// concurrent transitions only one can succeed.
func (db *DB) UpdateLot(ctx context.Context, id int, upd workspace.LotUpdate) (*workspace.Lot, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
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
	set, args := []string{"updated_at = ?"}, []any{fmtTime(tx.now)}
	if upd.Status != nil {
		set, args = append(set, "status = ?", "processed_at = ?"), append(args, string(l.Status), fmtNullTime(l.ProcessedAt))
	}
	if upd.ItemCount != nil {
		set, args = append(set, "item_count = ?"), append(args, l.ItemCount)
	}
	if upd.Description != nil {
		set, args = append(set, "description = ?"), append(args, l.Description)
	}
	where, args := "id = ?", append(args, id)
	if upd.Status != nil {
		where, args = where+" AND status = ?", append(args, string(from))
	}
	l, err = scanLot(tx.QueryRowContext(ctx, `UPDATE lots SET `+strings.Join(set, ", ")+` WHERE `+where+
		` RETURNING `+lotColumns, args...))
	if workspace.ErrorCode(err) == workspace.ENOTFOUND {
		return nil, lotRaceLost(ctx, tx, id)
	} else if err != nil {
		return nil, err
	}
	for _, a := range audits {
		if err := insertActivity(ctx, tx, a); err != nil {
			return nil, err
		}
	}
	return l, mapErr(tx.Commit())
}

// lotRaceLost explains a conditional update that matched no row: the lot
// was deleted, or its status changed since it was read.
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
	defer tx.Rollback()
	l, err := scanLot(tx.QueryRowContext(ctx, `DELETE FROM lots WHERE id = ? RETURNING `+lotColumns, id))
	if err != nil {
		return lotNotFound(err)
	}
	if err := insertActivity(ctx, tx, workspace.LotDeletedAudit(l)); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}
