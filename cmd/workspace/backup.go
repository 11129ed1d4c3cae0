package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"workspace/postgres"
	"workspace/sqlite"
)

func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var to string
	fs.StringVar(&to, "to", "", "file to write the backup to (replaced atomically if it exists)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: workspace backup --to FILE [flags]

Writes a consistent backup of the configured database while 'serve' runs:
SQLite with VACUUM INTO, PostgreSQL with pg_dump -Fc (the PostgreSQL client
tools must be on the PATH). Restore it with 'workspace restore --from FILE'.`)
		fs.PrintDefaults()
	}
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("backup: give --to FILE")
	}
	kind, target := cfg.Engine()
	var version int64
	switch kind {
	case "postgres":
		if err := postgres.Backup(ctx, target, to); err != nil {
			return err
		}
		if version, err = postgres.BackupVersion(ctx, to); err != nil {
			return fmt.Errorf("backup written, but unreadable: %w", err)
		}
		target = redactDSN(target)
	default:
		if err := sqlite.Backup(ctx, target, to); err != nil {
			return err
		}
		if version, err = sqlite.CheckBackup(ctx, to); err != nil {
			return fmt.Errorf("backup written, but it fails its check: %w", err)
		}
		// The generated audit key is a file beside the database, not a row:
		// it goes beside the backup, or encrypted audit values of a restore
		// on another host could never be read again.
		key := filepath.Join(filepath.Dir(target), "audit_key")
		if copied, err := copySecret(key, to+".audit_key"); err != nil {
			return fmt.Errorf("backup written, but its audit key was not: %w", err)
		} else if copied {
			fmt.Fprintf(stdout, "audit key copied to %s (keep it with the backup, as secret as the data)\n", to+".audit_key")
		}
	}
	size := int64(0)
	if st, err := os.Stat(to); err == nil {
		size = st.Size()
	}
	fmt.Fprintf(stdout, "backed up %s database %s (schema version %d) to %s (%d bytes)\n", kind, target, version, to, size)
	return nil
}

func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var from string
	fs.StringVar(&from, "from", "", "backup file written by 'workspace backup'")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: workspace restore --from FILE [flags]

Replaces the configured database with a backup. Stop 'serve' first (on
SQLite a database in use is refused). SQLite: the backup must pass
PRAGMA integrity_check and its schema must not be newer than this binary's;
the file is replaced atomically. PostgreSQL: pg_restore --clean --if-exists
in one transaction (the PostgreSQL client tools must be on the PATH).`)
		fs.PrintDefaults()
	}
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if from == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("restore: give --from FILE")
	}
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	kind, target := cfg.Engine()
	var version int64
	switch kind {
	case "postgres":
		if sqlite.IsDatabaseFile(from) {
			return fmt.Errorf("restore: %s is a SQLite database, but the configured database is PostgreSQL (to move SQLite data to PostgreSQL use `workspace convert`)", from)
		}
		if version, err = postgres.Restore(ctx, target, from); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		target = redactDSN(target)
	default:
		if postgres.IsDumpFile(from) {
			return fmt.Errorf("restore: %s is a PostgreSQL backup, but the configured database is SQLite (set DATABASE_URL)", from)
		}
		if version, err = sqlite.Restore(ctx, from, target); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := restoreAuditKey(stdout, from+".audit_key", filepath.Join(filepath.Dir(target), "audit_key")); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	latest, _ := sqlite.LatestVersion()
	fmt.Fprintf(stdout, "restored %s (schema version %d) into %s database %s\n", from, version, kind, target)
	if version < latest {
		fmt.Fprintf(stdout, "its schema is older than this binary's (%d): `serve` or `migrate` will migrate it\n", latest)
	}
	return nil
}

// copySecret copies the secret file src to dst (0600, atomically), and
// reports whether there was one to copy.
func copySecret(src, dst string) (bool, error) {
	b, err := os.ReadFile(src)
	if os.IsNotExist(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return false, err
	}
	return true, nil
}

// restoreAuditKey puts the audit key saved beside a backup where the
// restored database will find it: the key goes with the data it encrypts.
// A different key already there encrypted only the data the restore just
// replaced; it is kept aside as audit_key.before-restore, not deleted.
func restoreAuditKey(w io.Writer, saved, dst string) error {
	key, err := os.ReadFile(saved)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	current, err := os.ReadFile(dst)
	switch {
	case err == nil && bytes.Equal(bytes.TrimSpace(current), bytes.TrimSpace(key)):
		return nil
	case err == nil:
		aside := dst + ".before-restore"
		if err := os.Rename(dst, aside); err != nil {
			return err
		}
		fmt.Fprintf(w, "the previous audit key was moved to %s\n", aside)
	case !os.IsNotExist(err):
		return err
	}
	if _, err := copySecret(saved, dst); err != nil {
		return err
	}
	fmt.Fprintf(w, "audit key restored to %s\n", dst)
	return nil
}
