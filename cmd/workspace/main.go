// Command workspace is the Workspace backend: one binary that serves the
// API and runs the operator commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"workspace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "workspace:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: workspace <command> [flags]

Commands:
  serve     run the API (SQLite in ./data by default; DATABASE_URL=postgres://… for PostgreSQL)
  migrate   apply schema migrations: migrate [up|status]
  user      manage accounts: user create|set-password|promote|demote <username>
  convert   copy a SQLite database into PostgreSQL: convert --from FILE --to postgres://… [--dry-run] [--replace]
  backup    write a consistent backup while serving: backup --to FILE
  restore   replace the database with a backup: restore --from FILE (stop serve first)
  activity  audit trail retention: activity prune -older-than 365d
  version   print the version

Run 'workspace <command> -h' for a command's flags.
`

// run is the whole program, testable: it takes the arguments, environment
// and standard streams instead of reaching for globals.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args, getenv, stdin, stdout, stderr)
	case "convert":
		return runConvert(ctx, args, getenv, stdout, stderr)
	case "backup":
		return runBackup(ctx, args, getenv, stdout, stderr)
	case "restore":
		return runRestore(ctx, args, getenv, stdout, stderr)
	case "activity":
		return runActivity(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "workspace %s %s\n", workspace.Version, workspace.Commit)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// loadConfig builds the configuration from defaults, the environment and
// the flags registered on fs (which parse args).
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if err := cfg.LoadEnv(getenv); err != nil {
		return cfg, err
	}
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (env API_PORT)")
	fs.StringVar(&cfg.DatabaseURL, "db", cfg.DatabaseURL, "database: postgres://… or a SQLite file (env DATABASE_URL)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory for the SQLite file and generated secret (env DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}
