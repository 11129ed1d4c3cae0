package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Usage: workspace migrate [flags] [up|status]"); fs.PrintDefaults() }
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	sub := "up"
	if fs.NArg() > 0 {
		sub = fs.Arg(0)
	}
	if sub != "up" && sub != "status" {
		fs.Usage()
		return fmt.Errorf("unknown migrate command %q", sub)
	}
	db, kind, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "up" {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, name := range applied {
			fmt.Fprintf(stdout, "applied %s\n", name)
		}
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s schema at version %d of %d; %d pending\n", kind, st.Current, st.Latest, len(st.Pending))
	for _, p := range st.Pending {
		fmt.Fprintf(stdout, "pending %s\n", p)
	}
	return nil
}
