package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// The modernc driver compiles every statement it is given: without a cache
// each request parses its SQL again (the profile showed SQLite's parser at
// a sixth of the CPU of a request). Reads use statements prepared once per
// query text; database/sql prepares them on each pooled connection as
// needed. The query texts are constants or joins of constant fragments, so
// the cache stays small. (Writes are not cached: the single writer
// connection is held by the transaction, so preparing outside it would
// wait for it.)

// stmtCache prepares each distinct query once on a *sql.DB.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}} }

func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.stmts[q] = st
	return st, nil
}

// QueryContext runs a cached statement.
func (c *stmtCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a cached statement for one row. A preparation error
// surfaces from Scan, as with *sql.DB.
func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.db.QueryRowContext(ctx, q, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// ExecContext runs a cached statement.
func (c *stmtCache) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	clear(c.stmts)
}

// writeCache holds statements prepared on the single writer connection.
// A statement can only be prepared there while no transaction holds the
// connection, so a transaction runs a query it has no statement for as
// plain SQL, notes it, and prepares it once it has ended (prepareMissed):
// from then on every transaction binds the cached statement to itself
// (sql.Tx.StmtContext reuses the driver statement already prepared on the
// connection).
type writeCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newWriteCache(db *sql.DB) *writeCache {
	return &writeCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (c *writeCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q]
}

// prepare prepares the queries not yet cached. It waits for the writer
// connection, so it must not be called inside a transaction. A query that
// does not prepare stays uncached (its transaction already reported why).
func (c *writeCache) prepare(qs []string) {
	for _, q := range qs {
		if c.get(q) != nil {
			continue
		}
		st, err := c.db.Prepare(q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.stmts[q]; ok {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *writeCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	clear(c.stmts)
}

// ExecContext runs q in the transaction, through the cached statement if any.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := tx.stmts.get(q); st != nil {
		return tx.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	tx.missed = append(tx.missed, q)
	return tx.Tx.ExecContext(ctx, q, args...)
}

// QueryContext runs q in the transaction, through the cached statement if any.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := tx.stmts.get(q); st != nil {
		return tx.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	tx.missed = append(tx.missed, q)
	return tx.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q in the transaction, through the cached statement if any.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := tx.stmts.get(q); st != nil {
		return tx.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	tx.missed = append(tx.missed, q)
	return tx.Tx.QueryRowContext(ctx, q, args...)
}

// Commit commits, then prepares the queries the transaction ran uncached
// and, if it committed, tells the checkpointer.
func (tx *Tx) Commit() error {
	err := tx.Tx.Commit()
	tx.prepareMissed()
	if err == nil {
		tx.ckpt.committed()
	}
	return err
}

// Rollback rolls back (sql.ErrTxDone after Commit), then prepares the
// queries the transaction ran uncached.
func (tx *Tx) Rollback() error {
	err := tx.Tx.Rollback()
	tx.prepareMissed()
	return err
}

func (tx *Tx) prepareMissed() {
	if len(tx.missed) > 0 {
		tx.stmts.prepare(tx.missed)
		tx.missed = nil
	}
}
