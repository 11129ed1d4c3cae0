package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"workspace"
	"workspace/internal/migrate"
	"workspace/postgres"
	"workspace/realtime"
	"workspace/sqlite"
)

// engine is a store that can also migrate itself.
type engine interface {
	workspace.Store
	Migrate(ctx context.Context) ([]string, error)
	MigrationStatus(ctx context.Context) (migrate.Status, error)
	CheckSchema(ctx context.Context) error
}

// openStore opens the database the configuration selects: the single place
// that picks an engine.
func openStore(ctx context.Context, cfg Config) (engine, string, error) {
	kind, target := cfg.Engine()
	switch kind {
	case "postgres":
		db, err := postgres.Open(ctx, target, postgres.Options{MaxConns: int32(cfg.DBPoolMax)})
		return db, kind, err
	default:
		db, err := sqlite.Open(target)
		return db, kind, err
	}
}

// jwtSecret returns the configured secret. Without one, SQLite deployments
// get a random secret generated once and kept (0600) beside the database;
// PostgreSQL deployments run several instances, which must share one
// secret, so they refuse to start instead.
func jwtSecret(cfg Config, kind string) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	if kind == "postgres" {
		return nil, errors.New("JWT_SECRET is not set: on PostgreSQL every instance must share one secret; set JWT_SECRET to at least 32 random characters (e.g. `openssl rand -base64 48`)")
	}
	_, dbPath := cfg.Engine()
	path := filepath.Join(filepath.Dir(dbPath), "jwt_secret")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("%s holds less than 32 characters; delete it to generate a new one", path)
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("read JWT secret: %w", err)
	}
	var b [48]byte
	rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) { // another instance just wrote it
			return jwtSecret(cfg, kind)
		}
		return nil, fmt.Errorf("write JWT secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return nil, fmt.Errorf("write JWT secret: %w", err)
	}
	return []byte(secret), f.Sync()
}

// newNotifier returns how this instance hears of other instances' changes:
// LISTEN/NOTIFY on PostgreSQL, in-process on SQLite (one process per file).
func newNotifier(ctx context.Context, db engine) (workspace.Notifier, error) {
	if pg, ok := db.(*postgres.DB); ok {
		return pg.Notifier(ctx)
	}
	return realtime.NewLocalNotifier(), nil
}

// newInstanceID names this process in the presence table.
func newInstanceID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}
