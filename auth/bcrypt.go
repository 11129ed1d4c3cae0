package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/bcrypt"
	//lint:ignore SA1019 bcrypt is built on blowfish's key schedule; the deprecation is about using blowfish as a cipher.
	"golang.org/x/crypto/blowfish"
)

// bcrypt with pause points.
//
// golang.org/x/crypto/bcrypt computes a hash in one call that takes a core
// for its whole length (~250 ms at cost 12 here). Under a login flood the
// hasher's slot was never idle, so the other requests shared one core of
// two for as long as the flood lasted and the mix's p99 doubled. Here the
// same computation, on the same blowfish primitives (its key schedule is
// exported for bcrypt's sake), calls pace every paceEvery rounds, where the
// hasher can rest while other logins queue: the machine then keeps most of
// its CPU at every moment, not only on average. The results are those of
// x/crypto/bcrypt, byte for byte: the tests compare both ways, at several
// costs, and with $2a$, $2b$ and $2y$ hashes. x/crypto/bcrypt still parses
// stored hashes (bcrypt.Cost) and is used by the CLI.

// bcryptEncoding is bcrypt's base64: its own alphabet, no padding.
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

const (
	bcryptSaltLen    = 16 // raw salt bytes; 22 encoded
	bcryptEncSaltLen = 22
	bcryptSumLen     = 23 // bytes of the cipher text kept (C bcrypt's quirk)
	// paceEvery is the rounds of the key schedule between pause points:
	// cost 12 has 4,096 rounds, so about every 4 ms here.
	paceEvery = 64
)

// eksBlowfish is bcrypt's expensive key schedule and final encryption:
// the 23 bytes of the hash of password with cost and a raw 16-byte salt.
func eksBlowfish(password []byte, cost int, salt []byte, pace func()) ([]byte, error) {
	// The key is the password with its C string terminator, as every bcrypt
	// has it; a copy, so the caller's slice is untouched.
	key := append(password[:len(password):len(password)], 0)
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return nil, err
	}
	rounds := uint64(1) << uint(cost)
	for i := uint64(1); i <= rounds; i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
		if i%paceEvery == 0 {
			pace()
		}
	}
	text := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < len(text); i += blowfish.BlockSize {
		for range 64 {
			c.Encrypt(text[i:i+blowfish.BlockSize], text[i:i+blowfish.BlockSize])
		}
	}
	return text[:bcryptSumLen], nil
}

// hashPassword returns a new $2a$ hash of password, as
// bcrypt.GenerateFromPassword does.
func hashPassword(password []byte, cost int, pace func()) (string, error) {
	if len(password) > 72 {
		return "", bcrypt.ErrPasswordTooLong
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", bcrypt.InvalidCostError(cost)
	}
	salt := make([]byte, bcryptSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum, err := eksBlowfish(password, cost, salt, pace)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$2a$%02d$%s%s", cost, bcryptEncoding.EncodeToString(salt), bcryptEncoding.EncodeToString(sum)), nil
}

// comparePassword reports whether password matches hash, as
// bcrypt.CompareHashAndPassword does; a hash it cannot read is an error.
func comparePassword(hash, password []byte, pace func()) (bool, error) {
	cost, err := bcrypt.Cost(hash) // checks the version, the cost and the length
	if err != nil {
		return false, err
	}
	// "$2$", or "$2" and a minor version and "$"; then "NN$".
	start := 3
	if hash[2] != '$' {
		start = 4
	}
	start += 3
	if len(hash) < start+bcryptEncSaltLen {
		return false, bcrypt.ErrHashTooShort
	}
	salt, err := bcryptEncoding.DecodeString(string(hash[start : start+bcryptEncSaltLen]))
	if err != nil {
		return false, err
	}
	sum, err := eksBlowfish(password, cost, salt, pace)
	if err != nil {
		return false, err
	}
	want := hash[start+bcryptEncSaltLen:]
	return subtle.ConstantTimeCompare([]byte(bcryptEncoding.EncodeToString(sum)), want) == 1, nil
}
