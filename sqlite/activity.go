package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"workspace"
)

// insertActivity writes one audit row in tx. The actor, IP and user agent
// come from the context; metadata is redacted.
func insertActivity(ctx context.Context, tx *Tx, a workspace.Audit) error {
	actor := workspace.ActorFromContext(ctx)
	var userID any
	if id := a.Subject(actor); id != 0 {
		userID = id
	}
	meta, err := a.EncodeMetadataWith(tx.cipher)
	if err != nil {
		return err
	}
	var metaArg any
	if meta != nil {
		metaArg = string(meta)
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO activity_logs (user_id, action, metadata, ip_address, user_agent, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		userID, a.Action, metaArg, ipArg(actor.IP), nullString(workspace.ClampUserAgent(actor.UserAgent)), fmtTime(tx.now))
	return mapErr(err)
}

// ipArg returns the canonical form of a valid IP address, else NULL.
func ipArg(ip string) any {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	return addr.Unmap().String()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// WriteAudit records an audit row that accompanies no stored mutation.
func (db *DB) WriteAudit(ctx context.Context, a workspace.Audit) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertActivity(ctx, tx, a); err != nil {
		return err
	}
	return mapErr(tx.Commit())
}

// FindActivityLogs returns one page of audit rows, newest first.
func (db *DB) FindActivityLogs(ctx context.Context, f workspace.ActivityFilter) ([]*workspace.ActivityLog, string, error) {
	after, err := workspace.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	limit := workspace.PageLimit(f.Limit)
	where, args := []string{"1=1"}, []any{}
	if after > 0 {
		where, args = append(where, "id < ?"), append(args, after)
	}
	if f.UserID != nil {
		where, args = append(where, "user_id = ?"), append(args, *f.UserID)
	}
	if f.Action != nil {
		if prefix, ok := strings.CutSuffix(*f.Action, "*"); ok {
			where, args = append(where, "substr(action, 1, ?) = ?"), append(args, len(prefix), prefix)
		} else {
			where, args = append(where, "action = ?"), append(args, *f.Action)
		}
	}
	if f.Since != nil {
		where, args = append(where, "created_at >= ?"), append(args, fmtTime(*f.Since))
	}
	if f.Until != nil {
		where, args = append(where, "created_at < ?"), append(args, fmtTime(*f.Until))
	}
	if err := workspace.ValidateMetadataFilter(f.Metadata); err != nil {
		return nil, "", err
	}
	if err := db.Cipher.CheckFilter(f.Metadata); err != nil {
		return nil, "", err
	}
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		path := `$."` + k + `"` // k is validated; the path is bound anyway
		switch v := f.Metadata[k].(type) {
		case bool:
			typ := "false"
			if v {
				typ = "true"
			}
			where, args = append(where, "json_type(metadata, ?) = ?"), append(args, path, typ)
		case float64:
			where, args = append(where, "json_type(metadata, ?) IN ('integer', 'real') AND json_extract(metadata, ?) = ?"), append(args, path, path, v)
		case string:
			where, args = append(where, "json_type(metadata, ?) = 'text' AND json_extract(metadata, ?) = ?"), append(args, path, path, v)
		}
	}
	// Only fixed fragments are joined; every value is a bound parameter.
	q := `SELECT id, user_id, action, metadata, ip_address, user_agent, created_at
		FROM activity_logs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ?`
	rows, err := db.read.QueryContext(ctx, q, append(args, limit+1)...)
	if err != nil {
		return nil, "", mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.ActivityLog
	for rows.Next() {
		var (
			l         workspace.ActivityLog
			userID    sql.NullInt64
			meta      sql.NullString
			ip, agent sql.NullString
		)
		if err := rows.Scan(&l.ID, &userID, &l.Action, &meta, &ip, &agent, timeScanner{&l.CreatedAt}); err != nil {
			return nil, "", err
		}
		if userID.Valid {
			id := int(userID.Int64)
			l.UserID = &id
		}
		if meta.Valid {
			l.Metadata = []byte(meta.String)
		}
		l.IPAddress = ptrNull(ip)
		l.UserAgent = ptrNull(agent)
		out = append(out, &l)
	}
	if err := rows.Err(); err != nil {
		return nil, "", mapErr(err)
	}
	out, next := workspace.Paginate(out, limit, func(l *workspace.ActivityLog) int64 { return int64(l.ID) })
	if err := db.Cipher.DecryptLogs(out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func ptrNull(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// PruneActivityLogs deletes audit rows created before before, batch rows
// per write transaction, so other writers get the single writer
// connection between batches.
func (db *DB) PruneActivityLogs(ctx context.Context, before time.Time, batch int) (workspace.PruneResult, error) {
	if batch <= 0 {
		batch = workspace.DefaultPruneBatch
	}
	var res workspace.PruneResult
	var pruneErr error // a failed batch: the committed ones are still recorded
	for {
		n, err := db.pruneBatch(ctx, before, batch)
		if err != nil {
			pruneErr = err
			break
		}
		if n > 0 {
			res.Deleted += n
			res.Batches++
		}
		if n < int64(batch) {
			break
		}
	}
	if res.Deleted == 0 {
		return res, pruneErr
	}
	// Committed batches are recorded even when a later one failed or the
	// context ended (serve stopping mid-retention).
	return res, errors.Join(pruneErr, db.WriteAudit(context.WithoutCancel(ctx), workspace.Audit{Action: workspace.ActionActivityPrune,
		Metadata: map[string]any{"before": before.UTC().Format(time.RFC3339Nano), "deleted": res.Deleted}}))
}

func (db *DB) pruneBatch(ctx context.Context, before time.Time, batch int) (int64, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The oldest rows first, through idx_activity_logs_created.
	r, err := tx.ExecContext(ctx, `
		DELETE FROM activity_logs WHERE id IN (
			SELECT id FROM activity_logs WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
		fmtTime(before), batch)
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, mapErr(err)
	}
	return n, mapErr(tx.Commit())
}

// incrementalVacuumStep is the number of free pages given back per
// statement: small enough that writers wait only briefly.
const incrementalVacuumStep = 1000

// ReclaimSpace truncates the file by the pages that deleted rows freed.
func (db *DB) ReclaimSpace(ctx context.Context, full bool) (string, error) {
	if full {
		if _, err := db.exec(ctx, "VACUUM"); err != nil {
			return "", mapErr(err)
		}
		return "VACUUM rewrote the database file", nil
	}
	var mode int
	if err := db.write.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		return "", mapErr(err)
	}
	if mode != 2 {
		// auto_vacuum only changes on a new file or with VACUUM.
		return "the file was created without auto_vacuum=incremental: freed pages are reused but not given back; run `workspace activity prune -vacuum` once to rewrite it", nil
	}
	freelist := func() (int64, error) {
		var n int64
		err := db.write.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&n)
		return n, mapErr(err)
	}
	start, err := freelist()
	if err != nil {
		return "", err
	}
	for free := start; free > 0; {
		// incremental_vacuum answers rows of nothing; drain them.
		rows, err := db.write.QueryContext(ctx, "PRAGMA incremental_vacuum("+strconv.Itoa(incrementalVacuumStep)+")")
		if err != nil {
			return "", mapErr(err)
		}
		for rows.Next() {
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return "", mapErr(err)
		}
		left, err := freelist()
		if err != nil {
			return "", err
		}
		if left >= free {
			break // no progress: never loop forever
		}
		free = left
	}
	end, err := freelist()
	if err != nil {
		return "", err
	}
	pages := start - end
	if pages > 0 {
		db.ckpt.committed() // the file shrinks when the WAL is copied into it
	}
	return fmt.Sprintf("incremental_vacuum gave back %d pages", pages), nil
}
