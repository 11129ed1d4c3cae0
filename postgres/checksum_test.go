package postgres

import (
	"context"
	"crypto/sha256"
	"testing"

	"workspace/internal/testpg"
)

// Ensure the canonical form of JSON agrees with what PostgreSQL's jsonb
// makes of the same text: numbers as numeric prints them, keys sorted,
// duplicates resolved to the last value.
func TestCanonicalJSONMatchesJSONB(t *testing.T) {
	conn := testpg.Admin(t)
	for _, s := range []string{
		`1`, `-0`, `-0.0`, `1.0`, `1.50`, `1e3`, `1E+2`, `1.5e1`, `1.50e1`, `1.5e-3`, `100e-2`, `0.000`, `-12.3400e-5`,
		`123456789012345678901234567890`, `1e-20`, `2.5E+25`,
		`{"b": 1, "a": [true, false, null, "x"], "b": 2}`,
		`{"url": "https://example.com/ü?q=1&r=2", "html": "<a>&</a>", "esc": "\u00e9\n\t\"\\", "e": {}, "l": []}`,
		`"just a string"`, `[1, 2.0, {"k": "v"}]`,
	} {
		var pg string
		if err := conn.QueryRow(context.Background(), `SELECT $1::jsonb::text`, s).Scan(&pg); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, err := canonicalJSON(s, true)
		if err != nil {
			t.Fatalf("canonical %s: %v", s, err)
		}
		want, err := canonicalJSON(pg, true)
		if err != nil {
			t.Fatalf("canonical %s: %v", pg, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: canonical %s, but jsonb %s gives %s", s, got, pg, want)
		}
	}
}

func TestNumericText(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "1.50": "1.50", "1e3": "1000", "1.5e-3": "0.0015", "100e-2": "1.00", "-12.34e1": "-123.4", "0.0001": "0.0001",
	} {
		if got, err := numericText(in); err != nil || got != want {
			t.Errorf("numericText(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// Ensure the checksum ignores row order and carries across words.
func TestChecksumAdd(t *testing.T) {
	h1, h2 := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	var a, b Checksum
	a.add(h1)
	a.add(h2)
	b.add(h2)
	b.add(h1)
	if a != b {
		t.Fatalf("order matters: %s vs %s", a, b)
	}
	var c Checksum
	var ones, one [32]byte
	for i := range ones {
		ones[i] = 0xff
	}
	one[31] = 1
	c.add(ones)
	c.add(one)
	if c.Sum != ([32]byte{}) || c.Rows != 2 {
		t.Fatalf("2^256-1 + 1 = %s, want 0", c)
	}
	var d Checksum
	d.add(h1)
	d.add(h1)
	if d.Sum == ([32]byte{}) {
		t.Fatal("duplicate rows cancel out")
	}
}
