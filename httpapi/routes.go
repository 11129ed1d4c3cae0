package httpapi

import (
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// routes registers every operation, one per line.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	if s.Realtime != nil {
		s.mux.Handle("GET /api/v1/ws", s.Realtime) // the WebSocket authenticates itself (see realtime)
	}
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)

	huma.Register(s.api, s.op("auth-register", "POST /api/v1/auth/register", "Create an account", "auth", public, 201), s.handleAuthRegister)
	huma.Register(s.api, s.op("auth-login", "POST /api/v1/auth/login", "Sign in", "auth", public, 0), s.handleAuthLogin)
	huma.Register(s.api, s.op("auth-refresh", "POST /api/v1/auth/refresh", "Exchange a refresh token", "auth", public, 0), s.handleAuthRefresh)
	huma.Register(s.api, s.op("auth-logout", "POST /api/v1/auth/logout", "Sign out (revoke this session)", "auth", signedIn, 204), s.handleAuthLogout)
	huma.Register(s.api, s.op("auth-me", "GET /api/v1/auth/me", "The signed-in user", "auth", signedIn, 0), s.handleAuthMe)
	huma.Register(s.api, s.op("auth-me-update", "PATCH /api/v1/auth/me", "Change my username or email", "auth", signedIn, 0), s.handleAuthMeUpdate)
	huma.Register(s.api, s.op("auth-password", "POST /api/v1/auth/password", "Change my password (revokes my other sessions)", "auth", signedIn, 204), s.handleAuthPassword)
	huma.Register(s.api, s.op("auth-sessions", "GET /api/v1/auth/sessions", "My active sessions", "auth", signedIn, 0), s.handleAuthSessionList)
	huma.Register(s.api, s.op("auth-session-revoke", "DELETE /api/v1/auth/sessions/{id}", "Revoke one of my sessions", "auth", signedIn, 204), s.handleAuthSessionRevoke)

	huma.Register(s.api, s.op("users-list", "GET /api/v1/users", "List users", "users", admin, 0), s.handleUserList)
	huma.Register(s.api, s.op("users-create", "POST /api/v1/users", "Create a user", "users", admin, 201), s.handleUserCreate)
	huma.Register(s.api, s.op("users-get", "GET /api/v1/users/{id}", "Get a user", "users", signedIn, 0), s.handleUserGet)
	huma.Register(s.api, s.op("users-update", "PATCH /api/v1/users/{id}", "Update a user (role: admin only)", "users", signedIn, 0), s.handleUserUpdate)
	huma.Register(s.api, s.op("users-delete", "DELETE /api/v1/users/{id}", "Delete a user (admin, or yourself)", "users", signedIn, 204), s.handleUserDelete)
	huma.Register(s.api, s.op("users-active", "GET /api/v1/users/active", "Users signed in within 7 days (active_users view)", "users", admin, 0), s.handleUserActive)

	huma.Register(s.api, s.op("conversations-list", "GET /api/v1/conversations", "My conversations, most recent activity first, with last message and unread count", "messages", signedIn, 0), s.handleConversationList)
	huma.Register(s.api, s.op("conversations-dm", "POST /api/v1/conversations/dm", "Open the direct conversation with a user", "messages", signedIn, 0), s.handleConversationOpenDM)
	huma.Register(s.api, s.op("conversations-read", "POST /api/v1/conversations/{id}/read", "Mark a conversation read", "messages", signedIn, 204), s.handleConversationRead)
	huma.Register(s.api, s.op("messages-list", "GET /api/v1/messages", "A page of a conversation", "messages", signedIn, 0), s.handleMessageList)
	huma.Register(s.api, s.op("messages-create", "POST /api/v1/messages", "Send a message", "messages", signedIn, 201), s.handleMessageCreate)
	huma.Register(s.api, s.op("messages-unread", "GET /api/v1/messages/unread-count", "My unread counts", "messages", signedIn, 0), s.handleMessageUnread)
	huma.Register(s.api, s.op("messages-recent", "GET /api/v1/messages/recent", "Messages of the last 24 h I may read (recent_messages view)", "messages", signedIn, 0), s.handleMessageRecent)
	huma.Register(s.api, s.op("messages-get", "GET /api/v1/messages/{id}", "Get a message", "messages", signedIn, 0), s.handleMessageGet)
	huma.Register(s.api, s.op("messages-update", "PATCH /api/v1/messages/{id}", "Edit my message", "messages", signedIn, 0), s.handleMessageUpdate)
	huma.Register(s.api, s.op("messages-delete", "DELETE /api/v1/messages/{id}", "Delete a message (author, or admin)", "messages", signedIn, 204), s.handleMessageDelete)
	huma.Register(s.api, s.op("messages-read", "POST /api/v1/messages/{id}/read", "Mark a message read", "messages", signedIn, 0), s.handleMessageRead)

	huma.Register(s.api, s.op("events-list", "GET /api/v1/events", "My events overlapping [from, to)", "calendar", signedIn, 0), s.handleEventList)
	huma.Register(s.api, s.op("events-create", "POST /api/v1/events", "Create an event", "calendar", signedIn, 201), s.handleEventCreate)
	huma.Register(s.api, s.op("events-pending", "GET /api/v1/events/pending", "My upcoming events (pending_events view)", "calendar", signedIn, 0), s.handleEventPending)
	huma.Register(s.api, s.op("events-get", "GET /api/v1/events/{id}", "Get an event I own or attend", "calendar", signedIn, 0), s.handleEventGet)
	huma.Register(s.api, s.op("events-update", "PATCH /api/v1/events/{id}", "Update my event", "calendar", signedIn, 0), s.handleEventUpdate)
	huma.Register(s.api, s.op("events-delete", "DELETE /api/v1/events/{id}", "Delete my event", "calendar", signedIn, 204), s.handleEventDelete)
	huma.Register(s.api, s.op("calendar-feed-rotate", "POST /api/v1/calendar/feed", "Create or rotate my secret iCalendar feed URL", "calendar", signedIn, 0), s.handleCalendarFeedRotate)
	huma.Register(s.api, s.op("calendar-feed", "GET /api/v1/calendar/feeds/{token}", "iCalendar feed (the token in the URL authenticates)", "calendar", public, 0), s.handleCalendarFeed)

	huma.Register(s.api, s.op("activity-list", "GET /api/v1/activity-logs", "The audit trail (mine; admins: everyone's)", "activity", signedIn, 0), s.handleActivityList)

	huma.Register(s.api, s.op("lots-list", "GET /api/v1/lots", "List lots, newest first (filter by status and received time)", "lots", signedIn, 0), s.handleLotList)
	huma.Register(s.api, s.op("lots-create", "POST /api/v1/lots", "Record a received lot (received by you)", "lots", signedIn, 201), s.handleLotCreate)
	huma.Register(s.api, s.op("lots-get", "GET /api/v1/lots/{id}", "Get a lot", "lots", signedIn, 0), s.handleLotGet)
	huma.Register(s.api, s.op("lots-update", "PATCH /api/v1/lots/{id}", "Move a lot's status (anyone), or change its item count or description (receiver or admin)", "lots", signedIn, 0), s.handleLotUpdate)
	huma.Register(s.api, s.op("lots-delete", "DELETE /api/v1/lots/{id}", "Delete a lot", "lots", admin, 204), s.handleLotDelete)

	huma.Register(s.api, s.op("shortcuts-list", "GET /api/v1/shortcuts", "My shortcuts, in order", "shortcuts", signedIn, 0), s.handleShortcutList)
	huma.Register(s.api, s.op("shortcuts-create", "POST /api/v1/shortcuts", "Add a shortcut at the end of my list", "shortcuts", signedIn, 201), s.handleShortcutCreate)
	huma.Register(s.api, s.op("shortcuts-reorder", "PUT /api/v1/shortcuts/order", "Reorder my shortcuts (every id, once, in the new order)", "shortcuts", signedIn, 0), s.handleShortcutReorder)
	huma.Register(s.api, s.op("shortcuts-get", "GET /api/v1/shortcuts/{id}", "Get one of my shortcuts", "shortcuts", signedIn, 0), s.handleShortcutGet)
	huma.Register(s.api, s.op("shortcuts-update", "PATCH /api/v1/shortcuts/{id}", "Change one of my shortcuts", "shortcuts", signedIn, 0), s.handleShortcutUpdate)
	huma.Register(s.api, s.op("shortcuts-delete", "DELETE /api/v1/shortcuts/{id}", "Delete one of my shortcuts (the rest move up)", "shortcuts", signedIn, 204), s.handleShortcutDelete)
	huma.Register(s.api, streamed(s.op("activity-export", "GET /api/v1/activity-logs/export", "Stream the audit trail as JSON Lines or CSV", "activity", admin, 0), "application/x-ndjson", "text/csv"), s.handleActivityExport)

	huma.Register(s.api, s.op("admin-db-connections", "GET /api/v1/admin/db/connections", "Connections per database", "admin", admin, 0), s.handleAdminDBConnections)
	huma.Register(s.api, s.op("admin-db-tables", "GET /api/v1/admin/db/tables", "Largest tables", "admin", admin, 0), s.handleAdminDBTables)
	huma.Register(s.api, s.op("admin-db-slow-queries", "GET /api/v1/admin/db/slow-queries", "Slowest statements (pg_stat_statements)", "admin", admin, 0), s.handleAdminDBSlowQueries)
	huma.Register(s.api, s.op("admin-db-index-usage", "GET /api/v1/admin/db/index-usage", "Index usage, least used first", "admin", admin, 0), s.handleAdminDBIndexUsage)
}

// streamed documents an operation whose body is streamed in one of the
// given media types (huma cannot infer it from a streaming output).
func streamed(o huma.Operation, mediaTypes ...string) huma.Operation {
	content := map[string]*huma.MediaType{}
	for _, mt := range mediaTypes {
		content[mt] = &huma.MediaType{Schema: &huma.Schema{Type: "string"}}
	}
	o.Responses = map[string]*huma.Response{"200": {Description: "Streamed, one page at a time.", Content: content}}
	return o
}

type access int

const (
	public access = iota
	signedIn
	admin
)

// op describes an operation; pattern is "METHOD /path". huma enforces the
// body limit (413) while it reads the body.
func (s *Server) op(id, pattern, summary, tag string, a access, status int) huma.Operation {
	method, path, _ := strings.Cut(pattern, " ")
	o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag},
		DefaultStatus: status, MaxBodyBytes: s.MaxBodyBytes,
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable}}
	switch a {
	case signedIn:
		o.Security = bearer
		o.Errors = append(o.Errors, http.StatusForbidden)
	case admin:
		o.Security = bearer
		o.Errors = append(o.Errors, http.StatusForbidden)
		o.Metadata = map[string]any{metaAdmin: true}
		o.Description = "Admin only."
	}
	if a == public {
		o.Security = []map[string][]string{}
	}
	return o
}
