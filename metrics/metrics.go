// Package metrics holds the server's Prometheus metrics on a registry of
// their own (never the global one), so several servers in one process (the
// tests) do not mix their numbers, and nothing registered by a library
// leaks into /metrics unasked.
//
// Other packages increment the metrics through the exported fields, e.g.
// the WebSocket handler:
//
//	s.Metrics.WebSocketConnections.Inc()
//	defer s.Metrics.WebSocketConnections.Dec()
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the application's metrics and the registry that exports them.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts answered HTTP requests by route pattern (the mux
	// pattern, e.g. "GET /api/v1/messages/{id}", never the raw path, so
	// the label set stays bounded) and status.
	Requests *prometheus.CounterVec
	// Duration is the latency of HTTP requests by route and status.
	Duration *prometheus.HistogramVec
	// InFlight is the number of requests being served.
	InFlight prometheus.Gauge
	// LoginFailures counts sign-ins refused for a wrong password or an
	// unknown account.
	LoginFailures prometheus.Counter
	// LoginThrottled counts sign-ins refused with 429 (too many failures,
	// or password hashing saturated).
	LoginThrottled prometheus.Counter
	// WebSocketConnections is the number of open WebSocket connections;
	// the WebSocket handler increments it on accept and decrements it on
	// close.
	WebSocketConnections prometheus.Gauge
}

// New returns the metrics, registered with the Go runtime and process
// collectors on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workspace_http_requests_total", Help: "HTTP requests answered, by route pattern and status.",
		}, []string{"route", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "workspace_http_request_duration_seconds", Help: "HTTP request latency, by route pattern and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "status"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workspace_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
		LoginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workspace_login_failures_total", Help: "Sign-ins refused for bad credentials.",
		}),
		LoginThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "workspace_login_throttled_total", Help: "Sign-ins refused with 429 (throttled).",
		}),
		WebSocketConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workspace_websocket_connections", Help: "Open WebSocket connections.",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.Duration, m.InFlight, m.LoginFailures, m.LoginThrottled, m.WebSocketConnections,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Observe records one answered request.
func (m *Metrics) Observe(route string, status int, d time.Duration) {
	s := strconv.Itoa(status)
	m.Requests.WithLabelValues(route, s).Inc()
	m.Duration.WithLabelValues(route, s).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format. It does no
// access control of its own.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// RegisterStore registers the connection pool statistics of a store:
// database/sql pools (SQLite: go_sql_* with db_name "sqlite_write" and
// "sqlite_read") or a pgx pool (PostgreSQL: workspace_pgxpool_*). A store
// with neither adds nothing.
func (m *Metrics) RegisterStore(store any) error {
	switch s := store.(type) {
	case interface{ SQLPools() map[string]*sql.DB }:
		for name, db := range s.SQLPools() {
			if err := m.Registry.Register(collectors.NewDBStatsCollector(db, "sqlite_"+name)); err != nil {
				return err
			}
		}
	case interface{ Pool() *pgxpool.Pool }:
		return m.Registry.Register(newPgxPoolCollector(s.Pool()))
	}
	return nil
}
