package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"time"
)

// AutocheckpointPages is the writer's wal_autocheckpoint: the WAL size, in
// pages, at which the writer copies the WAL into the database file itself
// when the checkpointer has not kept it smaller.
//
// With SQLite's default of 1,000 the writer checkpointed inline after
// every few hundred messages: the copying and its two fsyncs (WAL, then
// database file) ran while every other write waited. In a 2 s execution
// trace of the send benchmark the writer spent a quarter of its time
// blocked in those fsyncs. The checkpointer now does that work beside the
// writer, and this larger limit remains as the backstop: the WAL is only
// reset (reused from its start) when a write begins with every frame
// copied, which under a steady stream of writes happens when the writer
// checkpoints itself. The WAL file therefore grows to about this many
// pages of 4 KiB (~40 MB) under sustained writes, and is reused from its
// start after each reset.
const AutocheckpointPages = 10000

// The checkpointer paces itself to copy about checkpointPages frames per
// checkpoint, SQLite's default wal_autocheckpoint, so the database is
// checkpointed about as often as SQLite would by itself, only not by the
// writer: a checkpoint after every commit would cost a lightly used server
// two fsyncs per write. From the frames the last checkpoint found added
// and the time they took, it sets the wait before the next one, within
// these bounds.
//
// (How many frames wait could be read from the wal-index header in the
// -shm file, but not from another file descriptor: closing it would drop
// the process's POSIX locks on the file, SQLite's included. Tried, it
// failed writes with SQLITE_IOERR_IN_PAGE.)
const (
	checkpointPages       = 1000
	minCheckpointInterval = 50 * time.Millisecond
	maxCheckpointInterval = time.Second
)

// checkpointer runs PRAGMA wal_checkpoint(PASSIVE) on a connection of its
// own after writes commit. A passive checkpoint copies the frames no reader
// still needs into the database file without taking the write lock, so
// the writer goes on committing meanwhile; it waits for nothing, and a
// checkpoint already running elsewhere makes it return at once.
type checkpointer struct {
	conn   *sql.DB
	signal chan struct{} // capacity 1: a write committed since the last checkpoint
	stop   chan struct{}
	done   chan struct{}
	ran    func(busy bool, log, copied int, err error) // see startCheckpointer
}

// startCheckpointer opens the checkpointer's connection to the database
// at path and starts its loop; ran, if not nil (tests), is called after
// each checkpoint the loop runs.
func startCheckpointer(path string, pragmas []string, ran func(busy bool, log, copied int, err error)) (*checkpointer, error) {
	q := url.Values{"_pragma": pragmas}
	conn, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	c := &checkpointer{conn: conn, signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), ran: ran}
	go c.run()
	return c, nil
}

// committed tells the checkpointer that a write committed. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.signal <- struct{}{}:
	default: // a checkpoint is already due
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	wait := minCheckpointInterval
	last, frames := time.Now(), 0 // the previous checkpoint: when, and the WAL's frames
	for {
		select {
		case <-c.stop:
			return
		case <-c.signal:
		}
		busy, log, copied, err := c.checkpoint(context.Background())
		if err != nil {
			// The writer's own auto-checkpoint still bounds the WAL.
			slog.Warn("sqlite: background checkpoint failed", "err", err)
		}
		if c.ran != nil {
			c.ran(busy, log, copied, err)
		}
		if err == nil && !busy {
			added := log - frames
			if log < frames { // the WAL started over since
				added = log
			}
			wait = nextInterval(time.Since(last), added)
			last, frames = time.Now(), log
		}
		select {
		case <-c.stop:
			return
		case <-time.After(wait):
		}
	}
}

// nextInterval is the wait before the next checkpoint when the last one
// found added frames written over elapsed: the time in which, at that rate,
// checkpointPages frames are written, within the bounds.
func nextInterval(elapsed time.Duration, added int) time.Duration {
	if added <= 0 {
		return maxCheckpointInterval
	}
	d := time.Duration(float64(elapsed) * checkpointPages / float64(added))
	return min(max(d, minCheckpointInterval), maxCheckpointInterval)
}

// checkpoint runs one passive checkpoint. busy: another connection was
// checkpointing; log: frames in the WAL; copied: frames now in the database
// file (log and copied are -1 when busy).
func (c *checkpointer) checkpoint(ctx context.Context) (busy bool, log, copied int, err error) {
	var b int
	err = c.conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&b, &log, &copied)
	return b != 0, log, copied, err
}

// close stops the loop (waiting for a checkpoint in progress) and closes
// the connection.
func (c *checkpointer) close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	return c.conn.Close()
}
