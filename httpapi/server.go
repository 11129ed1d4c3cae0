// Package httpapi is the JSON API: huma operations on the standard
// library's ServeMux, which generate the OpenAPI 3.1 document served at
// /api/v1/openapi.json, so the document cannot drift from the code.
package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	segjson "github.com/segmentio/encoding/json"

	"workspace"
	"workspace/auth"
	"workspace/metrics"
)

// Server is the HTTP API. Set the fields, then call Handler.
type Server struct {
	Store  workspace.Store
	Auth   *auth.Service
	Logger *slog.Logger
	// RequestLog gets the line logged for every request; nil: Logger.
	// serve gives it a buffered writer (internal/logbuf).
	RequestLog *slog.Logger
	// Metrics are exported on /metrics; Handler creates them (with the
	// store's pool statistics) when nil.
	Metrics *metrics.Metrics

	// AllowRegistration lets anyone create an account. The first account
	// (which becomes admin) can always be registered.
	AllowRegistration bool
	// AllowedOrigins are the browser origins granted CORS ("*": any).
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds every request body (413 beyond).
	MaxBodyBytes int64
	// Realtime, when set, hears of every committed change (for WebSocket
	// push) and serves GET /api/v1/ws.
	Realtime interface {
		workspace.Publisher
		http.Handler
	}

	mux *http.ServeMux
	api huma.API
}

// Handler builds the routes and returns the server's handler.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.RequestLog == nil {
		s.RequestLog = s.Logger
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.Metrics == nil {
		s.Metrics = metrics.New()
		if err := s.Metrics.RegisterStore(s.Store); err != nil {
			s.Logger.Warn("pool metrics unavailable", slog.Any("err", err))
		}
	}
	installErrors()
	s.mux = http.NewServeMux()
	cfg := huma.DefaultConfig("Workspace API", workspace.Version)
	cfg.Info.Description = "Backend of a team workspace: accounts, chat, calendar, goods-receiving lots, shortcuts and an audit trail."
	cfg.OpenAPIPath = "/api/v1/openapi"
	cfg.DocsPath = "/api/v1/docs"
	cfg.SchemasPath = "/api/v1/schemas"
	// No $schema field in every response body and no Link header naming
	// it (huma's default schema-link transformer): clients get the
	// schemas from the OpenAPI document and SchemasPath, and the
	// transformer copied every response body into a new struct by
	// reflection and built the URL from the request's Host (4 % of the
	// server's CPU for a sent message, 2 % for a page of 50).
	cfg.CreateHooks = nil
	// Responses are encoded with segmentio/encoding/json, a drop-in
	// replacement for encoding/json that caches per-type encoders without
	// reflection on the hot path: a page of 50 messages is ~2x cheaper to
	// encode (encoding was ~13% of a page request). Request bodies keep
	// encoding/json, whose errors the API documents.
	// A body is encoded whole into a pooled buffer and written in one
	// call with its length (statusRecorder.WriteBody).
	jsonFormat := huma.Format{
		Marshal: func(w io.Writer, v any) error {
			buf := bodyBuffers.Get().(*bytes.Buffer)
			defer putBodyBuffer(buf)
			enc := segjson.NewEncoder(buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				return err
			}
			if bw, ok := w.(interface{ WriteBody([]byte) (int, error) }); ok {
				_, err := bw.WriteBody(buf.Bytes())
				return err
			}
			_, err := w.Write(buf.Bytes())
			return err
		},
		Unmarshal: huma.DefaultJSONFormat.Unmarshal,
	}
	cfg.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "Access token from /api/v1/auth/login or /refresh."},
	}
	s.api = humago.New(s.mux, cfg)
	s.api.UseMiddleware(s.authenticate)
	s.routes()
	return s.base(s.mux)
}

// publish announces a committed change to WebSocket clients, if any (the
// publisher outlives the request: see workspace.Publisher).
func (s *Server) publish(ctx context.Context, c workspace.Change) {
	if s.Realtime != nil {
		s.Realtime.Publish(ctx, c)
	}
}

// API returns the huma API (for tests that read the OpenAPI document).
func (s *Server) API() huma.API { return s.api }

// bodyBuffers recycles the buffers JSON responses are encoded into, and
// those a connection holds a response in (holdConn).
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBodyBuffer returns buf to the pool, unless one large response grew it
// past 1 MiB: that memory goes back to the heap instead of staying pinned.
func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		buf.Reset()
		bodyBuffers.Put(buf)
	}
}
