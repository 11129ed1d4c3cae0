package sqlite

import (
	"context"
	"database/sql"
	"maps"
	"net/netip"
	"slices"
	"strings"

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
	meta, err := a.EncodeMetadata()
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
	return out, next, nil
}

func ptrNull(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}
