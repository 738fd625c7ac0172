// Command votecast is the whole service in one binary: serve runs any of
// the roles (by default all, in one process with embedded NATS and
// storage); nats runs one node of a JetStream cluster; recount replays a
// poll's votes from the log; load plays a "vote now" spike against a
// server; migrate applies the CQL schema. This package parses flags and
// wires, it does not decide: the logic lives in the role packages, and
// package node assembles them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// version is stamped in at build time (the Dockerfile passes
// -ldflags "-X main.version=..."); a plain go build says dev.
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	var exit exitCode
	switch {
	case errors.As(err, &exit):
		os.Exit(int(exit))
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "votecast:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string) error {
	root := &ffcli.Command{
		Name:        "votecast",
		ShortUsage:  "votecast <serve|nats|recount|export|verify|load|preflight|migrate|version> [flags]",
		ShortHelp:   "live voting for broadcasts",
		FlagSet:     flag.NewFlagSet("votecast", flag.ContinueOnError),
		Subcommands: subcommands(),
		Exec:        func(context.Context, []string) error { return flag.ErrHelp },
	}
	return root.ParseAndRun(ctx, args)
}

// subcommands are votecast's commands, in the order help lists them;
// compose_test.go checks docker-compose.yml against the same ones.
func subcommands() []*ffcli.Command {
	return []*ffcli.Command{
		serveCommand(), recountCommand(), exportCommand(), verifyCommand(), migrateCommand(), loadCommand(), preflightCommand(), natsCommand(), versionCommand(),
	}
}

func versionCommand() *ffcli.Command {
	return &ffcli.Command{
		Name: "version", ShortUsage: "votecast version", ShortHelp: "print the version this binary was built as",
		FlagSet: flag.NewFlagSet("version", flag.ContinueOnError),
		Exec: func(context.Context, []string) error {
			fmt.Println("votecast", version)
			return nil
		},
	}
}

// envOptions gives every flag an environment fallback: --http reads
// VOTECAST_HTTP, --admin-token VOTECAST_ADMIN_TOKEN, and so on.
func envOptions() []ff.Option { return []ff.Option{ff.WithEnvVarPrefix("VOTECAST")} }

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
