package workspace

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ActivityLog is one row of the audit trail. Rows are written by the stores
// as a side effect of mutations, never by clients.
type ActivityLog struct {
	ID        int             `json:"id"`
	UserID    *int            `json:"user_id"`
	Action    string          `json:"action"`
	Metadata  json.RawMessage `json:"metadata"`
	IPAddress *string         `json:"ip_address"`
	UserAgent *string         `json:"user_agent"`
	CreatedAt time.Time       `json:"created_at"`
}

// ActivityFilter selects audit rows; results are newest first.
type ActivityFilter struct {
	UserID *int
	// Action matches exactly, or as a prefix when it ends in '*'
	// ("auth.*").
	Action *string
	Since  *time.Time // inclusive
	Until  *time.Time // exclusive
	// Metadata selects rows whose metadata contains these top-level
	// key/value pairs (string, number or boolean values; see
	// ValidateMetadataFilter): @> on the GIN index in PostgreSQL,
	// json_extract in SQLite.
	Metadata map[string]any
	Cursor   string
	Limit    int
}

var metadataKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidateMetadataFilter checks a metadata containment filter: at most 10
// keys of letters, digits, '_', '.', '-', each with a string, number or
// boolean value, so both engines can answer it the same way.
func ValidateMetadataFilter(m map[string]any) error {
	if len(m) > 10 {
		return Invalid("metadata", "at most 10 keys")
	}
	for k, v := range m {
		if !metadataKeyRE.MatchString(k) {
			return Invalid("metadata", "key %q: use letters, digits, '_', '.', '-'", k)
		}
		if s, ok := v.(string); ok && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
			return Invalid("metadata", "value of %q must be valid UTF-8 without NUL", k)
		}
		switch v.(type) {
		case string, float64, bool:
		default:
			return Invalid("metadata", "value of %q must be a string, number or boolean", k)
		}
	}
	return nil
}

// ActivityStore reads the audit trail. There is no method to write, change
// or delete a row through it: rows come from the other stores' mutations.
type ActivityStore interface {
	// FindActivityLogs returns one page, newest first, and the next cursor.
	// Returns EINVALID for a bad cursor.
	FindActivityLogs(ctx context.Context, f ActivityFilter) ([]*ActivityLog, string, error)
}

// Audit actions written by the stores.
const (
	ActionLogin          = "auth.login"
	ActionLoginFailed    = "auth.login_failed"
	ActionRefreshReuse   = "auth.refresh_reuse"
	ActionPasswordChange = "auth.password_change"
	ActionUserCreate     = "user.create"
	ActionUserUpdate     = "user.update"
	ActionUserDelete     = "user.delete"
	ActionActivityPrune  = "activity.prune"
)

// ActivityPruner applies the audit trail's retention. It is an operator
// tool (`workspace activity prune`, ACTIVITY_RETENTION), never exposed
// through the API, which keeps the trail append-only.
type ActivityPruner interface {
	// PruneActivityLogs deletes the rows created before before, oldest
	// first, in transactions of at most batch rows (DefaultPruneBatch when
	// batch <= 0), so writers are never blocked for long. When it deleted
	// anything it writes one ActionActivityPrune row saying how many.
	PruneActivityLogs(ctx context.Context, before time.Time, batch int) (PruneResult, error)
	// ReclaimSpace gives the space of deleted rows back. SQLite: PRAGMA
	// incremental_vacuum in small steps when the file has
	// auto_vacuum=incremental, or VACUUM when full is set (it rewrites
	// the file and blocks writers meanwhile). PostgreSQL: VACUUM (ANALYZE)
	// activity_logs, never FULL (it makes the space reusable without an
	// exclusive lock). It returns what it did, for the operator.
	ReclaimSpace(ctx context.Context, full bool) (string, error)
}

// DefaultPruneBatch is the number of rows PruneActivityLogs deletes per
// transaction by default.
const DefaultPruneBatch = 5000

// PruneResult says what PruneActivityLogs did.
type PruneResult struct {
	Deleted int64 // rows deleted
	Batches int   // transactions that deleted at least one row
}

// sensitiveKeyRE matches metadata keys whose values must never be stored.
var sensitiveKeyRE = regexp.MustCompile(`(?i)pass(word)?|secret|token|hash|authorization|cookie|api[_-]?key`)

// Redacted is what a sensitive metadata value is replaced with.
const Redacted = "[REDACTED]"

// RedactMetadata returns a copy of m in which the value of every key that
// names a password, token, secret or hash (at any depth) is Redacted. Stores
// apply it to every audit row, so a careless caller cannot leak one.
func RedactMetadata(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sensitiveKeyRE.MatchString(k) {
			out[k] = Redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return RedactMetadata(v)
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = redactValue(v[i])
		}
		return out
	default:
		return v
	}
}

// Audit is an audit row a store writes beside a mutation; the actor, IP and
// user agent come from the context.
type Audit struct {
	Action   string
	UserID   *int // overrides the actor (e.g. a failed login names its account)
	Metadata map[string]any
}

// Subject returns the user id the row is attributed to: a.UserID when set
// (0 meaning nobody), else the actor's; 0 is stored as NULL.
func (a Audit) Subject(actor Actor) int {
	if a.UserID != nil {
		return *a.UserID
	}
	return actor.UserID
}

// EncodeMetadata returns the redacted JSON of a's metadata (nil for none).
func (a Audit) EncodeMetadata() ([]byte, error) {
	if a.Metadata == nil {
		return nil, nil
	}
	return json.Marshal(RedactMetadata(a.Metadata))
}

// AuditWriter records audit rows that do not accompany a stored mutation
// (a failed login).
type AuditWriter interface {
	WriteAudit(ctx context.Context, a Audit) error
}

// MaxUserAgentLen bounds the user agent kept in audit rows and sessions.
const MaxUserAgentLen = 512

// ClampUserAgent truncates a user agent to MaxUserAgentLen bytes on a rune
// boundary and drops invalid UTF-8.
func ClampUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	if len(ua) <= MaxUserAgentLen {
		return ua
	}
	ua = ua[:MaxUserAgentLen]
	for !utf8.ValidString(ua) {
		ua = ua[:len(ua)-1]
	}
	return ua
}
