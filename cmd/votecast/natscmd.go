package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/natsnode"
)

// natsNodeConfig is every setting of `votecast nats`, one node of a
// JetStream cluster.
type natsNodeConfig struct {
	name        string
	listen      string
	cluster     string
	clusterName string
	routes      string
	dir         string
	sync        string
	logLevel    string
	// creds holds --nats-user and --nats-password, parsed as every client
	// subcommand parses them; the node's clients and routes present the
	// same pair.
	creds natsConfig
}

// natsNodeCredentialFlags are the client flags `votecast nats` takes from
// natsConfig.flags: the user and password it runs with, and the other
// credentials only so that it can say why it refuses them.
var natsNodeCredentialFlags = []string{"nats-user", "nats-password", "nats-token", "nats-nkey", "nats-creds"}

func natsCommand() *ffcli.Command {
	var c natsNodeConfig
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	fs.StringVar(&c.name, "name", "", "this node's name, unique in the cluster (required)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:4222", "client address (port -1: a free one)")
	fs.StringVar(&c.cluster, "cluster", "127.0.0.1:6222", "route address the other nodes connect to")
	fs.StringVar(&c.clusterName, "cluster-name", "votecast", "the name every node of the cluster shares")
	fs.StringVar(&c.routes, "routes", "", "comma-separated route addresses of the cluster's nodes (host:port or nats://host:port, "+
		"this node's own may be among them), without credentials: the node adds --nats-user and --nats-password")
	fs.StringVar(&c.dir, "data", "", "JetStream's directory, one per node, on its own disk in production (required)")
	fs.StringVar(&c.sync, "js-sync", "always", `JetStream fsync: "always" (before every PubAck) or an interval such as 2m`)
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	// The same flags, help and environment fallbacks as every client
	// subcommand; the rest of natsConfig's flags (URLs, TLS) are not a
	// server's.
	all := flag.NewFlagSet("", flag.ContinueOnError)
	c.creds.flags(all, false)
	for _, name := range natsNodeCredentialFlags {
		f := all.Lookup(name)
		fs.Var(f.Value, f.Name, f.Usage)
	}
	return &ffcli.Command{
		Name: "nats", ShortUsage: "votecast nats --name N --data DIR --routes HOST:PORT,.. --nats-user U [flags]",
		ShortHelp: "run one node of a JetStream cluster (three make one that survives the loss of any one)",
		FlagSet:   fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return runNATSNode(ctx, c) },
	}
}

// nodeOptions checks the settings and turns them into the node's options.
// No message names the password.
func (c natsNodeConfig) nodeOptions() (natsnode.Options, error) {
	switch {
	case c.creds.creds != "":
		return natsnode.Options{}, errors.New("--nats-creds (a JWT) is for clients of a cluster in operator mode, which votecast nats does not run: " +
			"run the official nats-server for that, or give this node --nats-user and --nats-password")
	case c.creds.token != "" || c.creds.nkey != "":
		return natsnode.Options{}, errors.New("votecast nats authenticates clients and routes with --nats-user and --nats-password only (not --nats-token or --nats-nkey)")
	}
	// The checks every client makes of these flags.
	if _, err := c.creds.options(); err != nil {
		return natsnode.Options{}, err
	}
	switch {
	case c.creds.user == "" || c.creds.password == "":
		return natsnode.Options{}, errors.New("votecast nats needs --nats-user and --nats-password (env VOTECAST_NATS_USER, VOTECAST_NATS_PASSWORD): " +
			"every client and every route of the cluster must present them")
	case c.name == "":
		return natsnode.Options{}, errors.New("--name is required: every node of a cluster needs its own")
	case c.dir == "":
		return natsnode.Options{}, errors.New("--data is required: every node keeps its own JetStream directory")
	case c.cluster == "":
		return natsnode.Options{}, errors.New("--cluster is required: the route address of this node")
	case c.listen == "":
		return natsnode.Options{}, errors.New("--listen is required: the client address of this node")
	}
	return natsnode.Options{
		Dir: c.dir, Name: c.name, Listen: c.listen, Sync: c.sync,
		Cluster: c.cluster, ClusterName: c.clusterName, Routes: splitList(c.routes),
		User: c.creds.user, Password: c.creds.password,
	}, nil
}

func runNATSNode(ctx context.Context, c natsNodeConfig) error {
	log, err := newLogger(c.logLevel)
	if err != nil {
		return err
	}
	opts, err := c.nodeOptions()
	if err != nil {
		return err
	}
	opts.Logger, opts.LogNotices = log, true
	node, err := natsnode.Start(opts)
	if err != nil {
		return err
	}
	fmt.Printf("votecast is running: NATS node %s, clients %s, routes %s\n", node.Name(), node.ClientURL(), node.RouteURL())
	log.Info("votecast nats started", "name", node.Name(), "clients", node.ClientURL(), "routes", node.RouteURL(), "js_sync", c.sync)
	// JetStream answers once a quorum of nodes has elected a meta leader;
	// an operator starting the nodes one by one wants to see when.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if leader := node.MetaLeader(); leader != "" {
					log.Info("JetStream cluster has a meta leader", "leader", leader)
					return
				}
			}
		}
	}()
	<-ctx.Done()
	<-watched // MetaLeader must not run past Shutdown
	log.Info("shutting down: handing leaderships to the other nodes")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node.Shutdown(shutdown)
	log.Info("votecast nats stopped")
	return nil
}

// streamReplicas is serve's --replicas, or, when it is 0, 1 on the
// embedded server and 3 on an external one in a cluster. An external
// server not in a cluster cannot hold more than 1, and saying so beats
// refusing to start on a setup that worked before --replicas existed.
func streamReplicas(n int, link *natsLink, log *slog.Logger) int {
	switch {
	case n != 0:
		return n
	case link.node != nil:
		return 1
	case link.nc.ConnectedClusterName() == "":
		log.Warn("the --nats server is not in a cluster: streams keep 1 replica, and a lost disk loses votes (run three votecast nats nodes, see the README)")
		return 1
	}
	return 3
}
