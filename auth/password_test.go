package auth

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"workspace"
)

// Ensure a hashing slot rests after a hash, in proportion to the hash's
// duration, before the next login may use it; the answer itself does not
// wait for the rest.
func TestHasherRests(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher(bcrypt.MinCost, 1, 20*time.Millisecond, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	var rest time.Duration
	var free func()
	h.after = func(d time.Duration, f func()) { rest, free = d, f }
	start := time.Now()
	hash, err := h.Hash(ctx, "correct horse")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if free == nil || rest <= 0 {
		t.Fatalf("no rest after a hash (rest %v)", rest)
	}
	// Duty 0.25: the rest is three times the hash as the hasher timed it,
	// which is within the call timed here and, at bcrypt's lowest cost,
	// well over a microsecond.
	if rest < 3*time.Microsecond || rest > 3*took {
		t.Fatalf("rest %v after a hash call of %v, want 3x the hash", rest, took)
	}
	if _, _, err := h.Verify(ctx, hash, "correct horse"); workspace.ErrorCode(err) != workspace.ETOOMANY {
		t.Fatalf("a login during the rest: %v, want 429", err)
	}
	free()
	ok, _, err := h.Verify(ctx, hash, "correct horse")
	if err != nil || !ok {
		t.Fatalf("a login after the rest: %v, %v", ok, err)
	}
	if _, _, err := h.Verify(ctx, hash, "wrong horse"); workspace.ErrorCode(err) != workspace.ETOOMANY {
		t.Fatalf("Verify rests too: %v", err)
	}
}

// Ensure duty 1 (and an unset one) frees the slot at once.
func TestHasherFullDuty(t *testing.T) {
	for _, duty := range []float64{1, 0} {
		h, err := newHasher(bcrypt.MinCost, 1, 20*time.Millisecond, duty)
		if err != nil {
			t.Fatal(err)
		}
		h.after = func(time.Duration, func()) { t.Fatalf("duty %v: a rest was scheduled", duty) }
		for range 3 {
			if _, err := h.Hash(context.Background(), "correct horse"); err != nil {
				t.Fatalf("duty %v: %v", duty, err)
			}
		}
	}
}
