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
	// MaxInFlight bounds the attempts of one key being checked at once
	// (0: no bound). Without it a burst of concurrent guesses would all pass
	// the gate before the first failure is recorded.
	MaxInFlight int

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	inflight int
	last     time.Time
	until    time.Time
}

// maxThrottleEntries bounds memory under a flood from many addresses.
const maxThrottleEntries = 100_000

// NewThrottle returns a throttle with the given policy.
func NewThrottle(free int, window, base, maxDelay time.Duration) *Throttle {
	return &Throttle{Free: free, Window: window, Base: base, Max: maxDelay, entries: map[string]*throttleEntry{}}
}

// Begin reserves an attempt for key. It returns 0 and reserves when key may
// try now; otherwise how long it must wait, reserving nothing. Every
// reserved attempt must be closed by End.
func (t *Throttle) Begin(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e != nil && now.Sub(e.last) <= t.Window {
		if d := e.until.Sub(now); d > 0 {
			return d
		}
	}
	if e == nil {
		if len(t.entries) >= maxThrottleEntries {
			t.sweep(now)
		}
		e = &throttleEntry{last: now}
		t.entries[key] = e
	}
	if t.MaxInFlight > 0 && e.inflight >= t.MaxInFlight {
		return time.Second
	}
	e.inflight++
	return 0
}

// End closes an attempt reserved by Begin: a failure counts towards the
// delay, a success clears the key when clear is set.
func (t *Throttle) End(key string, now time.Time, failed, clear bool) {
	t.mu.Lock()
	e := t.entries[key]
	if e != nil && e.inflight > 0 {
		e.inflight--
	}
	t.mu.Unlock()
	switch {
	case failed:
		t.Fail(key, now)
	case clear:
		t.mu.Lock()
		if e := t.entries[key]; e != nil && e.inflight == 0 {
			delete(t.entries, key)
		}
		t.mu.Unlock()
	}
}

// Fail records a failure of key.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil || now.Sub(e.last) > t.Window && e.failures > 0 {
		if len(t.entries) >= maxThrottleEntries {
			t.sweep(now)
		}
		inflight := 0
		if e != nil {
			inflight = e.inflight
		}
		e = &throttleEntry{inflight: inflight}
		t.entries[key] = e
	}
	e.failures++
	e.last = now
	if over := e.failures - t.Free; over > 0 {
		d := time.Duration(float64(t.Base) * math.Pow(2, float64(min(over-1, 30))))
		e.until = now.Add(min(d, t.Max))
	}
}

func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if now.Sub(e.last) > t.Window && e.inflight == 0 {
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
