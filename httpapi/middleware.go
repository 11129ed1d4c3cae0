package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"workspace"
)

type ctxKey int

const requestIDKey ctxKey = iota

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusRecorder remembers the status written, for the request log, and
// holds a final status back until the body comes, so that a body written
// whole (WriteBody, the JSON responses) goes out with a Content-Length.
// Without one, net/http streams a body over its 2 KB buffer chunked, in a
// write syscall per 4 KB: the page profile (12 KB of JSON per page) had
// 28 % of the server's CPU in write(2).
type statusRecorder struct {
	http.ResponseWriter
	status  int       // the first status written, for the log
	pending bool      // a final status is held back
	sent    bool      // the header went out
	conn    *holdConn // the connection, when it can hold writes (NewListener)
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	if code < 200 { // informational (101 before a WebSocket hijack): at once
		r.ResponseWriter.WriteHeader(code)
		return
	}
	if r.sent || r.pending {
		return // only the first final status counts, as in net/http
	}
	r.status, r.pending = code, true
}

// flushHeader passes a held-back status on.
func (r *statusRecorder) flushHeader() {
	if r.pending {
		r.pending, r.sent = false, true
		r.ResponseWriter.WriteHeader(r.status)
	}
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.flushHeader()
	r.sent = true
	return r.ResponseWriter.Write(b)
}

// WriteBody writes b as the whole body: with a Content-Length, unless the
// header already went out or names one.
func (r *statusRecorder) WriteBody(b []byte) (n int, err error) {
	if !r.sent && r.Header().Get("Content-Length") == "" {
		r.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	if r.conn == nil || r.sent || len(b) < holdMin || len(b) > holdMax {
		return r.Write(b)
	}
	// Headers and body in one write: the connection holds what net/http
	// writes until the flush has pushed out its buffers (conn.go).
	r.conn.hold()
	defer func() { // deferred: a panic must not leave the connection holding
		if serr := r.conn.send(); err == nil {
			err = serr
		}
	}()
	if n, err = r.Write(b); err != nil {
		return n, err
	}
	return n, http.NewResponseController(r.ResponseWriter).Flush()
}

// FlushError passes a held-back status on first; http.ResponseController
// finds it before Unwrap. (No Hijack method: a WebSocket upgrade's 101 is
// informational and already went out, and claiming hijack support here
// would hide a writer that has none.)
func (r *statusRecorder) FlushError() error {
	r.flushHeader()
	r.sent = true
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// base is the outer middleware of every request: request id, client
// address, panic recovery, security headers, CORS and the request log.
func (s *Server) base(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The route label is the matched mux pattern ("GET
		// /api/v1/messages/{id}"), never the raw path: a bounded label set.
		muxHandler, pattern := s.mux.Handler(r)
		route := pattern
		if route == "" {
			route = "unmatched"
		}
		rec := &statusRecorder{ResponseWriter: w}
		rec.conn, _ = r.Context().Value(connKey{}).(*holdConn)
		w = rec
		s.Metrics.InFlight.Inc()
		defer func() {
			s.Metrics.InFlight.Dec()
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			s.Metrics.Observe(route, status, time.Since(start))
			rec.flushHeader() // a status with no body (204, or a handler that wrote none)
		}()
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		ip := s.clientIP(r)

		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/api/v1/docs") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			h.Set("Cache-Control", "no-store")
		}
		if s.cors(w, r) {
			return
		}

		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = workspace.NewContextWithActor(ctx, workspace.Actor{IP: ip, UserAgent: r.UserAgent()})
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("panic", slog.String("request_id", id), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if !rec.sent {
					// Nothing went out: a status held back (say huma's 200
					// before an encoder panicked) gives way to the 500.
					rec.status, rec.pending = 0, false
					rec.Header().Del("Content-Length")
					rec.Header().Del("Content-Disposition")
					writeProblem(rec, http.StatusInternalServerError, workspace.EINTERNAL, "Internal error.")
				}
			}
			s.RequestLog.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", loggedPath(r.URL.Path)),
				slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)), slog.String("ip", ip))
		}()
		r = r.WithContext(ctx)
		if pattern == "" {
			unmatched(muxHandler, rec, r)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// loggedPath is the path as logged: the secret token of a calendar feed
// URL is a credential and never reaches a log line.
func loggedPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/api/v1/calendar/feeds/"); ok && rest != "" {
		return "/api/v1/calendar/feeds/{token}"
	}
	return p
}

// writeProblem writes a problem document outside huma (panics, 404s of the
// plain mux).
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(&Problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail})
}

// cors answers preflights and sets CORS headers for allowed origins only.
// It reports whether the request was fully answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	w.Header().Add("Vary", "Origin")
	allowed := slices.Contains(s.AllowedOrigins, origin) || slices.Contains(s.AllowedOrigins, "*")
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		if allowed {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// clientIP is the socket peer, unless the peer is a trusted proxy: then the
// right-most X-Forwarded-For address that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Operation metadata keys read by the auth middleware.
const (
	metaAdmin = "admin"
)

// bearer is the security requirement of authenticated operations.
var bearer = []map[string][]string{{"bearer": {}}}

// authenticate is the huma middleware that enforces each operation's
// security: a valid access token for every operation that declares one,
// and the admin role for operations marked admin.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if len(op.Security) == 0 {
		next(ctx)
		return
	}
	token, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
	if !ok || token == "" {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="workspace"`)
		huma.WriteErr(s.api, ctx, http.StatusUnauthorized, "Missing bearer access token.")
		return
	}
	u, sess, err := s.Auth.Authenticate(ctx.Context(), token)
	if err != nil {
		if workspace.ErrorCode(err) == workspace.EUNAUTHORIZED {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="workspace", error="invalid_token"`)
		}
		s.writeErr(ctx, err)
		return
	}
	if admin, _ := op.Metadata[metaAdmin].(bool); admin && u.Role != workspace.RoleAdmin {
		huma.WriteErr(s.api, ctx, http.StatusForbidden, "This operation needs the admin role.")
		return
	}
	actor := workspace.ActorFromContext(ctx.Context())
	actor.UserID, actor.Username, actor.Role, actor.SessionID = u.ID, u.Username, u.Role, sess.ID
	next(huma.WithContext(ctx, workspace.NewContextWithActor(ctx.Context(), actor)))
}

// writeErr writes an application error from a middleware.
func (s *Server) writeErr(ctx huma.Context, err error) {
	p := s.Error(ctx.Context(), err).(*Problem)
	for k, v := range p.headers {
		ctx.SetHeader(k, v[0])
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	s.api.Marshal(ctx.BodyWriter(), "application/json", p)
}
