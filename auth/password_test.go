package auth

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Ensure a hash rests at its pause points while other logins wait, in
// proportion to the time it computed, and runs straight through when no
// one waits.
func TestHasherPacesUnderQueue(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		waiting int64
		duty    float64
		rests   bool
	}{
		{1, 0.25, true},
		{0, 0.25, false},
		{3, 1, false},
	} {
		h, err := newHasher(6, 1, time.Second, c.duty)
		if err != nil {
			t.Fatal(err)
		}
		var rested time.Duration
		var pauses int
		h.sleep = func(d time.Duration) { rested += d; pauses++ }
		h.waiting.Store(c.waiting)
		start := time.Now()
		hash, err := h.Hash(ctx, "correct horse")
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		if !c.rests {
			if pauses != 0 {
				t.Errorf("%+v: %d rests", c, pauses)
			}
			continue
		}
		// Cost 6: 64 rounds, one pause point. Duty 0.25: the rest is three
		// times the computing before it, which lies within the timed call.
		if pauses != 1 || rested <= 0 || rested > 3*took {
			t.Errorf("%+v: %d rests of %v in total after a call of %v", c, pauses, rested, took)
		}
		if ok, _, err := h.Verify(ctx, hash, "correct horse"); !ok || err != nil {
			t.Errorf("%+v: the paced hash does not verify: %v", c, err)
		}
	}
}

// Ensure a login that gets no slot gives up with 429 after HashWait and no
// longer counts as waiting.
func TestHasherQueue(t *testing.T) {
	h, err := newHasher(bcrypt.MinCost, 1, 20*time.Millisecond, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // the slot is taken
	if _, err := h.Hash(context.Background(), "correct horse"); err != errBusy {
		t.Fatalf("a login that never got the slot: %v, want errBusy", err)
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("%d still counted as waiting", n)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "correct horse"); err != nil {
		t.Fatal(err)
	}
}

// Ensure a hash right after another is paced though no one waits (a
// flood the throttle lets through one at a time), and a hash long after
// the previous one is not.
func TestHasherPacesBursts(t *testing.T) {
	h, err := newHasher(6, 1, time.Second, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	var pauses int
	h.sleep = func(time.Duration) { pauses++ }
	ctx := context.Background()
	if _, err := h.Hash(ctx, "first"); err != nil || pauses != 0 {
		t.Fatalf("first hash: %d rests, %v", pauses, err)
	}
	if _, err := h.Hash(ctx, "second"); err != nil || pauses != 1 {
		t.Fatalf("hash right after: %d rests, %v; want 1", pauses, err)
	}
	h.burst.Store(time.Now().Add(-time.Second).UnixNano()) // the burst is over
	if _, err := h.Hash(ctx, "third"); err != nil || pauses != 1 {
		t.Fatalf("hash after a pause: %d rests in all, %v; want still 1", pauses, err)
	}
}
