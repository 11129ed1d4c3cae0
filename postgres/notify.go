package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notifier carries change notifications between the instances sharing
// the database with LISTEN/NOTIFY. The channel is named after the schema,
// so deployments (and tests) sharing one database in different schemas
// do not hear each other.
type Notifier struct {
	db      *DB
	channel string
	pid     atomic.Uint32
}

// Notifier returns the notifier of the database's current schema.
func (db *DB) Notifier(ctx context.Context) (*Notifier, error) {
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("notifier: %w", mapErr(err))
	}
	channel := "workspace_events_" + schema
	db.messageChannel.Store(&channel)
	return &Notifier{db: db, channel: channel}, nil
}

// NotifiesMessageCreated reports that, once the Notifier exists, the store
// sends the message.created notification inside the transaction of the
// message itself: it goes out exactly when the message commits (never for
// a rolled-back one, never lost to a crash between commit and publish),
// and without a round trip of its own. Publishers skip that kind.
func (n *Notifier) NotifiesMessageCreated() bool { return true }

// Notify sends payload (at most 8000 bytes) to every listener.
func (n *Notifier) Notify(ctx context.Context, payload string) error {
	_, err := n.db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, n.channel, payload)
	return mapErr(err)
}

// ListenerPID is the backend pid of the current LISTEN connection (0 when
// none), for operators and tests.
func (n *Notifier) ListenerPID() uint32 { return n.pid.Load() }

// Listen holds one dedicated connection that LISTENs, and calls fn with
// each payload. A lost connection is re-established (with backoff up to
// 5 s) and announced with fn("") so the caller re-reads what it missed.
func (n *Notifier) Listen(ctx context.Context, fn func(payload string)) error {
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	for first := true; ; first = false {
		connected, _ := n.listenOnce(ctx, fn, !first) // an error means: reconnect
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listenOnce listens on one connection until it fails; connected reports
// whether LISTEN succeeded (so the caller resets its backoff).
func (n *Notifier) listenOnce(ctx context.Context, fn func(string), resync bool) (connected bool, err error) {
	pooled, err := n.db.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	conn := pooled.Hijack() // LISTEN state must not return to the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize()); err != nil {
		return false, err
	}
	n.pid.Store(conn.PgConn().PID())
	defer n.pid.Store(0)
	if resync {
		fn("")
	}
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		fn(note.Payload)
	}
}
