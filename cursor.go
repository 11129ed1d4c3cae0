package workspace

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
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
	if err != nil || id <= 0 || id > MaxID {
		return 0, Invalid("cursor", "is not a cursor returned by this API")
	}
	return id, nil
}

// MaxID is the largest id: every id column is PostgreSQL's INTEGER (the
// seed's SERIAL), so a larger one can name nothing.
const MaxID = 1<<31 - 1

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

// EncodeTimeCursor returns the cursor that continues after (t, id), for
// lists ordered by a timestamp and then id.
func EncodeTimeCursor(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("t" + strconv.FormatInt(t.UnixMicro(), 10) + "_" + strconv.FormatInt(id, 10)))
}

// DecodeTimeCursor parses a cursor made by EncodeTimeCursor; ok is false for
// the empty cursor. Returns EINVALID for anything else.
func DecodeTimeCursor(s string) (t time.Time, id int64, ok bool, err error) {
	if s == "" {
		return time.Time{}, 0, false, nil
	}
	bad := Invalid("cursor", "is not a cursor returned by this API")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 4 || b[0] != 't' {
		return time.Time{}, 0, false, bad
	}
	ts, is, found := strings.Cut(string(b[1:]), "_")
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	id, err2 := strconv.ParseInt(is, 10, 64)
	if !found || err1 != nil || err2 != nil || id <= 0 || id > MaxID {
		return time.Time{}, 0, false, bad
	}
	return time.UnixMicro(micros).UTC(), id, true, nil
}

// EncodeConversationCursor returns the cursor that continues a conversation
// list after the conversation id whose last message is lastMessageID (0:
// none).
func EncodeConversationCursor(lastMessageID int, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v" + strconv.Itoa(lastMessageID) + "_" + id))
}

// DecodeConversationCursor parses a cursor made by EncodeConversationCursor;
// ok is false for the empty cursor. Returns EINVALID for anything else.
func DecodeConversationCursor(s string) (lastMessageID int, id string, ok bool, err error) {
	if s == "" {
		return 0, "", false, nil
	}
	bad := Invalid("cursor", "is not a cursor returned by this API")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 4 || b[0] != 'v' {
		return 0, "", false, bad
	}
	num, id, found := strings.Cut(string(b[1:]), "_")
	if !found {
		return 0, "", false, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > MaxID {
		return 0, "", false, bad
	}
	if _, err := ParseConversation(id); err != nil {
		return 0, "", false, bad
	}
	return int(n), id, true, nil
}
