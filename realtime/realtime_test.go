package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"workspace"
	"workspace/auth"
	"workspace/httpapi"
	"workspace/internal/testpg"
	"workspace/postgres"
	"workspace/realtime"
	"workspace/sqlite"
)

var secret = []byte("realtime-test-secret-realtime-test-secret")

// instance is one running server (router, auth, hub) on a store.
type instance struct {
	t     testing.TB
	store workspace.Store
	auth  *auth.Service
	hub   *realtime.Hub
	srv   *httptest.Server
	stop  func() // stops the hub, as SIGTERM does
}

func openSQLite(tb testing.TB) (workspace.Store, workspace.Notifier) {
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "ws.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return db, realtime.NewLocalNotifier()
}

func openPostgres(tb testing.TB, dsn string) (workspace.Store, *postgres.Notifier) {
	db, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	n, err := db.Notifier(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return db, n
}

func newInstance(tb testing.TB, store workspace.Store, n workspace.Notifier, tune func(*realtime.Hub)) *instance {
	tb.Helper()
	cfg := auth.DefaultConfig(secret)
	cfg.BcryptCost = 4
	a, err := auth.New(store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	hub := &realtime.Hub{Store: store, Auth: a, Notifier: n, InstanceID: fmt.Sprintf("test-%p", store), SessionCheck: 50 * time.Millisecond,
		TailInterval: 100 * time.Millisecond}
	if tune != nil {
		tune(hub)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- hub.Run(ctx, started) }()
	<-started
	api := &httpapi.Server{Store: store, Auth: a, Realtime: hub, AllowRegistration: true}
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener = httpapi.NewListener(srv.Listener) // as serve does
	srv.Config.ConnContext = httpapi.ConnContext
	srv.Start()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	tb.Cleanup(func() { stop(); srv.Close() })
	return &instance{t: tb, store: store, auth: a, hub: hub, srv: srv, stop: stop}
}

func forEachEngine(t *testing.T, fn func(t *testing.T, store workspace.Store, n workspace.Notifier)) {
	t.Run("sqlite", func(t *testing.T) {
		s, n := openSQLite(t)
		fn(t, s, n)
	})
	t.Run("postgres", func(t *testing.T) {
		s, n := openPostgres(t, testpg.Schema(t))
		fn(t, s, n)
	})
}

func (in *instance) call(method, path, token string, body any, want int) map[string]any {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		in.t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

type user struct {
	ID    int
	Token string
}

func (in *instance) signup(name string) user {
	in.call("POST", "/api/v1/auth/register", "", map[string]any{"username": name, "password": "password-" + name}, 201)
	m := in.call("POST", "/api/v1/auth/login", "", map[string]any{"login": name, "password": "password-" + name}, 200)
	return user{ID: int(m["user"].(map[string]any)["id"].(float64)), Token: m["access_token"].(string)}
}

func (in *instance) send(u user, conv, text string) int {
	in.t.Helper()
	m := in.call("POST", "/api/v1/messages", u.Token, map[string]any{"conversation_id": conv, "text": text}, 201)
	return int(m["id"].(float64))
}

// client is a WebSocket client.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

type frame struct {
	Type string          `json:"type"`
	ID   int             `json:"id"`
	TS   time.Time       `json:"ts"`
	Data json.RawMessage `json:"data"`
}

// dial connects with the token in the subprotocol and waits for "ready"
// (after the catch-up, which it returns).
func (in *instance) dial(u user, query string) (*client, []frame) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.srv.URL, "http") + "/api/v1/ws" + query
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{realtime.Subprotocol, "bearer." + u.Token}})
	if err != nil {
		in.t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: in.t, ws: ws}
	in.t.Cleanup(func() { ws.CloseNow() })
	var replay []frame
	for {
		f := c.next()
		if f.Type == "ready" {
			return c, replay
		}
		replay = append(replay, f)
	}
}

// next reads the next frame, skipping presence noise unless asked.
func (c *client) next(types ...string) frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f.Type == "presence" && !contains(types, "presence") {
			continue
		}
		return f
	}
}

// ack returns the acknowledgement of a message.send the client just wrote.
// The sender's own copy of the message may come before it: on PostgreSQL
// it travels through NOTIFY at commit, which can beat the handler's write
// of the ack (the README tells clients to match the two by id).
func (c *client) ack() frame {
	c.t.Helper()
	f := c.next()
	if own := f; own.Type == "message.created" {
		if f = c.next(); f.Type != "ack" || f.ID != own.ID {
			c.t.Fatalf("after the sender's own message %d: ack = %+v", own.ID, f)
		}
	}
	if f.Type != "ack" {
		c.t.Fatalf("ack = %+v", f)
	}
	return f
}

func (c *client) read() (frame, error) {
	// The timeout bounds a failing test; it is never what a test waits for.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	return f, json.Unmarshal(b, &f)
}

// closeStatus reads until the server closes the connection.
func (c *client) closeStatus() websocket.StatusCode {
	for {
		if _, err := c.read(); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (f frame) message() workspace.Message {
	var m workspace.Message
	json.Unmarshal(f.Data, &m)
	return m
}

// Ensure each user receives exactly what the REST API lets them read.
func TestDeliveryToAllowedUsersOnly(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		in.signup("root") // the first account is the admin, who sees deleted texts
		a, b, c := in.signup("alice"), in.signup("bob"), in.signup("carol")
		ca, _ := in.dial(a, "")
		cb, _ := in.dial(b, "")
		cc, _ := in.dial(c, "")
		dm := workspace.DirectConversation(a.ID, b.ID)
		secret := in.send(a, dm, "for bob only")
		public := in.send(b, "general", "hello all")
		for _, cl := range []*client{ca, cb} {
			f := cl.next()
			if f.Type != "message.created" || f.ID != secret || f.message().Text != "for bob only" || f.TS.IsZero() {
				t.Fatalf("first frame = %+v", f)
			}
		}
		// Frames arrive in id order: carol's first message frame being the
		// later channel message proves she never got the DM.
		for _, cl := range []*client{ca, cb, cc} {
			if f := cl.next(); f.Type != "message.created" || f.ID != public {
				t.Fatalf("frame = %+v, want channel message %d", f, public)
			}
		}
		// Edits, deletions and read receipts follow the same rule.
		in.call("PATCH", fmt.Sprintf("/api/v1/messages/%d", secret), a.Token, map[string]any{"text": "edited"}, 200)
		in.call("POST", fmt.Sprintf("/api/v1/messages/%d/read", secret), b.Token, nil, 200)
		in.call("DELETE", fmt.Sprintf("/api/v1/messages/%d", public), b.Token, nil, 204)
		for _, cl := range []*client{ca, cb} {
			if f := cl.next(); f.Type != "message.updated" || f.message().Text != "edited" {
				t.Fatalf("update frame = %+v", f)
			}
			if f := cl.next(); f.Type != "message.read" || f.ID != secret {
				t.Fatalf("receipt frame = %+v", f)
			}
		}
		for _, cl := range []*client{ca, cb, cc} {
			f := cl.next()
			if f.Type != "message.deleted" || f.ID != public || f.message().Text != "" {
				t.Fatalf("delete frame = %+v (text must be hidden)", f)
			}
		}
		// Lots go to everyone; events to the owner and attendees only.
		in.call("POST", "/api/v1/lots", c.Token, map[string]any{"item_count": 3}, 201)
		for _, cl := range []*client{ca, cb, cc} {
			if f := cl.next(); f.Type != "lot.created" {
				t.Fatalf("lot frame = %+v", f)
			}
		}
		start := time.Now().Add(time.Hour).UTC()
		in.call("POST", "/api/v1/events", a.Token, map[string]any{"title": "sync", "start_time": start, "end_time": start.Add(time.Hour), "attendees": []string{"bob"}}, 201)
		// Changes of different kinds travel independently; once the owner
		// and the attendee have the event, its fan-out is over, so carol's
		// next frame being a later message proves she was left out.
		for _, cl := range []*client{ca, cb} {
			if f := cl.next(); f.Type != "event.created" {
				t.Fatalf("event frame = %+v", f)
			}
		}
		after := in.send(a, "general", "after the event")
		if f := cc.next(); f.Type != "message.created" || f.ID != after {
			t.Fatalf("carol got %+v; she is not invited", f)
		}
	})
}

// Ensure a reconnecting client gets every newer message, in order, then
// live ones, with no gap and no duplicate.
func TestReconnectCatchUp(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		a, b := in.signup("alice"), in.signup("bob")
		cb, _ := in.dial(b, "")
		first := in.send(a, "general", "m0")
		if f := cb.next(); f.ID != first {
			t.Fatalf("frame = %+v", f)
		}
		cb.ws.Close(websocket.StatusNormalClosure, "")
		var missed []int
		for i := 1; i <= 30; i++ {
			missed = append(missed, in.send(a, "general", fmt.Sprint("m", i)))
		}
		missed = append(missed, in.send(a, workspace.DirectConversation(a.ID, b.ID), "dm while away"))
		// Messages keep coming while bob reconnects.
		done := make(chan []int)
		go func() {
			var ids []int
			for i := 0; i < 20; i++ {
				ids = append(ids, in.send(a, "general", fmt.Sprint("live", i)))
			}
			done <- ids
		}()
		cb2, replay := in.dial(b, fmt.Sprintf("?last_message_id=%d", first))
		live := <-done
		var got []int
		for _, f := range replay {
			got = append(got, f.ID)
		}
		for len(got) < len(missed)+len(live) {
			f := cb2.next()
			if f.Type != "message.created" {
				t.Fatalf("unexpected %+v", f)
			}
			got = append(got, f.ID)
		}
		want := append(append([]int{}, missed...), live...)
		// The DM and the live sends interleave by id; compare as ordered sets.
		if !isSortedUnique(got) || len(got) != len(want) || !sameSet(got, want) {
			t.Fatalf("received %v\nwant (any id order) %v", got, want)
		}
		// Nothing more: the next frame is a fresh message, not a duplicate.
		last := in.send(a, "general", "the end")
		if f := cb2.next(); f.ID != last {
			t.Fatalf("after catch-up got %+v, want %d", f, last)
		}
	})
}

// latestCounter is the real store, counting the hub's reads of the newest
// message id.
type latestCounter struct {
	workspace.Store
	calls atomic.Int32
}

func (s *latestCounter) LatestMessageID(ctx context.Context) (int, error) {
	s.calls.Add(1)
	return s.Store.LatestMessageID(ctx)
}

// Ensure a hub without connections does not read the table for each send
// (only its ticker moves the cursor on), and that a client connecting
// afterwards still gets every message after its cursor, once.
func TestIdleHubQuiet(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		counted := &latestCounter{Store: store}
		in := newInstance(t, store, n, func(h *realtime.Hub) { h.Store, h.TailInterval = counted, time.Hour })
		a := in.signup("alice")
		var ids []int
		for i := 0; i < 20; i++ {
			ids = append(ids, in.send(a, "general", fmt.Sprint("idle ", i)))
		}
		c, replay := in.dial(a, fmt.Sprintf("?last_message_id=%d", ids[14]))
		var got []int
		for _, f := range replay {
			got = append(got, f.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(ids[15:]) {
			t.Fatalf("replay %v, want %v", got, ids[15:])
		}
		live := in.send(a, "general", "live")
		if f := c.next(); f.Type != "message.created" || f.ID != live {
			t.Fatalf("after the replay got %+v, want message %d", f, live)
		}
		// The reads are the hub's start (Run) and the cursor's update
		// before the first connection registers (settleCursor); with a
		// connection the tail reads messages, not the newest id.
		if calls := counted.calls.Load(); calls != 2 {
			t.Fatalf("LatestMessageID read %d times for 21 sends, want twice (at start, at the first connection)", calls)
		}
	})
}

func isSortedUnique(ids []int) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			return false
		}
	}
	return true
}

func sameSet(a, b []int) bool {
	m := map[int]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// Ensure a revoked session is disconnected, and a bad token never connects.
func TestRevokedSessionDisconnected(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		a := in.signup("alice")
		ca, _ := in.dial(a, "")
		in.call("POST", "/api/v1/auth/logout", a.Token, nil, 204)
		if code := ca.closeStatus(); code != 4001 {
			t.Fatalf("close status = %d, want 4001", code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		url := "ws" + strings.TrimPrefix(in.srv.URL, "http") + "/api/v1/ws"
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{realtime.Subprotocol, "bearer.forged"}})
		if err != nil {
			t.Fatal(err)
		}
		c := &client{t: t, ws: ws}
		if code := c.closeStatus(); code != 4001 {
			t.Fatalf("forged token: close status %d", code)
		}
	})
}

// Ensure a client that does not read is cut off while the others keep
// receiving everything.
func TestSlowConsumerCutOff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, func(h *realtime.Hub) { h.QueueSize = 16 })
		a, b := in.signup("alice"), in.signup("bob")
		slow, _ := in.dial(a, "")
		fast, _ := in.dial(b, "")
		big := strings.Repeat("x", 9000)
		ctx := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: a.ID, Username: "alice"})
		// One message at a time, each received by the fast client before the
		// next: the slow client, which never reads, fills its socket buffers
		// (~7 MB in all), then its queue, and is cut off; the fast one is not.
		const total = 800
		for i := 0; i < total; i++ {
			m := &workspace.Message{ConversationID: "general", Text: big}
			if err := store.CreateMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			in.hub.Publish(ctx, workspace.Change{Kind: workspace.ChangeMessageCreated, ID: m.ID})
			if f := fast.next(); f.Type != "message.created" || f.ID != m.ID {
				t.Fatalf("fast client got %+v, want message %d", f, m.ID)
			}
		}
		if code := slow.closeStatus(); code != 4008 {
			t.Fatalf("slow client close status = %d, want 4008", code)
		}
	})
}

// Ensure presence on connect/disconnect and typing to the others only.
func TestPresenceAndTyping(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		a, b, c := in.signup("alice"), in.signup("bob"), in.signup("carol")
		ca, _ := in.dial(a, "")
		cb, _ := in.dial(b, "")
		var p struct {
			UserID int                    `json:"user_id"`
			Status string                 `json:"status"`
			Online []workspace.OnlineUser `json:"online"`
		}
		for {
			f := ca.next("presence")
			json.Unmarshal(f.Data, &p)
			if f.Type == "presence" && p.UserID == b.ID {
				break
			}
		}
		if p.Status != "online" || len(p.Online) != 2 {
			t.Fatalf("presence = %+v", p)
		}
		cc, _ := in.dial(c, "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dm := workspace.DirectConversation(b.ID, c.ID)
		if err := cb.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","conversation_id":"`+dm+`"}`)); err != nil {
			t.Fatal(err)
		}
		if err := cb.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","conversation_id":"general"}`)); err != nil {
			t.Fatal(err)
		}
		// Alice hears only the channel typing; carol both; bob neither.
		if f := ca.next(); f.Type != "typing" || !strings.Contains(string(f.Data), `"general"`) || !strings.Contains(string(f.Data), `"bob"`) {
			t.Fatalf("alice: %+v", f)
		}
		if f := cc.next(); f.Type != "typing" || !strings.Contains(string(f.Data), dm) {
			t.Fatalf("carol: %+v", f)
		}
		// Bob's next frame is a message, not his own typing.
		id := in.send(a, "general", "hi")
		for _, cl := range []*client{ca, cb} {
			if f := cl.next(); f.ID != id {
				t.Fatalf("%+v, want message %d", f, id)
			}
		}
		// A message sent over the socket is acknowledged and delivered.
		if err := cb.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"message.send","conversation_id":"general","text":"via ws","ref":"r1"}`)); err != nil {
			t.Fatal(err)
		}
		ack := cb.ack()
		if !strings.Contains(string(ack.Data), `"r1"`) {
			t.Fatalf("ack = %+v", ack)
		}
		if f := ca.next(); f.Type != "message.created" || f.message().Text != "via ws" || f.ID != ack.ID {
			t.Fatalf("alice got %+v", f)
		}
		// Disconnecting announces offline.
		cc.ws.Close(websocket.StatusNormalClosure, "")
		for {
			f := ca.next("presence")
			json.Unmarshal(f.Data, &p)
			if f.Type == "presence" && p.UserID == c.ID && p.Status == "offline" {
				break
			}
		}
	})
}

// Ensure two instances on one PostgreSQL database behave as one, and that
// killing the LISTEN connection mid-stream loses nothing.
func TestTwoInstancesPostgres(t *testing.T) {
	dsn := testpg.Schema(t)
	storeA, nA := openPostgres(t, dsn)
	storeB, nB := openPostgres(t, dsn)
	instA := newInstance(t, storeA, nA, nil)
	instB := newInstance(t, storeB, nB, nil)
	a, b := instA.signup("alice"), instA.signup("bob")
	cb, _ := instB.dial(b, "")
	first := instA.send(a, "general", "across instances")
	if f := cb.next(); f.ID != first {
		t.Fatalf("frame on B = %+v", f)
	}
	admin := testpg.Admin(t)
	var want []int
	kills := 0
	for i := 0; i < 40; i++ {
		if i%10 == 5 {
			if pid := nB.ListenerPID(); pid != 0 { // 0: B is reconnecting right now
				if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int(pid)); err != nil {
					t.Fatal(err)
				}
				kills++
			}
		}
		want = append(want, instA.send(a, "general", fmt.Sprint("m", i)))
	}
	resyncs := 0
	for _, id := range want {
		f := cb.next()
		for f.Type == "resync" { // B's listener came back: it says so
			resyncs++
			f = cb.next()
		}
		if f.ID != id {
			t.Fatalf("got %+v, want message %d (in order)", f, id)
		}
	}
	if kills == 0 {
		t.Fatal("the LISTEN connection was never killed")
	}
	t.Logf("%d kills, %d resync frames before the last message", kills, resyncs)
}

// Ensure stopping the hub (SIGTERM) closes every socket with "going away",
// and that the presence rows go with them.
func TestShutdownGoingAway(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		a, b := in.signup("alice"), in.signup("bob")
		ca, _ := in.dial(a, "")
		cb, _ := in.dial(b, "")
		stopped := make(chan struct{})
		go func() { in.stop(); close(stopped) }() // it waits for the clients' closing handshakes
		for _, c := range []*client{ca, cb} {
			if code := c.closeStatus(); code != websocket.StatusGoingAway {
				t.Fatalf("close status = %d, want 1001 (going away)", code)
			}
		}
		<-stopped
		if online, err := store.FindOnlineUsers(context.Background(), time.Now().Add(-time.Hour)); err != nil || len(online) != 0 {
			t.Fatalf("online after shutdown = %v, %v", online, err)
		}
	})
}

// Ensure a socket whose user is demoted or renamed is closed (4001) so it
// reconnects under its new identity, and that typing notices are limited.
func TestIdentityChangeAndTypingLimit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store workspace.Store, n workspace.Notifier) {
		in := newInstance(t, store, n, nil)
		root := in.signup("root")
		a, b := in.signup("alice"), in.signup("bob")
		in.call("PATCH", fmt.Sprintf("/api/v1/users/%d", a.ID), root.Token, map[string]any{"role": "admin"}, 200)
		ca, _ := in.dial(a, "")
		cb, _ := in.dial(b, "")
		in.call("PATCH", fmt.Sprintf("/api/v1/users/%d", a.ID), root.Token, map[string]any{"role": "user"}, 200)
		if code := ca.closeStatus(); code != 4001 {
			t.Fatalf("demoted admin's socket: close status %d, want 4001", code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ca2, _ := in.dial(a, "")
		for i := 0; i < 50; i++ {
			if err := ca2.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","conversation_id":"general"}`)); err != nil {
				t.Fatal(err)
			}
		}
		// Frames of one socket are handled in order: once this send is
		// acknowledged, all 50 typing frames were handled before it.
		if err := ca2.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"message.send","text":"after the flood","ref":"x"}`)); err != nil {
			t.Fatal(err)
		}
		ack := ca2.ack()
		// Typing and messages travel separately, so these two may come in
		// either order; then nothing but the next message.
		got := map[string]int{}
		for range 2 {
			f := cb.next()
			got[f.Type]++
			if f.Type == "message.created" && f.ID != ack.ID {
				t.Fatalf("message %d, want %d", f.ID, ack.ID)
			}
		}
		if got["typing"] != 1 || got["message.created"] != 1 {
			t.Fatalf("frames = %v, want one typing notice and the message", got)
		}
		next := in.send(root, "general", "later")
		if f := cb.next(); f.Type != "message.created" || f.ID != next {
			t.Fatalf("got %+v, want message %d: the typing flood must have been dropped", f, next)
		}
	})
}

// Ensure a client further behind than CatchUpLimit is told to reload (4009)
// rather than silently skip messages.
func TestTooFarBehind(t *testing.T) {
	store, n := openSQLite(t)
	in := newInstance(t, store, n, func(h *realtime.Hub) { h.CatchUpLimit = 200 })
	a := in.signup("alice")
	ctx := workspace.NewContextWithActor(context.Background(), workspace.Actor{UserID: a.ID})
	for i := 0; i < 450; i++ {
		if err := store.CreateMessage(ctx, &workspace.Message{ConversationID: "general", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.srv.URL, "http") + "/api/v1/ws?last_message_id=0"
	ws, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{Subprotocols: []string{realtime.Subprotocol, "bearer." + a.Token}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	c := &client{t: t, ws: ws}
	for {
		f, err := c.read()
		if err != nil {
			if code := websocket.CloseStatus(err); code != 4009 {
				t.Fatalf("close status %d, want 4009", code)
			}
			return
		}
		if f.Type == "ready" {
			t.Fatal("ready after an incomplete replay")
		}
	}
}
