package workspace

import "context"

// Store is everything a storage engine provides. sqlite.DB and postgres.DB
// implement it; storetest checks that they behave alike.
type Store interface {
	UserStore
	SessionStore
	MessageStore
	CalendarEventStore
	PresenceStore
	ActivityStore
	LotStore
	ShortcutStore
	ActivityPruner
	AuditWriter
	Monitor
	// Ping reports whether the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
