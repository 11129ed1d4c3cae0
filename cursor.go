package workspace

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Lists use keyset pagination on the id: a cursor is the opaque encoding of
// the last id of the previous page, so a page costs one index range scan
// however deep it is, and rows inserted meanwhile never shift a page.

// EncodeCursor returns the cursor that continues after id.
func EncodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("i" + strconv.FormatInt(id, 10)))
}

// DecodeCursor parses a cursor made by EncodeCursor. The empty cursor is 0
// (start from the newest). Returns EINVALID for anything else.
func DecodeCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'i' {
		return 0, Invalid("cursor", "is not a cursor returned by this API")
	}
	id, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || id <= 0 {
		return 0, Invalid("cursor", "is not a cursor returned by this API")
	}
	return id, nil
}

// Page limits shared by every list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// PageLimit clamps a requested limit to [1, MaxPageSize], defaulting to
// DefaultPageSize.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// EscapeLike escapes the LIKE wildcards of s for use with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Paginate trims rows fetched with limit+1 to limit and returns the cursor
// of the next page ("" when there is none).
func Paginate[T any](rows []T, limit int, id func(T) int64) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, EncodeCursor(id(rows[limit-1]))
}
