// Command baseline runs one of the seed's vote-counting designs against a
// real server and prints one line, RESULT {json}. It exits 1 when the
// counts read back are not exactly the votes accepted, or one vote per user
// did not hold. scripts/bench-baselines starts the servers and runs every
// design.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/votecast/votecast/bench/baseline"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg     baseline.Config
		open    baseline.OpenOptions
		timeout time.Duration
	)
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.StringVar(&cfg.Design, "design", "", "design to run: "+strings.Join(baseline.Designs(), ", "))
	fs.IntVar(&cfg.Voters, "voters", 10000, "distinct users, each voting once")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "clients voting at once (also the connection pool size)")
	fs.IntVar(&cfg.Options, "options", 4, "options of the poll")
	fs.IntVar(&cfg.DupEvery, "dup-every", 100, "every N-th user also sends a second vote, which must be refused (0: none)")
	fs.StringVar(&cfg.Poll, "poll", "bench", "poll id")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the options users pick")
	fs.StringVar(&open.PostgresURL, "pg-url", "postgres://postgres@127.0.0.1:28700/postgres?sslmode=disable", "PostgreSQL URL (pg-* designs; drops and recreates schema votecast_baseline)")
	fs.StringVar(&open.RedisAddr, "redis-addr", "127.0.0.1:28710", "Redis address (redis-* designs; sets appendfsync, deletes the poll's keys)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "limit of the whole run")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	open.Concurrency = cfg.Concurrency

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	d, err := baseline.Open(ctx, cfg.Design, open)
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := baseline.Run(ctx, d, cfg)
	if err != nil {
		return fmt.Errorf("running %s: %w", cfg.Design, err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	fmt.Printf("RESULT %s\n", line)
	if !r.CountsOK {
		return fmt.Errorf("%s failed its check: %s", cfg.Design, strings.Join(r.Problems, "; "))
	}
	return nil
}
