package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// kind is how convert treats a PostgreSQL column type.
type kind int

const (
	kindUnsupported kind = iota
	kindInt              // smallint, integer, bigint
	kindBool             // boolean
	kindTimestamp        // timestamp, timestamptz
	kindText             // text, varchar, char
	kindBytea            // bytea
	kindJSON             // json, jsonb
	kindTextArray        // text[], varchar[]
	kindInet             // inet, cidr
	kindFloat            // double precision
)

// column is a target column as information_schema describes it.
type column struct {
	name     string
	typ      string // udt_name: int4, varchar, _text, jsonb, …
	maxLen   int    // varchar(n)/char(n): n characters; 0: unbounded
	nullable bool
	kind     kind
	bits     int // integers: 16, 32, 64
}

func kindOf(udt string) (kind, int) {
	switch udt {
	case "int2":
		return kindInt, 16
	case "int4":
		return kindInt, 32
	case "int8":
		return kindInt, 64
	case "bool":
		return kindBool, 0
	case "timestamp", "timestamptz":
		return kindTimestamp, 0
	case "text", "varchar", "bpchar":
		return kindText, 0
	case "bytea":
		return kindBytea, 0
	case "json", "jsonb":
		return kindJSON, 0
	case "_text", "_varchar":
		return kindTextArray, 0
	case "inet", "cidr":
		return kindInet, 0
	case "float8":
		return kindFloat, 0
	}
	return kindUnsupported, 0
}

// timeLayouts are the timestamp texts accepted from SQLite: the storage
// form, shorter or no fractions (rows written with the sqlite3 CLI), and
// RFC 3339 with an offset (converted to UTC).
var timeLayouts = []string{timeLayout, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"}

// convert turns a raw SQLite value (nil, int64, float64, string, []byte;
// time.Time for columns the driver parses) into the Go value pgx stores in
// this column, and appends its canonical form to r. A value that cannot be
// stored exactly is an error: never dropped, rounded or truncated.
func (c *column) convert(v any, r *row) (any, error) {
	if v == nil {
		if !c.nullable {
			return nil, errors.New("NULL in a NOT NULL column")
		}
		r.null()
		return nil, nil
	}
	switch c.kind {
	case kindInt:
		n, ok := v.(int64)
		if !ok {
			return nil, unexpected("an integer", v)
		}
		if c.bits < 64 && (n < -(1<<(c.bits-1)) || n > 1<<(c.bits-1)-1) {
			return nil, fmt.Errorf("%d does not fit the column's %d-bit integer", n, c.bits)
		}
		r.int(n)
		return n, nil
	case kindBool:
		n, ok := v.(int64)
		if !ok || (n != 0 && n != 1) {
			return nil, unexpected("a boolean (0 or 1)", v)
		}
		r.bool(n == 1)
		return n == 1, nil
	case kindTimestamp:
		var t time.Time
		switch v := v.(type) {
		case string:
			var err error
			if t, err = parseTimestamp(v); err != nil {
				return nil, err
			}
		case time.Time:
			t = v.UTC()
		default:
			return nil, unexpected("a timestamp text", v)
		}
		if t.Nanosecond()%1000 != 0 {
			return nil, fmt.Errorf("timestamp %s is finer than the microsecond PostgreSQL keeps", t.Format(time.RFC3339Nano))
		}
		r.text(canonicalTime(t))
		return t, nil
	case kindText:
		s, ok := v.(string)
		if !ok {
			return nil, unexpected("text", v)
		}
		if err := checkText(s); err != nil {
			return nil, err
		}
		if c.maxLen > 0 && utf8.RuneCountInString(s) > c.maxLen {
			return nil, fmt.Errorf("%d characters do not fit %s(%d)", utf8.RuneCountInString(s), c.typ, c.maxLen)
		}
		r.text(s)
		return s, nil
	case kindBytea:
		switch v := v.(type) {
		case []byte:
			r.bytes(v)
			return v, nil
		case string:
			r.text(v)
			return []byte(v), nil
		}
		return nil, unexpected("a blob", v)
	case kindJSON:
		s, ok := asText(v)
		if !ok {
			return nil, unexpected("JSON text", v)
		}
		if err := checkText(s); err != nil {
			return nil, err
		}
		canon, err := canonicalJSON(s, c.typ == "jsonb")
		if err != nil {
			return nil, err
		}
		r.bytes(canon)
		return s, nil
	case kindTextArray:
		s, ok := asText(v)
		if !ok {
			return nil, unexpected("a JSON array of strings", v)
		}
		if !utf8.ValidString(s) {
			return nil, errors.New("invalid UTF-8")
		}
		var elems []*string
		if err := json.Unmarshal([]byte(s), &elems); err != nil || elems == nil {
			return nil, fmt.Errorf("%q is not a JSON array of strings", clip(s))
		}
		for _, e := range elems {
			if e != nil && strings.IndexByte(*e, 0) >= 0 {
				return nil, errors.New("an element holds a NUL byte, which PostgreSQL text refuses")
			}
		}
		b, _ := json.Marshal(elems)
		r.bytes(b)
		return elems, nil
	case kindInet:
		s, ok := v.(string)
		if !ok {
			return nil, unexpected("an IP address", v)
		}
		p, err := parseInet(s)
		if err != nil {
			return nil, err
		}
		if c.typ == "cidr" && p.Masked() != p {
			return nil, fmt.Errorf("%q has bits set right of the mask, which cidr refuses", s)
		}
		r.text(canonicalInet(p))
		return p, nil
	case kindFloat:
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case int64:
			f = float64(v)
			if int64(f) != v {
				return nil, fmt.Errorf("%d is not exact as a double", v)
			}
		default:
			return nil, unexpected("a number", v)
		}
		if math.IsNaN(f) {
			return nil, errors.New("NaN")
		}
		r.text(canonicalFloat(f))
		return f, nil
	}
	return nil, fmt.Errorf("type %s is not supported", c.typ)
}

// canonical appends the canonical form of a value read back through pgx
// (rows.Values, JSON selected as text) to r.
func (c *column) canonical(v any, r *row) error {
	if v == nil {
		r.null()
		return nil
	}
	switch c.kind {
	case kindInt:
		switch v := v.(type) {
		case int16:
			r.int(int64(v))
			return nil
		case int32:
			r.int(int64(v))
			return nil
		case int64:
			r.int(v)
			return nil
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			r.bool(b)
			return nil
		}
	case kindTimestamp:
		if t, ok := v.(time.Time); ok {
			r.text(canonicalTime(t))
			return nil
		}
	case kindText:
		if s, ok := v.(string); ok {
			r.text(s)
			return nil
		}
	case kindBytea:
		if b, ok := v.([]byte); ok {
			r.bytes(b)
			return nil
		}
	case kindJSON:
		if s, ok := v.(string); ok {
			canon, err := canonicalJSON(s, false)
			if err != nil {
				return err
			}
			r.bytes(canon)
			return nil
		}
	case kindTextArray:
		if a, ok := v.([]any); ok {
			for _, e := range a {
				if _, ok := e.(string); !ok && e != nil {
					return fmt.Errorf("unexpected array element %T", e)
				}
			}
			b, _ := json.Marshal(a)
			r.bytes(b)
			return nil
		}
	case kindInet:
		if p, ok := v.(netip.Prefix); ok {
			r.text(canonicalInet(p))
			return nil
		}
	case kindFloat:
		if f, ok := v.(float64); ok {
			r.text(canonicalFloat(f))
			return nil
		}
	}
	return fmt.Errorf("unexpected %T for type %s", v, c.typ)
}

func parseTimestamp(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a valid timestamp (want UTC 'YYYY-MM-DD HH:MM:SS.ffffff')", clip(s))
}

func parseInet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an IP address or network", clip(s))
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address", clip(s))
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkText refuses what PostgreSQL text cannot hold.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8 %q", clip(s))
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("a NUL byte at offset %d, which PostgreSQL text refuses", i)
	}
	return nil
}

func asText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

func unexpected(want string, v any) error {
	var got string
	switch v := v.(type) {
	case int64:
		got = fmt.Sprintf("the integer %d", v)
	case float64:
		got = fmt.Sprintf("the real %g", v)
	case string:
		got = fmt.Sprintf("the text %q", clip(v))
	case []byte:
		got = fmt.Sprintf("a %d-byte blob", len(v))
	default:
		got = fmt.Sprintf("a %T", v)
	}
	return fmt.Errorf("want %s, got %s", want, got)
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
