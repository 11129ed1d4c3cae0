package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"workspace"
)

// handleHealthz answers while the process is alive.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": workspace.Version})
}

// handleReadyz answers 200 when the database answers, 503 otherwise.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "2")
		writeProblem(w, http.StatusServiceUnavailable, workspace.EUNAVAILABLE, "The database is unreachable.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"status": "ready"})
}

// unmatched answers requests no route matches (404, or 405 with Allow)
// with a problem document instead of the mux's plain text.
func unmatched(h http.Handler, w http.ResponseWriter, r *http.Request) {
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := probe.status
	if status == 0 {
		status = http.StatusNotFound
	}
	code := workspace.ENOTFOUND
	if status == http.StatusMethodNotAllowed {
		code = "method_not_allowed"
	}
	writeProblem(w, status, code, http.StatusText(status)+": "+r.Method+" "+r.URL.Path)
}

// headerProbe records what the mux's fallback handler would answer.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }
