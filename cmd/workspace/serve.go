package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"workspace"
	"workspace/auth"
	"workspace/httpapi"
	"workspace/internal/logbuf"
	"workspace/metrics"
	"workspace/postgres"
	"workspace/realtime"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var noMigrate bool
	var metricsAddr string
	fs.BoolVar(&noMigrate, "no-migrate", false, "do not apply migrations; refuse to start unless the schema is current")
	fs.StringVar(&metricsAddr, "metrics-addr", "", "also serve /metrics to anyone on this private address (env METRICS_ADDR)")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	cfg.NoMigrate = noMigrate
	if metricsAddr != "" {
		cfg.MetricsAddr = metricsAddr
	}
	// Request lines are buffered for at most requestLogFlush and written
	// in batches; every other line goes out at once, after them.
	logs := logbuf.New(stdout, requestLogFlush)
	defer logs.Close()
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	logger := slog.New(slog.NewJSONHandler(logs.Direct(), opts))
	requestLog := slog.New(slog.NewJSONHandler(logs, opts))
	gcPercent, memLimit := tuneGC(getenv)
	logger.Info("garbage collector", slog.Int("gogc", gcPercent), slog.Int64("memory_limit_bytes", memLimit))
	return serve(ctx, cfg, logger, requestLog, stdout)
}

// requestLogFlush is the longest a request's log line waits to be written.
const requestLogFlush = 200 * time.Millisecond

// The garbage collector's defaults for serve, applied only where GOGC and
// GOMEMLIMIT are unset (the Go runtime reads those itself). The live heap
// of the server is small (~15 MB), so with Go's default GOGC=100 it was
// collected several times a second under load: the load benchmark's
// calendar scenario ran 686 req/s with GOGC=100 and 909 with 400, and the
// p99 of the read scenarios at half their peak rate fell below 10 ms.
// The soft memory limit keeps the heap, and so the RSS, bounded: past it
// the collector runs as often as it must, whatever GOGC says.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 100 << 20
)

// tuneGC applies the defaults above where the environment sets nothing and
// returns the GOGC and memory limit in effect.
func tuneGC(getenv func(string) string) (gcPercent int, memLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	gcPercent = debug.SetGCPercent(-1) // read it back …
	debug.SetGCPercent(gcPercent)      // … and restore
	return gcPercent, debug.SetMemoryLimit(-1)
}

// settingsAdvisor is a store that can say what to change in its database
// server's settings (postgres.DB.SettingsAdvice).
type settingsAdvisor interface {
	SettingsAdvice(context.Context) ([]string, error)
}

var _ settingsAdvisor = (*postgres.DB)(nil)

// serve runs the API until ctx is canceled, then drains in-flight requests.
func serve(ctx context.Context, cfg Config, logger, requestLog *slog.Logger, stdout io.Writer) error {
	db, kind, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.NoMigrate {
		if err := db.CheckSchema(ctx); err != nil {
			return err
		}
	} else {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, name := range applied {
			logger.Info("migration applied", slog.String("file", name))
		}
	}
	// Advice on the database server's settings is only advice: a failure
	// to read them is logged, not a reason to stay down.
	if a, ok := db.(settingsAdvisor); ok {
		advice, err := a.SettingsAdvice(ctx)
		if err != nil {
			logger.Warn("cannot read the database server's settings", slog.Any("err", err))
		}
		for _, line := range advice {
			logger.Warn(line)
		}
	}
	if len(cfg.AuditKeys) == 0 && kind == "postgres" {
		logger.Warn("AUDIT_ENCRYPTION_KEYS is not set: sensitive audit metadata (" + strings.Join(sensitiveKeys(cfg), ", ") + ") is stored unencrypted")
	}
	secret, err := jwtSecret(cfg, kind)
	if err != nil {
		return err
	}
	ac := auth.DefaultConfig(secret)
	ac.BcryptCost = cfg.BcryptCost
	authSvc, err := auth.New(db, ac)
	if err != nil {
		return err
	}
	notifier, err := newNotifier(ctx, db)
	if err != nil {
		return err
	}
	hubCtx, stopHub := context.WithCancel(ctx)
	defer stopHub()
	m := metrics.New()
	if err := m.RegisterStore(db); err != nil {
		logger.Warn("pool metrics unavailable", slog.Any("err", err))
	}
	hub := &realtime.Hub{Store: db, Auth: authSvc, Notifier: notifier, Logger: logger,
		InstanceID: newInstanceID(), AllowedOrigins: cfg.AllowedOrigins,
		OnConnections: func(n int) { m.WebSocketConnections.Set(float64(n)) }}
	hubStarted, hubDone := make(chan struct{}), make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx, hubStarted) }()
	select {
	case <-hubStarted:
	case err := <-hubDone:
		return fmt.Errorf("realtime: %w", err)
	}
	api := &httpapi.Server{
		Store: db, Auth: authSvc, Logger: logger, RequestLog: requestLog, Realtime: hub, Metrics: m,
		AllowRegistration: cfg.AllowRegistration, AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies, MaxBodyBytes: cfg.MaxBodyBytes,
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ConnContext:       httpapi.ConnContext,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	ln = httpapi.NewListener(ln)
	servers := []*http.Server{srv}
	listeners := []net.Listener{ln}
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
		logger.Info("metrics listening", slog.String("addr", "http://"+mln.Addr().String()+"/metrics"))
		fmt.Fprintf(stdout, "workspace metrics on http://%s/metrics\n", mln.Addr())
		servers, listeners = append(servers, msrv), append(listeners, mln)
	}
	logger.Info("listening", slog.String("addr", "http://"+ln.Addr().String()), slog.String("engine", kind))
	fmt.Fprintf(stdout, "workspace listening on http://%s (%s)\n", ln.Addr(), kind)

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}

	// Retention runs beside the servers and stops with them.
	rctx, stopRetention := context.WithCancel(ctx)
	retentionDone := make(chan struct{})
	go func() {
		defer close(retentionDone)
		if cfg.ActivityRetention > 0 {
			runRetention(rctx, db, cfg.ActivityRetention, logger)
		}
	}()
	defer func() { stopRetention(); <-retentionDone }()

	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: closing WebSockets, draining in-flight requests")
	stopHub() // sockets get "going away"; clients reconnect elsewhere
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	<-hubDone
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

func sensitiveKeys(cfg Config) []string {
	if len(cfg.AuditSensitiveKeys) > 0 {
		return cfg.AuditSensitiveKeys
	}
	return workspace.DefaultSensitiveKeys
}
