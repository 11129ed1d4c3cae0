package realtime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"workspace"
)

// Close codes sent to clients.
const (
	statusGoingAway    = websocket.StatusGoingAway
	statusUnauthorized = websocket.StatusCode(4001) // token expired or session revoked: refresh and reconnect
	statusSlowConsumer = websocket.StatusCode(4008) // could not keep up: reconnect and catch up
	statusTooFarBehind = websocket.StatusCode(4009) // more missed messages than CatchUpLimit: reload, reconnect
)

// Subprotocol is the protocol a client asks for. It may also offer
// "bearer.<access token>" so the token never appears in a URL.
const Subprotocol = "workspace.v1"

// conn is one client.
type conn struct {
	hub   *Hub
	ws    *websocket.Conn
	id    string
	user  *workspace.User
	actor workspace.Actor
	token string

	queue  chan outFrame
	done   chan struct{} // closed when the connection starts closing
	closed chan struct{} // closed when the closing handshake is over
	once   sync.Once

	typedAt map[string]time.Time // last typing frame per conversation (read goroutine only)

	mu       sync.Mutex
	live     bool
	pending  []outFrame
	lastSent int // highest message id sent
}

// ServeHTTP upgrades GET /api/v1/ws. The client authenticates with the
// "bearer.<token>" subprotocol or, failing that, a first frame
// {"type":"auth","token":…}; last_message_id (query or auth frame) asks for
// every newer message first.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := ""
	for _, p := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, v := range strings.Split(p, ",") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(v), "bearer."); ok {
				token = t
			}
		}
	}
	last := -1
	if v := r.URL.Query().Get("last_message_id"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > workspace.MaxID {
			http.Error(w, "last_message_id must be a message id", http.StatusBadRequest)
			return
		}
		last = n
	}
	// The server's read/write timeouts are for plain requests, not for a
	// connection that lives for hours.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: originHosts(h.AllowedOrigins),
	})
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 10)
	c := &conn{hub: h, ws: ws, queue: make(chan outFrame, h.QueueSize), done: make(chan struct{}), closed: make(chan struct{}),
		actor: workspace.ActorFromContext(r.Context())}
	c.run(r.Context(), token, last)
}

func originHosts(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o == "*" {
			return []string{"*"}
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

func newConnID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// run authenticates, registers, replays and then serves the connection.
func (c *conn) run(reqCtx context.Context, token string, last int) {
	h := c.hub
	// The connection's own context: on shutdown the hub closes it with
	// "going away" (closeAll) rather than cutting it by cancellation.
	ctx, cancel := context.WithCancel(context.WithoutCancel(reqCtx))
	defer cancel()
	defer c.ws.CloseNow()

	if token == "" {
		actx, acancel := context.WithTimeout(ctx, h.AuthTimeout)
		var f ClientFrame
		err := c.readFrame(actx, &f)
		acancel()
		if err != nil || f.Type != "auth" || f.Token == "" {
			c.ws.Close(statusUnauthorized, "first frame must be {\"type\":\"auth\",\"token\":…}")
			return
		}
		token = f.Token
		if f.LastMessageID > 0 {
			last = f.LastMessageID
		}
	}
	u, sess, err := h.Auth.Authenticate(ctx, token)
	if err != nil {
		c.ws.Close(statusUnauthorized, "invalid or expired access token")
		return
	}
	c.id, c.user, c.token = newConnID(), u, token
	c.actor.UserID, c.actor.Username, c.actor.Role, c.actor.SessionID = u.ID, u.Username, u.Role, sess.ID

	// Register first, so the tail queues everything from now on; then
	// replay from the database; then go live.
	if last < 0 {
		if last, err = h.Store.LatestMessageID(ctx); err != nil {
			c.ws.Close(websocket.StatusInternalError, "try again")
			return
		}
	}
	c.setSent(last)
	if err := h.settleCursor(ctx); err != nil && ctx.Err() == nil {
		h.Logger.Warn("message tail", slog.Any("err", err)) // the tail re-reads more, nothing else
	}
	if !h.add(c) {
		c.ws.Close(statusGoingAway, "server shutting down")
		return
	}
	defer h.connWG.Done() // last: after the presence row is gone
	defer h.remove(c)
	if err := h.Store.AddPresence(ctx, c.id, u.ID, h.InstanceID); err == nil {
		defer func() {
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer rcancel()
			h.Store.RemovePresence(rctx, c.id)
			h.Publish(rctx, workspace.Change{Kind: workspace.ChangePresence, UserID: u.ID})
		}()
		h.Publish(ctx, workspace.Change{Kind: workspace.ChangePresence, UserID: u.ID})
	}
	if err := c.catchUp(ctx); err != nil {
		if errors.Is(err, errTooFarBehind) {
			c.close(statusTooFarBehind, "too far behind: reload through the REST API, then reconnect without last_message_id")
		} else {
			c.close(websocket.StatusInternalError, "catch-up failed; reconnect")
		}
		<-c.closed
		return
	}

	go c.writeLoop(ctx)
	go c.watch(ctx)
	c.readLoop(ctx)
	c.close(websocket.StatusNormalClosure, "")
	<-c.closed
}

// catchUp replays the messages newer than lastSent, then switches the
// connection to live delivery, flushing what the tail queued meanwhile.
func (c *conn) catchUp(ctx context.Context) error {
	h := c.hub
	for sent := 0; ; {
		msgs, err := h.Store.FindMessagesSince(ctx, c.actor.UserID, c.sent(), 200)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			f := (&messageFrames{typ: workspace.ChangeMessageCreated, m: m}).forActor(c.actor)
			if err := c.write(ctx, f); err != nil {
				return err
			}
			c.setSent(m.ID)
		}
		sent += len(msgs)
		if len(msgs) < 200 {
			break
		}
		if sent >= h.CatchUpLimit {
			// Replaying more would take longer than reloading: say so
			// rather than skip what was not replayed.
			return errTooFarBehind
		}
	}
	ready := encode("ready", c.actor.UserID, map[string]any{"user_id": c.actor.UserID, "username": c.actor.Username, "last_message_id": c.sent()})
	if err := c.write(ctx, ready); err != nil {
		return err
	}
	// Write what the tail queued meanwhile directly (the queue may be
	// smaller), until nothing is pending; then go live.
	for {
		c.mu.Lock()
		batch := c.pending
		c.pending = nil
		if len(batch) == 0 {
			c.live = true
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		for _, f := range batch {
			if f.msgID != 0 && f.msgID <= c.sent() {
				continue
			}
			if err := c.write(ctx, f.data); err != nil {
				return err
			}
			if f.msgID != 0 {
				c.setSent(f.msgID)
			}
		}
	}
}

// errTooFarBehind: a reconnecting client missed more than CatchUpLimit
// messages.
var errTooFarBehind = errors.New("too far behind")

func (c *conn) sent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSent
}

func (c *conn) setSent(id int) {
	c.mu.Lock()
	c.lastSent = id
	c.mu.Unlock()
}

// enqueue hands a frame to the connection: queued while it catches up,
// else into its bounded queue. A connection whose queue is full is cut
// off (it will reconnect and catch up) rather than slow everyone down.
func (c *conn) enqueue(f outFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		if f.msgID != 0 && f.msgID <= c.lastSent {
			return // replayed already (catchUp moves lastSent as it writes)
		}
		if len(c.pending) >= c.hub.QueueSize*4 {
			go c.close(statusSlowConsumer, "slow consumer")
			return
		}
		c.pending = append(c.pending, f)
		return
	}
	if !c.offer(f) {
		go c.close(statusSlowConsumer, "slow consumer")
	}
}

// offer puts f in the queue without blocking (c.mu held).
func (c *conn) offer(f outFrame) bool {
	if f.msgID != 0 && f.msgID <= c.lastSent {
		return true // already replayed
	}
	select {
	case c.queue <- f:
		if f.msgID != 0 {
			c.lastSent = f.msgID
		}
		return true
	default:
		return false
	}
}

func (c *conn) write(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.ws.Write(wctx, websocket.MessageText, b)
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case f := <-c.queue:
			if err := c.write(ctx, f.data); err != nil {
				c.close(websocket.StatusAbnormalClosure, "")
				return
			}
		}
	}
}

// watch sends heartbeats and re-checks the session, disconnecting a
// client whose token expired or whose session was revoked.
func (c *conn) watch(ctx context.Context) {
	ping := time.NewTicker(c.hub.PingInterval)
	check := time.NewTicker(c.hub.SessionCheck)
	defer ping.Stop()
	defer check.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.close(websocket.StatusGoingAway, "no pong")
				return
			}
		case <-check.C:
			c.mu.Lock()
			token := c.token
			c.mu.Unlock()
			u, _, err := c.hub.Auth.Authenticate(ctx, token)
			if err != nil && workspace.ErrorCode(err) == workspace.EUNAUTHORIZED {
				c.close(statusUnauthorized, "session expired or revoked")
				return
			}
			if err == nil && c.identityChanged(u) {
				// A demotion, rename or new email changes what this socket may
				// receive: the client reconnects under its new identity.
				c.close(statusUnauthorized, "your account changed: reconnect")
				return
			}
		}
	}
}

func (c *conn) readFrame(ctx context.Context, f *ClientFrame) error {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	if typ != websocket.MessageText {
		return errors.New("binary frame")
	}
	return json.Unmarshal(b, f)
}

// readLoop handles the client's frames until it goes away.
func (c *conn) readLoop(ctx context.Context) {
	for {
		var f ClientFrame
		err := c.readFrame(ctx, &f)
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			c.reply(ctx, "error", 0, map[string]any{"code": workspace.EINVALID, "message": "frames are JSON objects"})
			continue
		case err != nil:
			return
		}
		c.handle(ctx, f)
	}
}

func (c *conn) reply(ctx context.Context, typ string, id int, data any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.offer(outFrame{data: encode(typ, id, data)}) {
		go c.close(statusSlowConsumer, "slow consumer")
	}
}

func (c *conn) handle(ctx context.Context, f ClientFrame) {
	h := c.hub
	actx := workspace.NewContextWithActor(ctx, c.actor)
	switch f.Type {
	case "typing":
		ref, err := workspace.ParseConversation(f.ConversationID)
		if err != nil || !ref.CanRead(c.actor.UserID) {
			c.reply(ctx, "error", 0, map[string]any{"code": workspace.ENOTFOUND, "message": "Conversation not found."})
			return
		}
		// At most one typing notice per conversation every TypingInterval:
		// the rest are dropped, so no client can flood the others.
		if c.typedAt == nil {
			c.typedAt = map[string]time.Time{}
		}
		if now := time.Now(); now.Sub(c.typedAt[ref.ID]) >= h.TypingInterval {
			if len(c.typedAt) > 1000 {
				clear(c.typedAt)
			}
			c.typedAt[ref.ID] = now
			h.Publish(actx, workspace.Change{Kind: workspace.ChangeTyping, ConversationID: ref.ID, UserID: c.actor.UserID})
		}
	case "message.send":
		m := &workspace.Message{ConversationID: f.ConversationID, Text: f.Text}
		if m.ConversationID == "" {
			m.ConversationID = workspace.DefaultChannel
		}
		if err := h.Store.CreateMessage(actx, m); err != nil {
			c.reply(ctx, "error", 0, map[string]any{"code": workspace.ErrorCode(err), "message": workspace.ErrorMessage(err), "ref": f.Ref})
			return
		}
		c.reply(ctx, "ack", m.ID, map[string]any{"ref": f.Ref, "message_id": m.ID})
		h.Publish(actx, workspace.Change{Kind: workspace.ChangeMessageCreated, ID: m.ID, ConversationID: m.ConversationID, UserID: c.actor.UserID})
	case "auth": // a refreshed access token for the same user
		u, _, err := h.Auth.Authenticate(ctx, f.Token)
		if err != nil || c.identityChanged(u) {
			c.close(statusUnauthorized, "invalid token, or your account changed: reconnect")
			return
		}
		c.mu.Lock()
		c.token = f.Token
		c.mu.Unlock()
	default:
		c.reply(ctx, "error", 0, map[string]any{"code": workspace.EINVALID, "message": "unknown frame type " + strconv.Quote(f.Type)})
	}
}

// identityChanged reports whether u is not exactly who the connection
// authenticated as (another user, role, username or email).
func (c *conn) identityChanged(u *workspace.User) bool {
	email := func(u *workspace.User) string {
		if u.Email == nil {
			return ""
		}
		return *u.Email
	}
	return u.ID != c.user.ID || u.Role != c.user.Role || u.Username != c.user.Username || email(u) != email(c.user)
}

// close ends the connection once, with a status and reason for the client.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		close(c.done)
		go func() {
			c.ws.Close(code, reason) // the handshake is bounded by the library (5 s)
			close(c.closed)
		}()
		if code == statusSlowConsumer {
			c.hub.Logger.Info("websocket cut off", slog.String("reason", reason), slog.Int("user_id", c.actor.UserID))
		}
	})
}
