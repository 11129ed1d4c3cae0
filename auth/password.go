// Package auth signs users in: bcrypt password hashing with bounded
// concurrency, access JWTs, rotating refresh tokens, login throttling and a
// short-lived cache that lets access tokens be checked without a database
// round trip on every request.
package auth

import (
	"context"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"workspace"
)

// Password limits. bcrypt reads at most 72 bytes; a longer password is
// refused rather than silently truncated.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
	// MinBcryptCost is the lowest cost configuration accepts.
	MinBcryptCost = 10
	// DefaultBcryptCost is the cost of new hashes unless configured.
	DefaultBcryptCost = 12
)

// ValidatePassword checks a new password's length in bytes.
func ValidatePassword(field, pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return workspace.Invalid(field, "must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return workspace.Invalid(field, "must be at most %d bytes (bcrypt ignores the rest)", MaxPasswordLen)
	}
	return nil
}

// hasher runs bcrypt with at most n hashes at a time, so a flood of logins
// queues here instead of taking every core from other requests.
//
// In a burst of logins (others waiting for a slot, or a hash that starts
// within one hash's length of the previous one's end) a hash also rests at
// its pause points (bcrypt.go) so that it computes at most a duty share of
// the time: with the defaults (a slot per two cores, duty 0.5) a flood gets
// at most a quarter of the cores at any moment (half of one on a single
// core). A login on a quiet server runs at full speed. Without the rests a
// flood kept the slot busy back to back: on 2 cores the load benchmark's
// mix lost a whole core to bcrypt (70 % of the server's CPU samples) and
// its p99 rose 2.2-2.5x. The burst test matters: the login throttle lets
// one attempt per client through at a time, so a flood from a few clients
// never queues here, it follows on.
type hasher struct {
	cost    int
	slots   chan struct{}
	wait    time.Duration
	duty    float64
	waiting atomic.Int64 // logins waiting for a slot
	burst   atomic.Int64 // UnixNano until which a new hash counts as a burst
	dummy   []byte       // compared against for unknown users: same work, same timing

	// sleep rests (time.Sleep; tests replace it).
	sleep func(time.Duration)
}

func newHasher(cost, concurrency int, wait time.Duration, duty float64) (*hasher, error) {
	if duty <= 0 || duty > 1 {
		duty = 1
	}
	h := &hasher{cost: cost, slots: make(chan struct{}, max(1, concurrency)), wait: wait, duty: duty, sleep: time.Sleep}
	dummy, err := hashPassword([]byte("timing-equaliser"), cost, func() {})
	if err != nil {
		return nil, err
	}
	h.dummy = []byte(dummy)
	return h, nil
}

// errBusy is returned when no hashing slot frees up in time.
var errBusy = &workspace.Error{Code: workspace.ETOOMANY, Message: "Too many sign-ins at once; try again shortly.", RetryAfter: time.Second}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	h.waiting.Add(1)
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release frees the slot of a hash that began at start: a hash starting
// within as long again belongs to the same burst.
func (h *hasher) release(start time.Time) {
	now := time.Now()
	h.burst.Store(now.Add(now.Sub(start)).UnixNano())
	<-h.slots
}

// pacer returns the pause function of one hash: at each pause point, in a
// burst, it rests so long that the hash computes at most duty of the time
// since the previous point.
func (h *hasher) pacer() func() {
	if h.duty >= 1 {
		return func() {}
	}
	last := time.Now()
	inBurst := last.UnixNano() < h.burst.Load()
	return func() {
		if inBurst || h.waiting.Load() > 0 {
			h.sleep(time.Duration(float64(time.Since(last)) * (1 - h.duty) / h.duty))
		}
		last = time.Now()
	}
}

// Hash returns the bcrypt hash of pw at the configured cost.
func (h *hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release(time.Now())
	return hashPassword([]byte(pw), h.cost, h.pacer())
}

// Verify reports whether pw matches hash (any of $2a$, $2b$, $2y$), and
// whether the hash should be replaced by one at the configured cost. An
// empty hash (unknown user) is compared against a dummy so that both cases
// take the same time.
func (h *hasher) Verify(ctx context.Context, hash, pw string) (ok, upgrade bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release(time.Now())
	target := []byte(hash)
	if hash == "" {
		target = h.dummy
	}
	// A mismatch and a malformed stored hash both refuse the login.
	if match, err := comparePassword(target, []byte(pw), h.pacer()); err != nil || !match || hash == "" {
		return false, false, nil
	}
	cost, _ := bcrypt.Cost(target)
	return true, cost < h.cost, nil
}

// HashBcrypt hashes pw at cost without the concurrency bound (for the CLI).
func HashBcrypt(pw string, cost int) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	return string(b), err
}
