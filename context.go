package workspace

import "context"

// Actor is who does something and from where. Stores read it from the
// context to write the audit row of a mutation in the same transaction.
type Actor struct {
	UserID    int    // 0 for the system or an anonymous caller
	Username  string // empty when unknown
	Role      Role
	SessionID string
	IP        string // client address, already resolved through trusted proxies
	UserAgent string
}

// IsAdmin reports whether the actor has the admin role.
func (a Actor) IsAdmin() bool { return a.Role == RoleAdmin }

type contextKey int

const actorContextKey contextKey = iota

// NewContextWithActor returns a copy of ctx carrying a.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorContextKey, a)
}

// ActorFromContext returns the actor in ctx, or the zero Actor (the system).
func ActorFromContext(ctx context.Context) Actor {
	a, _ := ctx.Value(actorContextKey).(Actor)
	return a
}
