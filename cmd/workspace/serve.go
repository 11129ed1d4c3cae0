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
	"time"

	"workspace/auth"
	"workspace/httpapi"
	"workspace/realtime"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var noMigrate bool
	fs.BoolVar(&noMigrate, "no-migrate", false, "do not apply migrations; refuse to start unless the schema is current")
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	cfg.NoMigrate = noMigrate
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	return serve(ctx, cfg, logger, stdout)
}

// serve runs the API until ctx is canceled, then drains in-flight requests.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer) error {
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
	hub := &realtime.Hub{Store: db, Auth: authSvc, Notifier: notifier, Logger: logger,
		InstanceID: newInstanceID(), AllowedOrigins: cfg.AllowedOrigins}
	hubStarted, hubDone := make(chan struct{}), make(chan error, 1)
	go func() { hubDone <- hub.Run(hubCtx, hubStarted) }()
	select {
	case <-hubStarted:
	case err := <-hubDone:
		return fmt.Errorf("realtime: %w", err)
	}
	api := &httpapi.Server{
		Store: db, Auth: authSvc, Logger: logger, Realtime: hub,
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
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	logger.Info("listening", slog.String("addr", "http://"+ln.Addr().String()), slog.String("engine", kind))
	fmt.Fprintf(stdout, "workspace listening on http://%s (%s)\n", ln.Addr(), kind)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: closing WebSockets, draining in-flight requests")
	stopHub() // sockets get "going away"; clients reconnect elsewhere
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-hubDone
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
