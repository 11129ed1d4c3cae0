package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"workspace"
)

// insertActivity writes one audit row in tx (see sqlite.insertActivity).
func insertActivity(ctx context.Context, tx *Tx, a workspace.Audit) error {
	actor := workspace.ActorFromContext(ctx)
	var userID *int
	if id := a.Subject(actor); id != 0 {
		userID = &id
	}
	meta, err := a.EncodeMetadataWith(tx.cipher)
	if err != nil {
		return err
	}
	var metaArg *string
	if meta != nil {
		s := string(meta)
		metaArg = &s
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO activity_logs (user_id, action, metadata, ip_address, user_agent, created_at)
		VALUES ($1, $2, $3::jsonb, $4::inet, $5, $6)`,
		userID, a.Action, metaArg, ipArg(actor.IP), nullString(workspace.ClampUserAgent(actor.UserAgent)), tx.now)
	return mapErr(err)
}

func ipArg(ip string) *string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	s := addr.Unmap().String()
	return &s
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// WriteAudit records an audit row that accompanies no stored mutation.
func (db *DB) WriteAudit(ctx context.Context, a workspace.Audit) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if err := insertActivity(ctx, tx, a); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// args builds a positional parameter list for a query assembled from fixed
// fragments: add returns the placeholder of the value it binds.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// FindActivityLogs returns one page of audit rows, newest first.
func (db *DB) FindActivityLogs(ctx context.Context, f workspace.ActivityFilter) ([]*workspace.ActivityLog, string, error) {
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
	if f.UserID != nil {
		where = append(where, "user_id = "+a.add(*f.UserID))
	}
	if f.Action != nil {
		if prefix, ok := strings.CutSuffix(*f.Action, "*"); ok {
			where = append(where, "starts_with(action, "+a.add(prefix)+")")
		} else {
			where = append(where, "action = "+a.add(*f.Action))
		}
	}
	if f.Since != nil {
		where = append(where, "created_at >= "+a.add(f.Since.UTC()))
	}
	if f.Until != nil {
		where = append(where, "created_at < "+a.add(f.Until.UTC()))
	}
	if err := workspace.ValidateMetadataFilter(f.Metadata); err != nil {
		return nil, "", err
	}
	if err := db.Cipher.CheckFilter(f.Metadata); err != nil {
		return nil, "", err
	}
	if len(f.Metadata) > 0 {
		b, err := json.Marshal(f.Metadata)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "metadata @> "+a.add(string(b))+"::jsonb")
	}
	q := `SELECT id, user_id, action, metadata, host(ip_address), user_agent, created_at
		FROM activity_logs WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id DESC LIMIT ` + a.add(limit+1)
	rows, err := db.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, "", mapErr(err)
	}
	defer rows.Close()
	var out []*workspace.ActivityLog
	for rows.Next() {
		var l workspace.ActivityLog
		var meta []byte
		if err := rows.Scan(&l.ID, &l.UserID, &l.Action, &meta, &l.IPAddress, &l.UserAgent, &l.CreatedAt); err != nil {
			return nil, "", mapErr(err)
		}
		if meta != nil {
			l.Metadata = meta
		}
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

// PruneActivityLogs deletes audit rows created before before, batch rows
// per transaction: each batch locks only its own rows, briefly.
func (db *DB) PruneActivityLogs(ctx context.Context, before time.Time, batch int) (workspace.PruneResult, error) {
	if batch <= 0 {
		batch = workspace.DefaultPruneBatch
	}
	var res workspace.PruneResult
	var pruneErr error // a failed batch: the committed ones are still recorded
	for {
		// One statement is one transaction: the oldest rows first, through
		// idx_activity_logs_created.
		tag, err := db.pool.Exec(ctx, `
			DELETE FROM activity_logs WHERE id IN (
				SELECT id FROM activity_logs WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
			before.UTC(), batch)
		if err != nil {
			pruneErr = mapErr(err)
			break
		}
		n := tag.RowsAffected()
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

// ReclaimSpace runs VACUUM (ANALYZE) on activity_logs: the space of the
// deleted rows becomes reusable and the planner's statistics fresh, under
// a lock that lets reads and writes go on. Never VACUUM FULL, whose
// exclusive lock would stop the application; full is ignored. A role that
// does not own the table gets a warning from the server and nothing done.
func (db *DB) ReclaimSpace(ctx context.Context, full bool) (string, error) {
	if _, err := db.pool.Exec(ctx, "VACUUM (ANALYZE) activity_logs"); err != nil {
		return "", mapErr(err)
	}
	return "VACUUM (ANALYZE) activity_logs: freed space is reusable (never VACUUM FULL, which locks the table)", nil
}
