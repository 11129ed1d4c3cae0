package realtime

import (
	"context"
	"sync"
)

// LocalNotifier is the Notifier of a single process (SQLite): Notify calls
// every listener directly.
type LocalNotifier struct {
	mu        sync.RWMutex
	listeners map[int]func(string)
	next      int
}

// NewLocalNotifier returns an in-process notifier.
func NewLocalNotifier() *LocalNotifier {
	return &LocalNotifier{listeners: map[int]func(string){}}
}

// Notify delivers payload to every listener.
func (n *LocalNotifier) Notify(ctx context.Context, payload string) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, fn := range n.listeners {
		fn(payload)
	}
	return nil
}

// Listen registers fn until ctx ends.
func (n *LocalNotifier) Listen(ctx context.Context, fn func(string)) error {
	n.mu.Lock()
	id := n.next
	n.next++
	n.listeners[id] = fn
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	delete(n.listeners, id)
	n.mu.Unlock()
	return nil
}
