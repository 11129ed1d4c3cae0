package auth

import (
	"math"
	"sync"
	"time"
)

// Throttle slows down password guessing. Each key (a client IP, an account)
// gets Free failures per Window; every further failure doubles the time the
// key must wait before its next attempt, up to Max. A success clears the
// key. Nothing is permanent: a key left alone for Window is forgotten, and
// the per-account Max is short, so a stranger cannot lock a user out.
type Throttle struct {
	Free   int
	Window time.Duration
	Base   time.Duration
	Max    time.Duration

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	last     time.Time
	until    time.Time
}

// maxThrottleEntries bounds memory under a flood from many addresses.
const maxThrottleEntries = 100_000

// NewThrottle returns a throttle with the given policy.
func NewThrottle(free int, window, base, maxDelay time.Duration) *Throttle {
	return &Throttle{Free: free, Window: window, Base: base, Max: maxDelay, entries: map[string]*throttleEntry{}}
}

// Wait returns how long key must still wait (0: it may try now).
func (t *Throttle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil || now.Sub(e.last) > t.Window {
		return 0
	}
	if d := e.until.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Fail records a failure of key.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil || now.Sub(e.last) > t.Window {
		if len(t.entries) >= maxThrottleEntries {
			t.sweep(now)
		}
		e = &throttleEntry{}
		t.entries[key] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - t.Free; over > 0 {
		d := time.Duration(float64(t.Base) * math.Pow(2, float64(min(over-1, 30))))
		e.until = now.Add(min(d, t.Max))
	}
}

// Reset forgets key (after a successful login).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if now.Sub(e.last) > t.Window {
			delete(t.entries, k)
		}
	}
	// Still full (a flood from many live keys): drop arbitrary entries
	// rather than grow without bound.
	for k := range t.entries {
		if len(t.entries) < maxThrottleEntries*9/10 {
			break
		}
		delete(t.entries, k)
	}
}
