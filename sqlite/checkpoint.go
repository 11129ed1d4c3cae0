package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
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
// writer, and this larger limit remains as the backstop. The WAL is only
// started over (reused from its start) when a write begins with every
// frame copied and no reader on an older snapshot; under a steady stream
// of writes that happens when the writer checkpoints itself. So the WAL
// file grows to about this many pages of 4 KiB (~40 MB) under sustained
// writes, more while readers hold old snapshots, and is then reused.
const AutocheckpointPages = 10000

// The checkpointer paces itself to copy about checkpointPages frames per
// checkpoint, SQLite's default wal_autocheckpoint, so the database is
// checkpointed about as often as SQLite would by itself, only not by the
// writer. From the frames the last checkpoint found added and the time
// they took it sets the time of the next one, between the interval
// bounds; burstCommits commits bring it forward, so a burst after a quiet
// spell is not left to the writer's backstop. A write after a quiet spell
// waits up to maxCheckpointInterval for its checkpoint, so sparse writes
// cost two fsyncs per maxCheckpointInterval at most, not two per write.
//
// (How many frames wait could be read from the wal-index header in the
// -shm file, but not from another file descriptor: closing it would drop
// the process's POSIX locks on the file, SQLite's included. Tried, it
// failed writes with SQLITE_IOERR_IN_PAGE.)
const (
	checkpointPages       = 1000
	minCheckpointInterval = 50 * time.Millisecond
	maxCheckpointInterval = 5 * time.Second
	burstCommits          = 100
)

// checkpointer runs PRAGMA wal_checkpoint(PASSIVE) on a connection of its
// own after writes commit. A passive checkpoint copies the frames no reader
// still needs into the database file without taking the write lock, so
// the writer goes on committing meanwhile; it waits for nothing, and a
// checkpoint already running elsewhere makes it return at once. Its
// connection has the writer's synchronous(NORMAL): the checkpoint syncs
// the WAL before copying and the database file after, which is what makes
// the copied frames durable (never OFF).
type checkpointer struct {
	conn    *sql.DB
	commits atomic.Int64  // commits since the last checkpoint
	signal  chan struct{} // capacity 1: a write committed since the last look
	ctx     context.Context
	stop    context.CancelFunc // ends the loop and interrupts a checkpoint
	done    chan struct{}
	test    checkpointTest
}

// checkpointTest is what a test sets on the checkpointer; Open passes the
// zero value.
type checkpointTest struct {
	// ran, if set, is called after each checkpoint the loop runs.
	ran func(busy bool, log, copied int, err error)
	// firstWait, if set, replaces maxCheckpointInterval as the paced wait
	// before the first checkpoint (a test of the burst path sets it long).
	firstWait time.Duration
}

// startCheckpointer opens the checkpointer's connection by dsn and starts
// its loop.
func startCheckpointer(dsn string, test checkpointTest) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, signal: make(chan struct{}, 1), ctx: ctx, stop: stop, done: make(chan struct{}), test: test}
	go c.run()
	return c, nil
}

// committed tells the checkpointer that a write committed. It never blocks,
// and wakes the loop only for the first commit since a checkpoint and for
// the burstCommits-th.
func (c *checkpointer) committed() {
	if n := c.commits.Add(1); n == 1 || n == burstCommits {
		select {
		case c.signal <- struct{}{}:
		default: // already told
		}
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	wait := cmp.Or(c.test.firstWait, maxCheckpointInterval)
	last, frames := time.Now(), 0 // the previous checkpoint: when, and the WAL's frames
	for {
		// Wait for a commit, then for the paced time or a burst.
		select {
		case <-c.ctx.Done():
			return
		case <-c.signal:
		}
		if c.commits.Load() < burstCommits {
			timer := time.NewTimer(time.Until(last.Add(wait)))
			select {
			case <-c.ctx.Done():
				timer.Stop()
				return
			case <-c.signal:
			case <-timer.C:
			}
			timer.Stop()
		}

		c.commits.Store(0)
		busy, log, copied, err := c.checkpoint(c.ctx)
		if c.ctx.Err() != nil {
			return // interrupted by close
		}
		if c.test.ran != nil {
			c.test.ran(busy, log, copied, err)
		}
		switch {
		case err != nil:
			// The writer's own auto-checkpoint still bounds the WAL.
			slog.Warn("sqlite: background checkpoint failed", "err", err)
			last, wait = time.Now(), maxCheckpointInterval
		case busy: // another connection was checkpointing: try again soon
			last, wait = time.Now(), minCheckpointInterval
		default:
			added := log - frames
			if log < frames { // the WAL started over since: at least log are new
				added = log
			}
			wait = nextInterval(time.Since(last), added)
			last, frames = time.Now(), log
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
	secs := elapsed.Seconds() * checkpointPages / float64(added)
	if secs >= maxCheckpointInterval.Seconds() {
		return maxCheckpointInterval
	}
	return max(time.Duration(secs*float64(time.Second)), minCheckpointInterval)
}

// checkpoint runs one passive checkpoint. busy: another connection was
// checkpointing; log: frames in the WAL; copied: frames now in the database
// file (log and copied are -1 when busy).
func (c *checkpointer) checkpoint(ctx context.Context) (busy bool, log, copied int, err error) {
	var b int
	err = c.conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&b, &log, &copied)
	return b != 0, log, copied, err
}

// close stops the loop, interrupting a checkpoint in progress (SQLite
// keeps what it had copied and synced), and closes the connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.conn.Close()
}
