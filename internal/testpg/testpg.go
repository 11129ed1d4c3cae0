// Package testpg gives each test its own PostgreSQL schema on the server
// named by WORKSPACE_TEST_POSTGRES (default: the local trust-auth server).
// When the server cannot be reached the test is skipped with a loud
// message, except under CI=true, where it fails.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is used when WORKSPACE_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerDSN returns the DSN of the test server.
func ServerDSN() string {
	if dsn := os.Getenv("WORKSPACE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Unavailable skips (or, under CI, fails) the test because PostgreSQL is
// unreachable.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	msg := "PostgreSQL at " + redact(ServerDSN()) + " is unreachable: " + err.Error() +
		"\n\t*** PostgreSQL tests NOT RUN: start PostgreSQL or set WORKSPACE_TEST_POSTGRES ***"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// Admin connects to the test server's database.
func Admin(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerDSN())
	if err != nil {
		Unavailable(tb, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Schema creates a fresh, empty schema, drops it when the test ends, and
// returns a DSN whose search_path is that schema.
func Schema(tb testing.TB) string {
	tb.Helper()
	conn := Admin(tb)
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + strings.ToLower(hex.EncodeToString(b[:]))
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), ServerDSN())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	})
	return WithParam(ServerDSN(), "search_path", name)
}

// Database creates a fresh database, drops it when the test ends, and
// returns its DSN and name.
func Database(tb testing.TB) (dsn, name string) {
	tb.Helper()
	conn := Admin(tb)
	var b [6]byte
	rand.Read(b[:])
	name = "ws_test_" + strings.ToLower(hex.EncodeToString(b[:]))
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), ServerDSN())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(ServerDSN())
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String(), name
}

// WithParam returns dsn with a query parameter set.
func WithParam(dsn, key, value string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// ParamOf returns a query parameter of dsn.
func ParamOf(dsn, key string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	return u.Query().Get(key)
}
