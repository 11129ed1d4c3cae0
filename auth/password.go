// Package auth signs users in: bcrypt password hashing with bounded
// concurrency, access JWTs, rotating refresh tokens, login throttling and a
// short-lived cache that lets access tokens be checked without a database
// round trip on every request.
package auth

import (
	"context"
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
// Each slot also rests after a hash, so that it hashes at most a duty share
// of the time: with the defaults (a slot per two cores, duty 0.5) logins use
// at most a quarter of the cores however many arrive (half of one on a
// single core). Without the rest a login flood kept the slot busy back to
// back: on 2 cores the load benchmark's mix lost a whole core to bcrypt
// (70 % of the server's CPU samples) and its p99 rose 2.2-2.5x. The answer
// does not wait for the rest; the next hash does, including the second of
// a password change (verify, then hash the new one).
type hasher struct {
	cost  int
	slots chan struct{}
	wait  time.Duration
	duty  float64
	dummy []byte // compared against for unknown users: same work, same timing

	// after runs f once d has passed (time.AfterFunc; tests replace it).
	after func(d time.Duration, f func())
}

func newHasher(cost, concurrency int, wait time.Duration, duty float64) (*hasher, error) {
	dummy, err := bcrypt.GenerateFromPassword([]byte("timing-equaliser"), cost)
	if err != nil {
		return nil, err
	}
	if duty <= 0 || duty > 1 {
		duty = 1
	}
	return &hasher{cost: cost, slots: make(chan struct{}, max(1, concurrency)), wait: wait, duty: duty, dummy: dummy,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}, nil
}

// errBusy is returned when no hashing slot frees up in time.
var errBusy = &workspace.Error{Code: workspace.ETOOMANY, Message: "Too many sign-ins at once; try again shortly.", RetryAfter: time.Second}

func (h *hasher) acquire(ctx context.Context) error {
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

// release frees the slot taken at start, after its rest.
func (h *hasher) release(start time.Time) {
	if h.duty >= 1 {
		<-h.slots
		return
	}
	worked := time.Since(start)
	h.after(time.Duration(float64(worked)*(1-h.duty)/h.duty), func() { <-h.slots })
}

// Hash returns the bcrypt hash of pw at the configured cost.
func (h *hasher) Hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release(time.Now())
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	return string(b), err
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
	if bcrypt.CompareHashAndPassword(target, []byte(pw)) != nil || hash == "" {
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
