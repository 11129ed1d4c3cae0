package httpapi

import (
	"net/http"
	"strings"

	"workspace"
)

// handleMetrics serves /metrics on the API listener to admins only: the
// numbers describe the whole service. Prometheus sends the token with
// `authorization: {credentials: …}` (or bearer_token_file). For a scraper
// without an account, serve MetricsHandler on a private address instead
// (METRICS_ADDR).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="workspace"`)
		writeProblem(w, http.StatusUnauthorized, workspace.EUNAUTHORIZED, "Missing bearer access token.")
		return
	}
	u, _, err := s.Auth.Authenticate(r.Context(), token)
	if err != nil {
		code := workspace.ErrorCode(err)
		if code == workspace.EUNAUTHORIZED {
			w.Header().Set("WWW-Authenticate", `Bearer realm="workspace", error="invalid_token"`)
		}
		if code == workspace.EINTERNAL {
			s.Logger.ErrorContext(r.Context(), "internal error", "request_id", requestID(r.Context()), "err", err)
		}
		writeProblem(w, codes[code], code, workspace.ErrorMessage(err))
		return
	}
	if u.Role != workspace.RoleAdmin {
		writeProblem(w, http.StatusForbidden, workspace.EFORBIDDEN, "Metrics need the admin role.")
		return
	}
	s.Metrics.Handler().ServeHTTP(w, r)
}

// MetricsHandler serves the metrics to anyone: mount it only on a listener
// reachable from a private network (METRICS_ADDR). Call Handler first.
func (s *Server) MetricsHandler() http.Handler { return s.Metrics.Handler() }
