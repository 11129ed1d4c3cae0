// Package realtime pushes the workspace to its users over WebSockets
// (github.com/coder/websocket).
//
// Delivery of new messages tails the messages table by id: a notification
// (in-process on SQLite, LISTEN/NOTIFY on PostgreSQL) only wakes the tail,
// which reads the new rows and hands each to the connections allowed to
// read it. Ids become visible in id order on both engines, so a client
// that reconnects with the last id it saw resumes exactly: everything newer,
// in order, with no gap and no duplicate. Other changes (edits, deletions,
// read receipts, calendar, lots, presence, typing) are fanned out when
// their notification arrives, each receiver reading the row itself.
package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"workspace"
)

// Authenticator checks access tokens (auth.Service).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*workspace.User, *workspace.Session, error)
}

// Hub holds this instance's connections. Set the fields, call Run, and
// serve ServeHTTP on GET /api/v1/ws.
type Hub struct {
	Store          workspace.Store
	Auth           Authenticator
	Notifier       workspace.Notifier
	Logger         *slog.Logger
	InstanceID     string
	AllowedOrigins []string // browser origins (as in CORS); non-browser clients send none

	QueueSize      int           // frames buffered per connection before it is cut off (256)
	PingInterval   time.Duration // heartbeat (25 s)
	SessionCheck   time.Duration // how often a connection's token is re-checked (4 s)
	PresenceTTL    time.Duration // a connection unseen this long is offline (90 s)
	TailInterval   time.Duration // safety-net poll of the message tail (2 s)
	AuthTimeout    time.Duration // time to send the auth frame (10 s)
	TypingInterval time.Duration // typing notices per connection and conversation at most this often (2 s)
	CatchUpLimit   int           // messages replayed to a reconnecting client (10,000)
	OnConnections  func(n int)   // called with the connection count when it changes (metrics)

	mu     sync.Mutex
	conns  map[*conn]struct{}
	connWG sync.WaitGroup // live connection goroutines, awaited on shutdown
	ctx    context.Context
	tailMu sync.Mutex
	cursor int // highest message id handed to connections by the tail
	wake   chan struct{}
	events chan workspace.Change
}

func (h *Hub) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&h.PingInterval, 25*time.Second)
	set(&h.SessionCheck, 4*time.Second)
	set(&h.PresenceTTL, 90*time.Second)
	set(&h.TailInterval, 2*time.Second)
	set(&h.AuthTimeout, 10*time.Second)
	set(&h.TypingInterval, 2*time.Second)
	if h.QueueSize <= 0 {
		h.QueueSize = 256
	}
	if h.CatchUpLimit <= 0 {
		h.CatchUpLimit = 10_000
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
}

// Init prepares the hub; Run calls it, tests may call it before Run to
// know the hub is ready.
func (h *Hub) init(ctx context.Context) error {
	h.defaults()
	h.mu.Lock()
	h.conns = map[*conn]struct{}{}
	h.ctx = ctx
	h.mu.Unlock()
	h.wake = make(chan struct{}, 1)
	h.events = make(chan workspace.Change, 4096)
	last, err := h.Store.LatestMessageID(ctx)
	if err != nil {
		return err
	}
	h.cursor = last
	return nil
}

// Run serves the hub until ctx ends, then closes every connection with
// "going away". It returns once the hub is ready to be stopped.
func (h *Hub) Run(ctx context.Context, started chan<- struct{}) error {
	if err := h.init(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); h.Notifier.Listen(ctx, h.onNotify) }()
	go func() { defer wg.Done(); h.tailLoop(ctx) }()
	go func() { defer wg.Done(); h.dispatchLoop(ctx) }()
	if started != nil {
		close(started)
	}
	presence := time.NewTicker(h.PresenceTTL / 3)
	defer presence.Stop()
	for {
		select {
		case <-presence.C:
			if err := h.Store.TouchPresence(ctx, h.InstanceID); err != nil && ctx.Err() == nil {
				h.Logger.Warn("presence heartbeat", slog.Any("err", err))
			}
		case <-ctx.Done():
			// After this barrier add refuses new connections (it sees ctx
			// done under h.mu), so connWG only counts down from here.
			h.mu.Lock()
			h.mu.Unlock()
			h.closeAll()
			h.connWG.Wait() // their closing handshakes and presence cleanup
			wg.Wait()
			return nil
		}
	}
}

// Publish announces a committed change to every instance.
func (h *Hub) Publish(ctx context.Context, c workspace.Change) {
	var payload string
	if c.Kind == workspace.ChangeMessageCreated {
		if n, ok := h.Notifier.(interface{ NotifiesMessageCreated() bool }); ok && n.NotifiesMessageCreated() {
			return // the store notified in the message's transaction
		}
		payload = workspace.MessageCreatedNotification
	} else {
		b, _ := json.Marshal(c)
		payload = string(b)
	}
	// Detached from the request (see workspace.Publisher), and only here:
	// a send, whose store notified already, costs no timer.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.Notifier.Notify(ctx, payload); err != nil {
		h.Logger.Warn("publish change", slog.String("kind", c.Kind), slog.Any("err", err))
	}
}

func (h *Hub) onNotify(payload string) {
	if payload == "" {
		// The listener reconnected: new messages are re-read from the
		// table; other changes of the outage cannot be, so clients are
		// told to refresh what they show.
		h.poke()
		frame := outFrame{data: encode("resync", 0, map[string]any{"reason": "notifications were interrupted; reload edits, receipts, events and lots"})}
		for _, c := range h.connections() {
			c.enqueue(frame)
		}
		return
	}
	if payload == workspace.MessageCreatedNotification {
		h.poke() // one per message sent: not decoded
		return
	}
	var c workspace.Change
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return
	}
	if c.Kind == workspace.ChangeMessageCreated {
		h.poke() // from an instance that still names the message
		return
	}
	select {
	case h.events <- c:
	case <-h.ctx.Done():
	}
}

// poke wakes the tail for new messages. Without connections it does not:
// there is nobody to deliver to, and the ticker alone moves the cursor on
// (tail), one query per TailInterval rather than one per send. A
// connection added after this look catches up from the table itself
// (catchUp runs after add), and settleCursor brings the cursor up to date
// before the first one registers.
func (h *Hub) poke() {
	if !h.hasConnections() {
		return
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) tailLoop(ctx context.Context) {
	t := time.NewTicker(h.TailInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C:
		}
		if err := h.tail(ctx); err != nil && ctx.Err() == nil {
			h.Logger.Warn("message tail", slog.Any("err", err))
		}
	}
}

// tail hands every message newer than the cursor, in id order, to the
// connections that may read it.
func (h *Hub) tail(ctx context.Context) error {
	h.tailMu.Lock()
	defer h.tailMu.Unlock()
	if !h.hasConnections() {
		// Nobody to deliver to (the common case of an API-only
		// deployment): move the cursor to the newest message without
		// reading the rows. The newest id is read before looking at the
		// connections again: one added after that look catches up from
		// the table itself (catchUp runs after add) and so sees every id
		// up to this one, since ids become visible in order.
		last, err := h.Store.LatestMessageID(ctx)
		if err != nil {
			return err
		}
		if !h.hasConnections() {
			h.cursor = max(h.cursor, last)
			return nil
		}
	}
	for {
		msgs, err := h.Store.FindMessagesSince(ctx, 0, h.cursor, 500)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			h.fanOutMessage(workspace.ChangeMessageCreated, m, true)
			h.cursor = m.ID
		}
		if len(msgs) < 500 {
			return nil
		}
	}
}

// settleCursor moves the cursor of a hub without connections to the
// newest message; a connection calls it before it registers. While nobody
// listens the cursor trails by up to a tick of sends (poke), and the first
// tail after the connection would otherwise read them all again and queue
// them behind its catch-up, which covers them already.
func (h *Hub) settleCursor(ctx context.Context) error {
	if h.hasConnections() {
		return nil
	}
	return h.tail(ctx) // without connections it reads the newest id only
}

func (h *Hub) hasConnections() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns) > 0
}

// connections returns a snapshot of the live connections.
func (h *Hub) connections() []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

func (h *Hub) add(c *conn) bool {
	h.mu.Lock()
	if h.ctx == nil || h.ctx.Err() != nil {
		h.mu.Unlock()
		return false
	}
	h.conns[c] = struct{}{}
	h.connWG.Add(1)
	n := len(h.conns)
	h.mu.Unlock()
	if h.OnConnections != nil {
		h.OnConnections(n)
	}
	return true
}

func (h *Hub) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	n := len(h.conns)
	h.mu.Unlock()
	if h.OnConnections != nil {
		h.OnConnections(n)
	}
}

func (h *Hub) closeAll() {
	for _, c := range h.connections() {
		c.close(statusGoingAway, "server shutting down")
	}
}

// Connections returns the number of live connections.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}
