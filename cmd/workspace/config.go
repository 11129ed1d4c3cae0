package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"workspace"
	"workspace/auth"
)

// Config is the whole configuration: defaults that work on a laptop, then
// the environment, then flags.
type Config struct {
	Addr              string // listen address (API_PORT sets its port)
	DataDir           string // SQLite file, generated secret (DATA_DIR)
	DatabaseURL       string // postgres://…, sqlite:///path or a file path
	DBPoolMax         int
	JWTSecret         string
	AllowedOrigins    []string
	TrustedProxies    []netip.Prefix
	LogLevel          slog.Level
	BcryptCost        int
	AllowRegistration bool
	MaxBodyBytes      int64
	ShutdownTimeout   time.Duration
	NoMigrate         bool
	// MetricsAddr is a second listen address serving only /metrics, to
	// anyone (METRICS_ADDR): bind it to a private network.
	MetricsAddr string
	// AuditKeys encrypt sensitive audit metadata (AUDIT_ENCRYPTION_KEYS,
	// "id:base64key,…", the first is current). Never logged.
	AuditKeys []workspace.AuditKey
	// AuditSensitiveKeys are the metadata keys encrypted
	// (AUDIT_SENSITIVE_KEYS; workspace.DefaultSensitiveKeys when empty).
	AuditSensitiveKeys []string
	// ActivityRetention, when set, makes serve delete audit rows older
	// than it once a day (ACTIVITY_RETENTION, e.g. 365d or 8760h).
	ActivityRetention time.Duration
}

// DefaultConfig returns the zero-configuration defaults.
func DefaultConfig() Config {
	return Config{
		Addr:              ":4000",
		DataDir:           "./data",
		BcryptCost:        auth.DefaultBcryptCost,
		AllowRegistration: true,
		MaxBodyBytes:      1 << 20,
		ShutdownTimeout:   20 * time.Second,
		LogLevel:          slog.LevelInfo,
	}
}

// LoadEnv applies the environment variables existing deployments use.
func (c *Config) LoadEnv(getenv func(string) string) error {
	var errs []error
	if v := getenv("API_PORT"); v != "" {
		if p, err := strconv.Atoi(v); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("API_PORT=%q is not a port", v))
		} else {
			c.Addr = net.JoinHostPort(getenv("API_HOST"), v)
		}
	}
	if v := getenv("DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := getenv("DATABASE_URL"); v != "" {
		c.DatabaseURL = v
	} else if host := getenv("DB_HOST"); host != "" {
		c.DatabaseURL = postgresURL(host, getenv("DB_PORT"), getenv("DB_NAME"), getenv("DB_USER"), getenv("DB_PASSWORD"), getenv("DB_SSLMODE"), getenv("DB_SSLROOTCERT"))
	}
	if v := getenv("DB_POOL_MAX"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("DB_POOL_MAX=%q must be a positive integer", v))
		}
		c.DBPoolMax = n
	}
	c.JWTSecret = getenv("JWT_SECRET")
	if v := getenv("ALLOWED_ORIGINS"); v != "" {
		c.AllowedOrigins = splitList(v)
	}
	if v := getenv("TRUSTED_PROXIES"); v != "" {
		p, err := parsePrefixes(v)
		errs = append(errs, err)
		c.TrustedProxies = p
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: use debug, info, warn or error", v))
		}
	}
	if v := getenv("BCRYPT_COST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("BCRYPT_COST=%q is not a number", v))
		}
		c.BcryptCost = n
	}
	if v := getenv("METRICS_ADDR"); v != "" {
		c.MetricsAddr = v
	}
	if v := getenv("AUDIT_ENCRYPTION_KEYS"); v != "" {
		keys, err := workspace.ParseAuditKeys(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUDIT_ENCRYPTION_KEYS: %w", err))
		}
		c.AuditKeys = keys
	}
	if v := getenv("AUDIT_SENSITIVE_KEYS"); v != "" {
		c.AuditSensitiveKeys = splitList(v)
	}
	if v := getenv("ACTIVITY_RETENTION"); v != "" {
		d, err := ParseAge(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("ACTIVITY_RETENTION: %w", err))
		}
		c.ActivityRetention = d
	}
	if v := getenv("ALLOW_REGISTRATION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("ALLOW_REGISTRATION=%q: use true or false", v))
		}
		c.AllowRegistration = b
	}
	return errors.Join(errs...)
}

// Validate checks the values that flags and environment cannot check alone.
func (c *Config) Validate() error {
	if c.BcryptCost < auth.MinBcryptCost || c.BcryptCost > 16 {
		return fmt.Errorf("BCRYPT_COST=%d: must be between %d and 16", c.BcryptCost, auth.MinBcryptCost)
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return errors.New("JWT_SECRET must be at least 32 characters")
	}
	return nil
}

// Engine reports which engine the configuration selects and its DSN or path.
func (c *Config) Engine() (engine, target string) {
	u := c.DatabaseURL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return "postgres", u
	case strings.HasPrefix(u, "sqlite://"):
		return "sqlite", strings.TrimPrefix(u, "sqlite://")
	case u != "":
		return "sqlite", u
	}
	return "sqlite", filepath.Join(c.DataDir, "workspace.db")
}

// ParseAge parses an age: a number of days ("365d") or a Go duration
// ("720h", "90m"). It must be positive.
func ParseAge(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("%q: want a number of days (365d) or a duration (720h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a number of days (365d) or a duration (720h)", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}

// postgresURL builds a DSN from DB_* parts. sslrootcert names the CA file
// that verify-ca/verify-full check the server's certificate against.
func postgresURL(host, port, name, user, password, sslmode, sslrootcert string) string {
	if port == "" {
		port = "5432"
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, port), Path: "/" + name}
	if user != "" {
		u.User = url.UserPassword(user, password)
		if password == "" {
			u.User = url.User(user)
		}
	}
	q := url.Values{}
	if sslmode != "" {
		q.Set("sslmode", sslmode)
	}
	if sslrootcert != "" {
		q.Set("sslrootcert", sslrootcert)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(s) {
		if !strings.Contains(p, "/") {
			a, err := netip.ParseAddr(p)
			if err != nil {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or CIDR", p)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not an address or CIDR", p)
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}
