package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        []string
		wantErr    string
		wantAddr   string
		wantEngine string
		wantTarget string
	}{
		{name: "Defaults", wantAddr: ":4000", wantEngine: "sqlite", wantTarget: "data/workspace.db"},
		{name: "Port", env: []string{"API_PORT", "8080"}, wantAddr: ":8080", wantEngine: "sqlite", wantTarget: "data/workspace.db"},
		{name: "BadPort", env: []string{"API_PORT", "http"}, wantErr: "API_PORT"},
		{name: "DatabaseURL", env: []string{"DATABASE_URL", "postgres://u:p@db/ws"}, wantAddr: ":4000", wantEngine: "postgres", wantTarget: "postgres://u:p@db/ws"},
		{name: "SQLiteURL", env: []string{"DATABASE_URL", "sqlite:///var/lib/ws/x.db"}, wantAddr: ":4000", wantEngine: "sqlite", wantTarget: "/var/lib/ws/x.db"},
		{name: "DBParts", env: []string{"DB_HOST", "db.lan", "DB_NAME", "ws", "DB_USER", "app", "DB_PASSWORD", "p@ss/word", "DB_SSLMODE", "verify-full"},
			wantAddr: ":4000", wantEngine: "postgres", wantTarget: "postgres://app:p%40ss%2Fword@db.lan:5432/ws?sslmode=verify-full"},
		{name: "VerifyFull", env: []string{"DB_HOST", "db.lan", "DB_NAME", "ws", "DB_USER", "app", "DB_SSLMODE", "verify-full", "DB_SSLROOTCERT", "/etc/workspace/db-ca.pem"},
			wantAddr: ":4000", wantEngine: "postgres", wantTarget: "postgres://app@db.lan:5432/ws?sslmode=verify-full&sslrootcert=%2Fetc%2Fworkspace%2Fdb-ca.pem"},
		{name: "LowCost", env: []string{"BCRYPT_COST", "9"}, wantErr: "BCRYPT_COST"},
		{name: "ShortSecret", env: []string{"JWT_SECRET", "short"}, wantErr: "JWT_SECRET"},
		{name: "BadProxy", env: []string{"TRUSTED_PROXIES", "10.0.0.0/33"}, wantErr: "TRUSTED_PROXIES"},
		{name: "BadLevel", env: []string{"LOG_LEVEL", "loud"}, wantErr: "LOG_LEVEL"},
		{name: "BadRegistration", env: []string{"ALLOW_REGISTRATION", "perhaps"}, wantErr: "ALLOW_REGISTRATION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := cfg.LoadEnv(env(tc.env...))
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			engine, target := cfg.Engine()
			if cfg.Addr != tc.wantAddr || engine != tc.wantEngine || target != tc.wantTarget {
				t.Fatalf("addr %q engine %q target %q", cfg.Addr, engine, target)
			}
		})
	}
}

// Ensure instances generating a secret at the same moment agree on one, and
// the file is complete and 0600.
func TestGeneratedSecretConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt_secret")
	n := 0
	var mu sync.Mutex
	gen := func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("secret-number-%02d-%s", n, strings.Repeat("x", 32))
	}
	results := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = generatedSecret(path, gen, func(s string) bool { return len(s) >= 32 })
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != results[0] {
			t.Fatalf("instance %d: %q, %v; instance 0: %q", i, results[i], errs[i], results[0])
		}
	}
	b, err := os.ReadFile(path)
	st, _ := os.Stat(path)
	if err != nil || strings.TrimSpace(string(b)) != results[0] || st.Mode().Perm() != 0o600 {
		t.Fatalf("file: %q %v", b, err)
	}
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
