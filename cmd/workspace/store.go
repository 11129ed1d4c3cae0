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
// that picks an engine. The store encrypts sensitive audit metadata with
// the configured keys (see auditCipher).
func openStore(ctx context.Context, cfg Config) (engine, string, error) {
	kind, target := cfg.Engine()
	switch kind {
	case "postgres":
		db, err := postgres.Open(ctx, target, postgres.Options{MaxConns: int32(cfg.DBPoolMax)})
		if err != nil {
			return nil, kind, err
		}
		if db.Cipher, err = auditCipher(cfg, kind); err != nil {
			db.Close()
			return nil, kind, err
		}
		return db, kind, nil
	default:
		db, err := sqlite.Open(target) // creates the directory the key goes in
		if err != nil {
			return nil, kind, err
		}
		if db.Cipher, err = auditCipher(cfg, kind); err != nil {
			db.Close()
			return nil, kind, err
		}
		return db, kind, nil
	}
}

// auditCipher returns the cipher of sensitive audit metadata: from
// AUDIT_ENCRYPTION_KEYS when set. Without it, SQLite deployments get a key
// generated once and kept (0600) beside the database as "local:<key>" in
// audit_key, like the JWT secret; PostgreSQL deployments (several
// instances, which must share the key) store metadata unencrypted, and
// serve warns about it.
func auditCipher(cfg Config, kind string) (*workspace.AuditCipher, error) {
	keys := cfg.AuditKeys
	if len(keys) == 0 {
		if kind == "postgres" {
			return nil, nil
		}
		_, dbPath := cfg.Engine()
		line, err := generatedSecret(filepath.Join(filepath.Dir(dbPath), "audit_key"), func() string {
			var b [32]byte
			rand.Read(b[:])
			return "local:" + base64.StdEncoding.EncodeToString(b[:])
		}, func(s string) bool { _, err := workspace.ParseAuditKeys(s); return err == nil })
		if err != nil {
			return nil, fmt.Errorf("audit key: %w", err)
		}
		if keys, err = workspace.ParseAuditKeys(line); err != nil {
			return nil, err
		}
	}
	return workspace.NewAuditCipher(keys, cfg.AuditSensitiveKeys)
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
	secret, err := generatedSecret(filepath.Join(filepath.Dir(dbPath), "jwt_secret"), func() string {
		var b [48]byte
		rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:])
	}, func(s string) bool { return len(s) >= 32 })
	return []byte(secret), err
}

// generatedSecret returns the secret kept in the file at path, first
// writing one made by gen (0600). The file appears whole or not at all (a
// complete temporary file is hard-linked into place), so an instance
// starting at the same moment, or a crash, never sees a partial one; two
// instances racing agree on the first. valid checks a secret read back.
func generatedSecret(path string, gen func() string, valid func(string) bool) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); valid(s) {
			return s, nil
		}
		return "", fmt.Errorf("%s does not hold a valid secret; delete it to generate a new one", path)
	} else if !os.IsNotExist(err) {
		return "", fmt.Errorf("read secret: %w", err)
	}
	secret := gen()
	var b [6]byte
	rand.Read(b[:])
	tmp := fmt.Sprintf("%s.tmp-%x", path, b)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write secret: %w", err)
	}
	defer os.Remove(tmp)
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write secret: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if os.IsExist(err) { // another instance was first: use its secret
			return generatedSecret(path, gen, valid)
		}
		return "", fmt.Errorf("write secret: %w", err)
	}
	return secret, nil
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
