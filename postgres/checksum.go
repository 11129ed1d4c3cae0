package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Checksum is the order-independent digest of a table's rows that convert
// computes on both sides (the source rows as converted, and the rows read
// back from PostgreSQL through pgx) and compares.
//
// The canonical form of a row is the concatenation, in column order, of
// each value's encoding: 0x00 for NULL, else 0x01, the length of the
// value's canonical text as a uvarint, and the text:
//
//   - integers: base 10;  booleans: "t" or "f";  floats: Go's shortest 'g';
//   - timestamps: UTC "YYYY-MM-DD HH:MM:SS.ffffff" (always 6 digits);
//   - text: its bytes;  bytea: its bytes;
//   - json/jsonb: compact JSON with object keys sorted bytewise, duplicate
//     keys resolved to the last value (as jsonb does), strings escaped as
//     Go's encoding/json does, and numbers written as PostgreSQL's numeric
//     prints them (plain decimal, scale = fraction digits - exponent);
//   - text[]: the JSON array of its elements (strings or null);
//   - inet/cidr: the address alone when the prefix covers it fully
//     ("10.0.0.1", "::1"), else address/bits ("10.0.0.0/8").
//
// Each row's canonical form is hashed with SHA-256; the table's checksum is
// the row count and the sum of the row hashes modulo 2^256, so row order
// does not matter and duplicate rows do not cancel out.
type Checksum struct {
	Rows int64
	Sum  [sha256.Size]byte
}

// add adds one row hash to the sum (256-bit big-endian addition).
func (c *Checksum) add(h [sha256.Size]byte) {
	c.Rows++
	var carry uint64
	for i := len(c.Sum) - 8; i >= 0; i -= 8 {
		var s uint64
		s, carry = bits.Add64(binary.BigEndian.Uint64(c.Sum[i:]), binary.BigEndian.Uint64(h[i:]), carry)
		binary.BigEndian.PutUint64(c.Sum[i:], s)
	}
}

// String returns the row count and the hex digest.
func (c Checksum) String() string {
	return fmt.Sprintf("%d rows, sha256-sum %s", c.Rows, hex.EncodeToString(c.Sum[:]))
}

// row accumulates the canonical form of one row.
type row struct{ buf []byte }

func (r *row) reset() { r.buf = r.buf[:0] }

func (r *row) null() { r.buf = append(r.buf, 0) }

func (r *row) text(s string) {
	r.buf = append(r.buf, 1)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(s)))
	r.buf = append(r.buf, s...)
}

func (r *row) int(n int64) {
	var d [20]byte
	r.bytes(strconv.AppendInt(d[:0], n, 10))
}

func (r *row) bool(b bool) {
	if b {
		r.text("t")
	} else {
		r.text("f")
	}
}

func (r *row) bytes(b []byte) {
	r.buf = append(r.buf, 1)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(b)))
	r.buf = append(r.buf, b...)
}

func (r *row) sum() [sha256.Size]byte { return sha256.Sum256(r.buf) }

// timeLayout is the canonical text of a timestamp (and the SQLite storage
// form).
const timeLayout = "2006-01-02 15:04:05.000000"

func canonicalTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func canonicalInet(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

func canonicalFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// errJSONNul is returned for a JSON string holding U+0000, which jsonb
// cannot store.
var errJSONNul = errors.New(`JSON holds the character \u0000, which PostgreSQL's jsonb refuses`)

// canonicalJSON parses the JSON text s and returns its canonical form
// (see Checksum). With noNul, a string holding U+0000 is an error.
func canonicalJSON(s string, noNul bool) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("invalid JSON: data after the value")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v, noNul); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, v any, noNul bool) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		n, err := numericText(string(v))
		if err != nil {
			return err
		}
		buf.WriteString(n)
	case string:
		if noNul && strings.IndexByte(v, 0) >= 0 {
			return errJSONNul
		}
		b, _ := json.Marshal(v)
		buf.Write(b)
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, e, noNul); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, k, noNul); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeJSON(buf, v[k], noNul); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// numericText returns a JSON number as PostgreSQL's numeric type prints it:
// plain decimal (no exponent), with as many fraction digits as the literal
// had minus its exponent (at least 0): 1e3 → 1000, 1.50 → 1.50,
// 1.5e-3 → 0.0015, -0 → 0.
func numericText(s string) (string, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expStr, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		e, err := strconv.Atoi(expStr)
		if err != nil || e > 100000 || e < -100000 {
			return "", fmt.Errorf("JSON number %s is out of range", s)
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	scale := max(0, len(frac)-exp)
	// value = digits × 10^(exp - len(frac)); print it with scale decimals.
	shift := exp - len(frac) + scale // ≥ 0: zeros to append
	digits += strings.Repeat("0", shift)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	ip, fp := digits[:len(digits)-scale], digits[len(digits)-scale:]
	ip = strings.TrimLeft(ip, "0")
	if ip == "" {
		ip = "0"
	}
	out := ip
	if scale > 0 {
		out += "." + fp
	}
	if neg && strings.Trim(ip+fp, "0") != "" {
		out = "-" + out
	}
	return out, nil
}
