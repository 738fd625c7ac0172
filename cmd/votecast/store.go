package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/store/embedded"
	"github.com/votecast/votecast/store/scylla"
	"github.com/votecast/votecast/tally"
)

// storeConfig says which tally store to use: the embedded one under the
// data directory, or ScyllaDB when hosts are given.
type storeConfig struct {
	scylla      string // comma-separated host:port; empty: embedded
	keyspace    string
	replication string
	migrate     bool
}

func (c *storeConfig) flags(fs *flag.FlagSet, withMigrate bool) {
	fs.StringVar(&c.scylla, "scylla", "", "ScyllaDB contact points host:port,... (env VOTECAST_SCYLLA); empty: the embedded store")
	fs.StringVar(&c.keyspace, "keyspace", "votecast", "ScyllaDB keyspace")
	fs.StringVar(&c.replication, "replication", "SimpleStrategy 1", `keyspace replication when the schema is applied: "SimpleStrategy 1" or "NetworkTopologyStrategy dc1:3 dc2:3"`)
	if withMigrate {
		fs.BoolVar(&c.migrate, "migrate", false, "apply the CQL schema at start-up (with --scylla)")
	}
}

func (c storeConfig) scyllaOptions(log *slog.Logger) scylla.Options {
	return scylla.Options{Hosts: splitList(c.scylla), Keyspace: c.keyspace, Logger: log}
}

// open opens the configured store, applying the schema first when asked.
func (c storeConfig) open(ctx context.Context, dataDir string, log *slog.Logger) (tally.Store, error) {
	if c.scylla == "" {
		return embedded.Open(embedded.Options{Dir: filepath.Join(dataDir, "store")})
	}
	if c.migrate {
		if err := c.runMigrate(ctx, log, io.Discard); err != nil {
			return nil, err
		}
	}
	st, err := scylla.Open(ctx, c.scyllaOptions(log))
	if err != nil {
		return nil, fmt.Errorf("%w (apply the schema with `votecast migrate --scylla %s` or serve --migrate)", err, c.scylla)
	}
	return st, nil
}

func (c storeConfig) runMigrate(ctx context.Context, log *slog.Logger, out io.Writer) error {
	applied, err := scylla.Migrate(ctx, scylla.MigrateOptions{Options: c.scyllaOptions(log), Replication: c.replication})
	if err != nil {
		return fmt.Errorf("migrate keyspace %s: %w", c.keyspace, err)
	}
	if len(applied) == 0 {
		fmt.Fprintf(out, "keyspace %s is up to date\n", c.keyspace)
	}
	for _, v := range applied {
		fmt.Fprintf(out, "applied %s to keyspace %s\n", v, c.keyspace)
	}
	return nil
}

func migrateCommand() *ffcli.Command {
	var c storeConfig
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	c.flags(fs, false)
	return &ffcli.Command{
		Name: "migrate", ShortUsage: "votecast migrate --scylla HOSTS [--keyspace NAME] [--replication SPEC]",
		ShortHelp: "create the keyspace and apply the CQL schema (idempotent)",
		FlagSet:   fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if c.scylla == "" {
				return fmt.Errorf("migrate needs --scylla HOSTS (the embedded store needs no schema)")
			}
			log, _ := newLogger("warn")
			return c.runMigrate(ctx, log, os.Stdout)
		},
	}
}
