package httpapi

import (
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// routes registers every operation, one per line.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)

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
		DefaultStatus: status, MaxBodyBytes: s.MaxBodyBytes}
	switch a {
	case signedIn:
		o.Security = bearer
	case admin:
		o.Security = bearer
		o.Metadata = map[string]any{metaAdmin: true}
		o.Description = "Admin only."
	}
	if a == public {
		o.Security = []map[string][]string{}
	}
	return o
}
