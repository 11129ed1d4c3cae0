package realtime_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"workspace"
	"workspace/realtime"
)

// BenchmarkFanOut: 1,000 sockets (10 users × 100 connections) on one
// SQLite instance listen to one channel while messages are sent through
// the REST API at a steady rate (b.N messages, 20/s). It reports the
// send → received latency over every delivery (p50, p99) and the heap
// per connection (client and server sides both live in this process).
// Run: go test -run '^$' -bench FanOut -benchtime 200x ./realtime
func BenchmarkFanOut(b *testing.B) {
	const sockets, users, rate = 1000, 10, 20
	store, n := openSQLite(b)
	in := newInstance(b, store, n, func(h *realtime.Hub) { h.SessionCheck = 4 * time.Second })
	var us []user
	for i := 0; i < users; i++ {
		us = append(us, in.signup(fmt.Sprintf("user%02d", i)))
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var sent sync.Map // message id → send time
	lat := make([][]time.Duration, sockets)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.srv.URL, "http") + "/api/v1/ws"
	conns := make([]*websocket.Conn, sockets)
	for i := range conns {
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{realtime.Subprotocol, "bearer." + us[i%users].Token}})
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = ws
		c := &client{t: b, ws: ws}
		for c.next().Type != "ready" {
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapPerConn := float64(after.HeapInuse-before.HeapInuse) / sockets

	b.ResetTimer()
	total := b.N
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := 0
			for got < total {
				_, data, err := conns[i].Read(ctx)
				if err != nil {
					return
				}
				// Frames start {"type":"message.created","id":N,…}: read the
				// id without decoding the whole frame (the clients share the
				// server's two cores).
				rest, ok := strings.CutPrefix(string(data), `{"type":"message.created","id":`)
				if !ok {
					continue
				}
				end := strings.IndexByte(rest, ',')
				id, err := strconv.Atoi(rest[:max(end, 0)])
				if err != nil {
					continue
				}
				if t0, ok := sent.Load(id); ok {
					lat[i] = append(lat[i], time.Since(t0.(time.Time)))
					got++
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	sender := us[0]
	actx := workspace.NewContextWithActor(ctx, workspace.Actor{UserID: sender.ID, Username: "user00"})
	for i := 0; i < total; i++ {
		<-tick.C
		m := &workspace.Message{ConversationID: "general", Text: fmt.Sprint("fan-out ", i)}
		// Record the send time before the insert: the id is only known after,
		// so the row is inserted and announced under the sent map's entry.
		t0 := time.Now()
		if err := store.CreateMessage(actx, m); err != nil {
			b.Fatal(err)
		}
		sent.Store(m.ID, t0)
		in.hub.Publish(actx, workspace.Change{Kind: workspace.ChangeMessageCreated, ID: m.ID})
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) != sockets*total {
		b.Fatalf("deliveries = %d, want %d", len(all), sockets*total)
	}
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(heapPerConn, "heap-B/conn")
}
