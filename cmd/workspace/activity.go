package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"workspace"
)

func runActivity(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("activity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var olderThan string
	var batch int
	var vacuum bool
	fs.StringVar(&olderThan, "older-than", "", "delete audit rows older than this: days (365d) or a duration (720h)")
	fs.IntVar(&batch, "batch", workspace.DefaultPruneBatch, "rows deleted per transaction")
	fs.BoolVar(&vacuum, "vacuum", false, "SQLite: rewrite the file with VACUUM afterwards (blocks writers meanwhile); default: incremental_vacuum")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: workspace activity prune -older-than 365d [flags]\n\nDeletes old audit rows in batches, then gives the space back.")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "prune" {
		fs.Usage()
		return errors.New("activity: unknown or missing subcommand (want prune)")
	}
	cfg, err := loadConfig(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	if olderThan == "" {
		fs.Usage()
		return errors.New("activity prune: -older-than is required")
	}
	age, err := ParseAge(olderThan)
	if err != nil {
		return fmt.Errorf("-older-than: %w", err)
	}
	if batch < 1 {
		return errors.New("activity prune: -batch must be positive")
	}
	db, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	ctx = systemContext(ctx)
	before := time.Now().Add(-age)
	res, err := db.PruneActivityLogs(ctx, before, batch)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	fmt.Fprintf(stdout, "deleted %d audit rows created before %s in %d batches\n", res.Deleted, before.UTC().Format(time.RFC3339), res.Batches)
	if res.Deleted == 0 && !vacuum {
		return nil
	}
	did, err := db.ReclaimSpace(ctx, vacuum)
	if err != nil {
		return fmt.Errorf("reclaim space: %w", err)
	}
	fmt.Fprintln(stdout, did)
	return nil
}

// runRetention prunes audit rows older than age now and then once a day,
// until ctx ends. Failures are logged and retried the next day.
func runRetention(ctx context.Context, db workspace.ActivityPruner, age time.Duration, logger *slog.Logger) {
	ctx = workspace.NewContextWithActor(ctx, workspace.Actor{UserAgent: "workspace-retention"})
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	for {
		before := time.Now().Add(-age)
		res, err := db.PruneActivityLogs(ctx, before, workspace.DefaultPruneBatch)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Error("activity retention", slog.Any("err", err))
		default:
			logger.Info("activity retention", slog.Int64("deleted", res.Deleted), slog.Int("batches", res.Batches), slog.Time("before", before))
			if res.Deleted > 0 {
				if did, err := db.ReclaimSpace(ctx, false); err != nil && ctx.Err() == nil {
					logger.Error("activity retention: reclaim space", slog.Any("err", err))
				} else if err == nil {
					logger.Info("activity retention: " + did)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
