package workspace

import (
	"context"
	"time"
)

// Change kinds pushed to WebSocket clients.
const (
	ChangeMessageCreated = "message.created"
	ChangeMessageUpdated = "message.updated"
	ChangeMessageDeleted = "message.deleted"
	ChangeMessageRead    = "message.read"
	ChangeEventCreated   = "event.created"
	ChangeEventUpdated   = "event.updated"
	ChangeEventDeleted   = "event.deleted"
	ChangeLotCreated     = "lot.created"
	ChangeLotUpdated     = "lot.updated"
	ChangePresence       = "presence"
	ChangeTyping         = "typing"
)

// Change is a committed change, small enough for a PostgreSQL NOTIFY
// payload: the kind and ids only. Receivers read the row itself.
type Change struct {
	Kind           string `json:"k"`
	ID             int    `json:"id,omitempty"` // message, event or lot id
	ConversationID string `json:"c,omitempty"`
	UserID         int    `json:"u,omitempty"` // the actor (reader of a receipt, typist)
}

// MessageCreatedNotification is the notification payload of every new
// message, whoever sends it: listeners re-read the table from the last id
// they delivered, so it names no message, and being one constant string
// it is neither encoded per send nor decoded per listener.
const MessageCreatedNotification = `{"k":"` + ChangeMessageCreated + `"}`

// Publisher announces committed changes to every instance's WebSocket
// clients. The HTTP layer calls it after a successful mutation, with the
// request's context: the change is committed, so Publish must not be cut
// short when the client hangs up right after its answer (it keeps ctx's
// values, not its cancellation).
type Publisher interface {
	Publish(ctx context.Context, c Change)
}

// Notifier carries change notifications between the instances sharing a
// database (PostgreSQL LISTEN/NOTIFY), or within one process (SQLite).
type Notifier interface {
	// Notify sends a payload to every listener, this instance's included.
	Notify(ctx context.Context, payload string) error
	// Listen calls fn with every payload until ctx ends. After a lost
	// connection is re-established it calls fn with "" so the receiver can
	// fill the gap from the database.
	Listen(ctx context.Context, fn func(payload string)) error
}

// OnlineUser is a user with at least one live WebSocket connection.
type OnlineUser struct {
	UserID   int    `json:"user_id"`
	Username string `json:"username"`
}

// PresenceStore records live WebSocket connections, so that every
// instance can tell who is online. Rows of an instance that stopped
// without cleaning up expire once their seen_at is older than the caller's
// cutoff.
type PresenceStore interface {
	// AddPresence records a connection of userID on instanceID.
	AddPresence(ctx context.Context, connectionID string, userID int, instanceID string) error
	// RemovePresence forgets a connection (no error if it is gone).
	RemovePresence(ctx context.Context, connectionID string) error
	// TouchPresence marks every connection of instanceID as seen now.
	TouchPresence(ctx context.Context, instanceID string) error
	// FindOnlineUsers lists the users with a connection seen after since.
	FindOnlineUsers(ctx context.Context, since time.Time) ([]OnlineUser, error)
}
