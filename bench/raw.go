package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"workspace/sqlite"
)

// rawDB does the server's message INSERT and page SELECT straight on the
// database, through the driver and settings the server's store uses:
// SQLite (modernc) with one writer connection whose transactions begin
// IMMEDIATE and a read-only pool, opened by the store's own DSNs
// (sqlite.WriterDSN, sqlite.ReaderDSN), so its pragmas cannot drift; on
// PostgreSQL a pgxpool with the pool's defaults and the UTC session time
// zone (postgres.Open).
//
// Statements are prepared once and reused, as the server does: pgx caches
// them by itself; on SQLite the raw side holds *sql.Stmt for the server's
// SQL (database/sql prepares each on every connection it runs on),
// so neither side parses SQL per request. The raw side has none of the
// server's own work-savers: no group commit of sends, and no background
// checkpointer (sqlite/checkpoint.go): its writer copies the WAL into the
// database file itself, inline, as SQLite does by default, at the same
// wal_autocheckpoint as the server's writer.
type rawDB struct {
	write, read *sql.DB       // SQLite
	pool        *pgxpool.Pool // PostgreSQL

	// SQLite: the server's INSERT on the writer, its newest-page and
	// page-before SELECTs on the readers.
	insertStmt, newestStmt, beforeStmt *sql.Stmt

	// PostgreSQL: whether the server runs autovacuum (see settle).
	autovacuum bool
}

// settle stands in for PostgreSQL's autovacuum where the server has it
// off, before each scenario: VACUUM (ANALYZE) of the run's database, so a
// scenario does not read the dead rows earlier ones left. Each send
// rewrites its conversation's row (last message, counters) and every
// index entry of it: a 10 s send scenario left 50k dead versions of the
// 1,000 conversation rows, and the conversation list after it ran at
// 2,013-2,307 req/s without this, 2,559-2,714 with it (two runs each).
// With autovacuum on (PostgreSQL's default) nothing is done:
// the server's own autovacuum is part of what is measured. It reports
// whether it vacuumed.
func (r *rawDB) settle(ctx context.Context) (bool, error) {
	if r.pool == nil || r.autovacuum {
		return false, nil
	}
	if _, err := r.pool.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return false, fmt.Errorf("VACUUM (ANALYZE): %w", err)
	}
	return true, nil
}

func openRaw(ctx context.Context, engine, dsn string) (*rawDB, error) {
	if engine == "postgres" {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
		cfg.ConnConfig.RuntimeParams["application_name"] = "workspace-bench-raw"
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r := &rawDB{pool: pool}
		if err := pool.QueryRow(ctx, `SELECT current_setting('autovacuum') = 'on'`).Scan(&r.autovacuum); err != nil {
			pool.Close()
			return nil, err
		}
		return r, nil
	}
	write, err := sql.Open("sqlite", sqlite.WriterDSN(dsn))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	n := sqlite.ReadPoolSize()
	read, err := sql.Open("sqlite", sqlite.ReaderDSN(dsn, n))
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	r := &rawDB{write: write, read: read}
	if err := write.PingContext(ctx); err != nil {
		r.close()
		return nil, err
	}
	for _, p := range []struct {
		st **sql.Stmt
		db *sql.DB
		q  string
	}{
		{&r.insertStmt, write, sqliteInsert},
		{&r.newestStmt, read, rawColumns + sqliteNewest},
		{&r.beforeStmt, read, rawColumns + sqliteBefore},
	} {
		if *p.st, err = p.db.PrepareContext(ctx, p.q); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

func (r *rawDB) close() {
	if r.pool != nil {
		r.pool.Close()
		return
	}
	for _, st := range []*sql.Stmt{r.insertStmt, r.newestStmt, r.beforeStmt} {
		if st != nil {
			st.Close()
		}
	}
	r.read.Close()
	r.write.Close()
}

// The server's SQLite INSERT (sqlite.insertMessage) and page SELECTs
// (sqlite.DB.FindMessages), the same SQL: the CAST and + 0 keep the
// cached plan once sqlite_stat4 exists (see there).
const (
	sqliteInsert = `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id, (SELECT username FROM users WHERE id = ?)`
	sqliteNewest = `WHERE m.conversation_id = CAST(? AS TEXT) ORDER BY m.id DESC LIMIT ?`
	sqliteBefore = `WHERE m.conversation_id = CAST(? AS TEXT) AND m.id < ? + 0 ORDER BY m.id DESC LIMIT ?`
)

// insert is the INSERT of the server's CreateMessage (a channel message),
// and only that: not the conversation and cursor upserts that keep the
// server's unread counters (migration 00010), so messages it adds are not
// counted as unread in the scenarios after it. That changes numbers, not
// the cost of a conversation list, which reads the counters whatever
// they say.
func (r *rawDB) insert(ctx context.Context, userID int, conv, text string) error {
	var id int64
	var username string
	now := time.Now().UTC().Truncate(time.Microsecond)
	if r.pool != nil {
		return r.pool.QueryRow(ctx, `INSERT INTO messages (user_id, conversation_id, text, is_read, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, (SELECT username FROM users WHERE id = $1)`,
			userID, conv, text, true, now).Scan(&id, &username)
	}
	// The statement is stepped to its end (rows.Next until false), not
	// read with QueryRow: SQLite runs its WAL hook, the auto-checkpoint,
	// only when a statement that commits steps to SQLITE_DONE. QueryRow
	// resets it after the first row, so the commit happens in the reset and
	// the WAL is never checkpointed: it grew by 2 GB in a 10 s slice, a
	// baseline no database could sustain and one that skipped the
	// checkpoint work (~11 % of the server's send CPU when its COMMIT
	// still checkpointed; its checkpointer does that work now).
	ts := now.Format(sqliteTime)
	rows, err := r.insertStmt.QueryContext(ctx, userID, conv, text, true, ts, ts, userID)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := rows.Scan(&id, &username); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("insert returned %d rows", n)
	}
	return nil
}

const rawColumns = `SELECT m.id, m.user_id, u.username, COALESCE(m.conversation_id, ''), m.text, m.is_read, m.created_at, m.updated_at, m.deleted_at
	FROM messages m JOIN users u ON u.id = m.user_id `

// page is the SELECT of the server's FindMessages: the newest 51 messages
// of conv, or the 51 before the id before. It returns the last id of the
// page of 50 and the number of rows.
func (r *rawDB) page(ctx context.Context, conv string, before int) (last, n int, err error) {
	var (
		id, userID          int
		username, cid, text string
		isRead              bool
		created, updated    time.Time
		deleted             *time.Time
		sCreated, sUpdated  string
		sDeleted            sql.NullString
		pgq                 string
		st                  = r.newestStmt
		args                []any
	)
	// The PostgreSQL store writes the LIMIT as a literal (postgres.pageLimit),
	// so the raw query does too; SQLite binds it (the last argument).
	if before > 0 {
		pgq, st = `WHERE m.conversation_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT 51`, r.beforeStmt
		args = []any{conv, before}
	} else {
		pgq = `WHERE m.conversation_id = $1 ORDER BY m.id DESC LIMIT 51`
		args = []any{conv}
	}
	if r.pool != nil {
		rows, err := r.pool.Query(ctx, rawColumns+pgq, args...)
		if err != nil {
			return 0, 0, err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&id, &userID, &username, &cid, &text, &isRead, &created, &updated, &deleted); err != nil {
				return 0, 0, err
			}
			if n++; n == 50 {
				last = id
			}
		}
		return last, n, rows.Err()
	}
	rows, err := st.QueryContext(ctx, append(args, 51)...)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(&id, &userID, &username, &cid, &text, &isRead, &sCreated, &sUpdated, &sDeleted); err != nil {
			return 0, 0, err
		}
		if n++; n == 50 {
			last = id
		}
	}
	return last, n, rows.Err()
}
