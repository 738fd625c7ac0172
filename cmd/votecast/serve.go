package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/node"
	"github.com/votecast/votecast/preflight"
	"github.com/votecast/votecast/tally"
)

// serveConfig is every setting of serve, filled from flags and env in one
// place.
type serveConfig struct {
	// roles this process runs; zero value (the harness's): all of them.
	roles        node.Roles
	httpAddr     string
	nats         natsConfig
	adminToken   string
	viewerSecret string
	allowOrigins string
	shards       int
	interval     time.Duration
	maxDeliver   int
	maxInFlight  int
	stall        time.Duration
	fanoutShare  float64
	maxConns     int
	maxConnsIP   int
	voteRate     float64
	closeGrace   time.Duration
	dupWindow    time.Duration
	ticketKey    string
	signingKey   string
	ticketTTL    time.Duration
	admitRate    float64
	queueGrace   time.Duration
	maxVoteRate  float64
	replicas     int // 0: streamReplicas decides
	logLevel     string
	debugAddr    string
	store        storeConfig
	tokenPrinted bool
	// viewerTokenMaxAge bounds the lifetime of partner-signed tokens.
	viewerTokenMaxAge time.Duration
	// onReady, when set, is told the bound HTTP address and the NATS URL
	// (tests start serve in-process on port 0).
	onReady func(httpAddr, natsURL string)
}

func serveCommand() *ffcli.Command {
	var c serveConfig
	fs := serveFlags(&c)
	return &ffcli.Command{
		Name: "serve", ShortUsage: "votecast serve [--roles ingest,broadcast,tally] [flags]",
		ShortHelp: "run a node: every role in one process, or some of them on a shared NATS",
		FlagSet:   fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return serve(ctx, c) },
	}
}

// serveFlags registers serve's flags into c.
func serveFlags(c *serveConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.roles = node.AllRoles
	fs.Var(&c.roles, "roles", "comma-separated roles of this process: ingest (takes votes), broadcast (sends totals), tally (counts) (env VOTECAST_ROLES)")
	fs.StringVar(&c.httpAddr, "http", "127.0.0.1:8080", "HTTP listen address (env VOTECAST_HTTP)")
	fs.StringVar(&c.nats.dir, "data", "./data", "data directory for embedded NATS and the store (env VOTECAST_DATA)")
	c.nats.flags(fs, true)
	fs.StringVar(&c.nats.sync, "js-sync", "always", `JetStream fsync: "always" (before every PubAck) or an interval such as 2m`)
	fs.StringVar(&c.adminToken, "admin-token", "", "producer API token (env VOTECAST_ADMIN_TOKEN); empty: generate and print one")
	fs.StringVar(&c.viewerSecret, "viewer-secret", "", "HS256 key of partner-signed viewer tokens (env VOTECAST_VIEWER_SECRET); empty: anonymous viewers")
	fs.DurationVar(&c.viewerTokenMaxAge, "viewer-token-max-age", 24*time.Hour, "longest lifetime (exp minus iat, or minus now) of a viewer token")
	fs.StringVar(&c.allowOrigins, "allow-origin", "", "comma-separated partner origins allowed to embed polls")
	fs.IntVar(&c.shards, "shards", 16, "shard count of new polls")
	fs.DurationVar(&c.interval, "totals-interval", 100*time.Millisecond, "shortest time between two totals frames of a poll")
	fs.IntVar(&c.maxDeliver, "max-deliveries", 100_000, "totals frames per second this node writes in all; the interval stretches (up to 1s) past it")
	fs.Float64Var(&c.fanoutShare, "fanout-share", 0.1, "share of this node's CPU totals may take while votes wait for the log; the interval stretches (up to 1s) to keep it")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 16384, "publishes awaiting a PubAck before votes get retry")
	fs.DurationVar(&c.stall, "stall-timeout", 2*time.Second, "answer waiting votes retry when the log has acknowledged nothing for this long (no quorum, a dead leader)")
	fs.IntVar(&c.maxConns, "max-conns", 200_000, "viewer connections on this node")
	fs.IntVar(&c.maxConnsIP, "max-conns-per-ip", 20_000, "viewer connections from one address")
	fs.Float64Var(&c.voteRate, "vote-rate", 5, "frames per second per connection (burst 4x)")
	fs.DurationVar(&c.closeGrace, "close-grace", time.Second, "wait for in-flight publishes before close markers")
	fs.Float64Var(&c.maxVoteRate, "max-vote-rate", 10_000, "votes per second this node takes before new viewers wait in line (the waiting room)")
	fs.Float64Var(&c.admitRate, "admit-rate", 1000, "viewers per second the waiting room lets in, until the producer sets another")
	fs.DurationVar(&c.queueGrace, "queue-grace", 15*time.Second, "how long viewers in line when a poll closes may still vote from it")
	fs.DurationVar(&c.ticketTTL, "ticket-ttl", time.Hour, "how long a waiting-room ticket lasts")
	fs.StringVar(&c.signingKey, "signing-key", "", "file holding the Ed25519 key (a base64 seed) that signs closed polls' results certificates, the same on every edge; created if missing; empty: signing.key in --data")
	fs.StringVar(&c.ticketKey, "ticket-key", "", "key (32+ bytes) signing waiting-room tickets, the same on every edge (env VOTECAST_TICKET_KEY); empty: derived from the producer token")
	fs.DurationVar(&c.dupWindow, "dedup-window", 2*time.Minute, "how long JetStream remembers vote dedup keys")
	fs.IntVar(&c.replicas, "replicas", 0, "copies of every stream and bucket; 0: 1 on the embedded NATS, 3 with --nats (1 if that server is not in a cluster)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.debugAddr, "debug-listen", "", "serve CPU and heap profiles (pprof, and the CPU profile `votecast load --profile` takes) on this address, for operators only; empty: none")
	c.store.flags(fs, true)
	return fs
}

func serve(ctx context.Context, c serveConfig) error {
	log, err := newLogger(c.logLevel)
	if err != nil {
		return err
	}
	if c.roles == 0 {
		c.roles = node.AllRoles
	}
	if c.fanoutShare < 0 || c.fanoutShare > 1 {
		return fmt.Errorf("--fanout-share %v: want a share of the CPU between 0 and 1, such as 0.1", c.fanoutShare)
	}
	if c.ticketKey != "" && len(c.ticketKey) < 32 {
		return fmt.Errorf("--ticket-key: %d characters; use at least 32 (for example: openssl rand -hex 32)", len(c.ticketKey))
	}
	if c.admitRate < 0 || c.maxVoteRate < 0 || c.queueGrace < 0 || (c.ticketTTL != 0 && c.ticketTTL < time.Minute) {
		return fmt.Errorf("--admit-rate %v, --max-vote-rate %v, --queue-grace %v, --ticket-ttl %v: want rates of 0 or more, a grace of 0 or more and a ticket of a minute or more",
			c.admitRate, c.maxVoteRate, c.queueGrace, c.ticketTTL)
	}
	if c.stall < 0 {
		return fmt.Errorf("--stall-timeout %v: want a positive duration such as 2s", c.stall)
	}
	serves := c.roles.Has(node.Ingest) || c.roles.Has(node.Broadcast)
	if limit := preflight.OpenFilesLimit(); serves && limit > 0 && uint64(c.maxConns) > limit {
		// Not an error: a laptop never comes near the cap. On air the
		// connections past the limit would fail at accept, unexplained.
		log.Warn("--max-conns is above this process's open files limit: connections past it fail to be accepted; raise the limit (ulimit -n, LimitNOFILE) or lower --max-conns (votecast preflight checks this)",
			"max_conns", c.maxConns, "open_files_limit", limit)
	}
	if err := os.MkdirAll(c.nats.dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	unlock, err := lockDataDir(c.nats.dir)
	if err != nil {
		return err
	}
	defer unlock()
	nodeID, err := nodeID(c.nats.dir)
	if err != nil {
		return err
	}
	var ids *identity.Verifier
	var signer ed25519.PrivateKey
	if serves {
		if c.signingKey == "" {
			c.signingKey = filepath.Join(c.nats.dir, "signing.key")
		}
		if signer, err = certify.LoadKey(c.signingKey); err != nil {
			return err
		}
		if c.adminToken == "" {
			c.adminToken, c.tokenPrinted = randomHex(16), true
		}
		if ids, err = viewerIdentity(c); err != nil {
			return err
		}
	}

	link, err := c.nats.dial("votecast-serve", log,
		jetstream.WithPublishAsyncMaxPending(c.maxInFlight+64),
		jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer link.close(context.Background())
	n, err := node.Open(ctx, node.Options{
		Roles: c.roles, NC: link.nc, JS: link.js, NodeID: nodeID, HTTPAddr: c.httpAddr,
		AdminToken: c.adminToken, Identity: ids, AllowOrigins: splitList(c.allowOrigins),
		OpenStore: func(ctx context.Context) (tally.Store, error) { return c.store.open(ctx, c.nats.dir, log) },
		Shards:    c.shards, TotalsInterval: c.interval, MaxDeliveries: c.maxDeliver, FanoutShare: c.fanoutShare,
		MaxInFlight: c.maxInFlight, StallTimeout: c.stall, MaxConns: c.maxConns, MaxConnsPerIP: c.maxConnsIP,
		VoteRate: rate.Limit(c.voteRate), VoteBurst: int(4 * c.voteRate),
		CloseGrace: c.closeGrace, DuplicateWindow: c.dupWindow, Replicas: streamReplicas(c.replicas, link, log),
		SigningKey: signer, TicketKey: []byte(c.ticketKey), TicketTTL: c.ticketTTL, AdmitRate: admitRate(c.admitRate), QueueGrace: queueGrace(c.queueGrace),
		MaxVoteRate: c.maxVoteRate, DebugAddr: c.debugAddr, Logger: log,
		Version: version, Facts: serveFacts(c, link),
	})
	if err != nil {
		return err
	}
	announce(c, n.Addr(), link, ids)
	if a := n.DebugAddr(); a != "" {
		fmt.Printf("  profiles: http://%s/debug/pprof/\n", a)
	}
	if c.onReady != nil {
		natsURL := c.nats.url
		if link.node != nil {
			natsURL = link.node.ClientURL()
		}
		c.onReady(n.Addr(), natsURL)
	}
	log.Info("votecast serving", "roles", c.roles.String(), "http", n.Addr(), "data", c.nats.dir, "js_sync", c.nats.sync)

	<-ctx.Done()
	log.Info("shutting down: finishing in-flight votes")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Close(shutdown); err != nil {
		log.Error("shutdown", "err", err)
	}
	log.Info("votecast stopped")
	return nil
}

// viewerIdentity is how viewers are told apart: partner-signed tokens, or
// anonymous cookies signed with a key kept in the data directory.
func viewerIdentity(c serveConfig) (*identity.Verifier, error) {
	opts := identity.Options{ViewerSecret: []byte(c.viewerSecret), MaxTokenAge: c.viewerTokenMaxAge}
	if c.viewerSecret == "" {
		var err error
		if opts.AnonKey, err = loadOrCreateKey(filepath.Join(c.nats.dir, "viewer.key")); err != nil {
			return nil, err
		}
	}
	return identity.New(opts)
}

// announce prints what a new user needs, once, on stdout.
func announce(c serveConfig, addr string, link *natsLink, ids *identity.Verifier) {
	if ids == nil { // tally only: nothing for viewers or producers here
		fmt.Printf("votecast is running (roles: %s): http://%s/metrics, /livez, /readyz\n", c.roles, addr)
	} else {
		fmt.Printf("votecast is running: http://%s/\n", addr)
		if c.roles != node.AllRoles {
			fmt.Printf("  roles: %s\n", c.roles)
		}
		fmt.Printf("  producer dashboard: http://%s/admin\n", addr)
		if c.tokenPrinted {
			fmt.Printf("  producer token (generated, set VOTECAST_ADMIN_TOKEN to choose one): %s\n", c.adminToken)
		}
	}
	if link.node != nil && link.node.ClientURL() != "" {
		fmt.Printf("  embedded NATS: %s (clients sign with the nkey in %s)\n", link.node.ClientURL(), c.nats.localSeed())
	}
	if ids != nil && ids.Anonymous() {
		fmt.Println("  viewers: anonymous (set VOTECAST_VIEWER_SECRET to require partner-signed tokens)")
	}
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// loadOrCreateKey keeps the anonymous-cookie key across restarts, so
// viewers keep their ids.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	b = []byte(randomHex(32))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write viewer key: %w", err)
	}
	return b, nil
}

// queueGrace maps --queue-grace 0 (none) to the node's "none", since the
// node's zero value means its default.
func queueGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// admitRate maps --admit-rate 0 (the line does not move) to the node's
// "stopped", since the node's zero value means its default.
func admitRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// serveFacts are what preflight learns from this process alone.
func serveFacts(c serveConfig, link *natsLink) preflight.Facts {
	f := preflight.Facts{NATS: "external"}
	if link.node != nil {
		f.NATS, f.JSSync = "embedded", c.nats.sync
	}
	if c.roles.Has(node.Tally) {
		f.Store = "embedded"
		if c.store.scylla != "" {
			// scylla.Options' default: the driver opens one per CPU shard
			// on ScyllaDB whatever this says.
			f.Store, f.StorePool = "scylla", 2
		}
	}
	return f
}
