package auth

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func noPause() {}

// Ensure the paced bcrypt gives x/crypto/bcrypt's results both ways: our
// hashes verify there, its hashes verify here, wrong passwords fail on
// both, for random passwords of 0 to 90 bytes (NULs and high bytes
// included; over 72 bytes only comparing, as hashing refuses them on both).
func TestBcryptMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 120 {
		cost := bcrypt.MinCost + i%3
		pw := make([]byte, rng.IntN(91))
		for j := range pw {
			pw[j] = byte(rng.IntN(256))
		}
		wrong := bytes.Clone(pw)
		if len(wrong) == 0 {
			wrong = []byte{0}
		} else {
			wrong[rng.IntN(len(wrong))] ^= 1 << rng.IntN(8)
		}
		if len(pw) > 72 {
			if _, err := hashPassword(pw, cost, noPause); err != bcrypt.ErrPasswordTooLong {
				t.Fatalf("%d-byte password: %v, want ErrPasswordTooLong", len(pw), err)
			}
			// A stored hash of its first 72 bytes: both must agree on it.
			theirs, _ := bcrypt.GenerateFromPassword(pw[:72], cost)
			ok, err := comparePassword(theirs, pw, noPause)
			if err != nil || ok != (bcrypt.CompareHashAndPassword(theirs, pw) == nil) {
				t.Fatalf("%d-byte password: ours %v (%v), x/crypto %v", len(pw), ok, err, bcrypt.CompareHashAndPassword(theirs, pw))
			}
			continue
		}
		ours, err := hashPassword(pw, cost, noPause)
		if err != nil {
			t.Fatal(err)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(ours), pw); err != nil {
			t.Fatalf("x/crypto refuses our hash %s of %q: %v", ours, pw, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(ours), wrong) == nil {
			t.Fatalf("x/crypto accepts a wrong password for %s", ours)
		}
		theirs, err := bcrypt.GenerateFromPassword(pw, cost)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			pw   []byte
			want bool
		}{{pw, true}, {wrong, false}} {
			if ok, err := comparePassword(theirs, c.pw, noPause); err != nil || ok != c.want {
				t.Fatalf("x/crypto's %s with %q: %v, %v; want %v", theirs, c.pw, ok, err, c.want)
			}
		}
	}
}

// Ensure the other bcrypt versions and stored hashes from elsewhere verify,
// and unreadable ones are errors on both implementations.
func TestBcryptVersionsAndBadHashes(t *testing.T) {
	theirs, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	for _, v := range []string{"$2a$", "$2b$", "$2y$"} {
		h := []byte(v + string(theirs[4:]))
		ok, err := comparePassword(h, []byte("correct horse"), noPause)
		if !ok || err != nil || bcrypt.CompareHashAndPassword(h, []byte("correct horse")) != nil {
			t.Fatalf("%s: %v, %v", h, ok, err)
		}
	}
	// PHP's password_hash("rasmuslerdorf", PASSWORD_BCRYPT, ["cost" => 7]).
	php := []byte("$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq")
	if ok, err := comparePassword(php, []byte("rasmuslerdorf"), noPause); !ok || err != nil {
		t.Fatalf("PHP vector: %v, %v", ok, err)
	}
	for _, bad := range []string{
		"", "$2a$", string(theirs[:40]), "$3a$04$" + string(theirs[7:]), "$2a$99$" + string(theirs[7:]),
		"$2a$04$" + "!!!!!!!!!!!!!!!!!!!!!!" + string(theirs[29:]),
	} {
		_, err := comparePassword([]byte(bad), []byte("correct horse"), noPause)
		xerr := bcrypt.CompareHashAndPassword([]byte(bad), []byte("correct horse"))
		if err == nil || xerr == nil {
			t.Errorf("%q: ours %v, x/crypto %v; want both errors", bad, err, xerr)
		}
	}
}
