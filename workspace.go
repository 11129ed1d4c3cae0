// Package workspace holds the domain of the Workspace backend: the types of
// the seed schema (users, messages, events, activity logs, lots, shortcuts),
// the store contracts that the sqlite and postgres packages implement, and
// the validation and permission rules that apply to both engines alike.
//
// Subpackages adapt one technology each (sqlite, postgres, httpapi, auth) and
// speak only the types of this package; cmd/workspace wires them together.
package workspace

import "time"

// Version and Commit identify the build; main sets them from -ldflags.
var (
	Version = "dev"
	Commit  = ""
)

// Now returns the current time as stored: UTC, truncated to the microsecond
// precision of PostgreSQL's TIMESTAMP, so a value read back equals the value
// written on both engines.
func Now() time.Time { return Truncate(time.Now()) }

// Truncate converts t to UTC at microsecond precision (see Now).
func Truncate(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
