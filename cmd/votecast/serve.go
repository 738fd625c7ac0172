package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/api"
	"github.com/votecast/votecast/broadcast"
	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/ingest"
	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/polls"
	"github.com/votecast/votecast/tally"
	"github.com/votecast/votecast/web"
)

// serveConfig is every setting of serve, filled from flags and env in one
// place.
type serveConfig struct {
	httpAddr     string
	nats         natsConfig
	adminToken   string
	viewerSecret string
	allowOrigins string
	shards       int
	interval     time.Duration
	maxDeliver   int
	maxInFlight  int
	maxConns     int
	maxConnsIP   int
	voteRate     float64
	closeGrace   time.Duration
	dupWindow    time.Duration
	replicas     int // 0: streamReplicas decides
	logLevel     string
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
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
	fs.IntVar(&c.maxInFlight, "max-in-flight", 4096, "publishes awaiting a PubAck before votes get retry")
	fs.IntVar(&c.maxConns, "max-conns", 200_000, "viewer connections on this node")
	fs.IntVar(&c.maxConnsIP, "max-conns-per-ip", 20_000, "viewer connections from one address")
	fs.Float64Var(&c.voteRate, "vote-rate", 5, "frames per second per connection (burst 4x)")
	fs.DurationVar(&c.closeGrace, "close-grace", time.Second, "wait for in-flight publishes before close markers")
	fs.DurationVar(&c.dupWindow, "dedup-window", 2*time.Minute, "how long JetStream remembers vote dedup keys")
	fs.IntVar(&c.replicas, "replicas", 0, "copies of every stream and bucket; 0: 1 on the embedded NATS, 3 with --nats (1 if that server is not in a cluster)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	c.store.flags(fs, true)
	return &ffcli.Command{
		Name: "serve", ShortUsage: "votecast serve [flags]", ShortHelp: "run every role in one process",
		FlagSet: fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return serve(ctx, c) },
	}
}

func serve(ctx context.Context, c serveConfig) error {
	log, err := newLogger(c.logLevel)
	if err != nil {
		return err
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
	if c.adminToken == "" {
		c.adminToken, c.tokenPrinted = randomHex(16), true
	}
	idOpts := identity.Options{ViewerSecret: []byte(c.viewerSecret), MaxTokenAge: c.viewerTokenMaxAge}
	if c.viewerSecret == "" {
		if idOpts.AnonKey, err = loadOrCreateKey(filepath.Join(c.nats.dir, "viewer.key")); err != nil {
			return err
		}
	}
	ids, err := identity.New(idOpts)
	if err != nil {
		return err
	}
	origins := splitList(c.allowOrigins)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	link, err := c.nats.dial("votecast-serve", log,
		jetstream.WithPublishAsyncMaxPending(c.maxInFlight+64),
		jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer link.close(context.Background())
	kv, err := natsnode.Ensure(ctx, link.js, natsnode.StreamOptions{DuplicateWindow: c.dupWindow, Replicas: streamReplicas(c.replicas, link, log)})
	if err != nil {
		return err
	}
	st, err := c.store.open(ctx, c.nats.dir, log)
	if err != nil {
		return err
	}
	defer st.Close()

	catalog := polls.NewCatalog(kv, log)
	hub, err := broadcast.New(broadcast.Options{JS: link.js, Polls: catalog, Interval: c.interval, MaxDeliveries: c.maxDeliver, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	catalog.OnChange(hub.PollChanged)
	if err := catalog.Start(ctx); err != nil {
		return err
	}
	defer catalog.Close()
	producer, err := polls.NewProducer(kv, link.js, polls.ProducerOptions{Shards: c.shards, CloseGrace: c.closeGrace})
	if err != nil {
		return err
	}
	worker, err := tally.NewWorker(tally.Options{JS: link.js, NC: link.nc, Store: st, Polls: catalog, Logger: log, Registerer: reg, MinShards: c.shards, NodeID: nodeID})
	if err != nil {
		return err
	}
	// Before anything is served: join the tally group, so the other tally
	// nodes make room for this one.
	if err := worker.Acquire(ctx); err != nil {
		return err
	}
	ing, err := ingest.New(ingest.Options{
		JS: link.js, Polls: catalog, Feed: hub, Identity: ids, AllowOrigins: origins, Ballots: tally.BallotClient{NC: link.nc},
		MaxInFlight: c.maxInFlight, MaxConns: c.maxConns, MaxConnsPerIP: c.maxConnsIP,
		VoteRate: rate.Limit(c.voteRate), VoteBurst: int(4 * c.voteRate), Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	apiHandler, err := api.New(api.Options{
		AdminToken: c.adminToken, Catalog: catalog, Producer: producer, Totals: hub,
		AckCounts: ing.AckCounts,
		TallyLag:  func(ctx context.Context) (uint64, error) { return worker.Lag(), nil },
		Ready: func(ctx context.Context) error {
			if !link.nc.IsConnected() {
				return errors.New("nats disconnected")
			}
			if err := worker.Ready(); err != nil {
				return err
			}
			return st.Ping(ctx)
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	pages, err := web.New(web.Options{PartnerOrigins: origins})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/healthz", apiHandler)
	mux.Handle("/readyz", apiHandler)
	mux.Handle("GET /ws", ing)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", pages)

	storedSub, err := worker.ServeStored(link.nc)
	if err != nil {
		return err
	}
	defer storedSub.Unsubscribe()
	ballotSub, err := worker.ServeBallots(link.nc)
	if err != nil {
		return err
	}
	defer ballotSub.Unsubscribe()

	roles, stopRoles := context.WithCancel(context.Background())
	defer stopRoles()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := worker.Run(roles); err != nil && roles.Err() == nil {
			log.Error("tally stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := hub.Run(roles); err != nil && roles.Err() == nil {
			log.Error("broadcast stopped", "err", err)
		}
	})
	// A close cut short by a crash is finished here, not left closing
	// until a producer notices.
	wg.Go(func() {
		if err := producer.FinishClosing(roles, catalog.List()); err != nil && roles.Err() == nil {
			log.Error("finish interrupted close", "err", err)
		}
	})

	ln, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		stopRoles()
		wg.Wait()
		return fmt.Errorf("listen on %s: %w", c.httpAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	announce(c, ln.Addr().String(), link, ids.Anonymous())
	if c.onReady != nil {
		natsURL := c.nats.url
		if link.node != nil {
			natsURL = link.node.ClientURL()
		}
		c.onReady(ln.Addr().String(), natsURL)
	}
	log.Info("votecast serving", "http", ln.Addr().String(), "data", c.nats.dir, "js_sync", c.nats.sync)

	<-ctx.Done()
	log.Info("shutting down: finishing in-flight votes")
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ing.Close(shutdown); err != nil {
		log.Error("shutdown", "err", err)
	}
	ing.GoingAway()
	_ = srv.Shutdown(shutdown)
	ing.Stop()
	stopRoles() // tally flushes and acks what it folded
	wg.Wait()
	log.Info("votecast stopped")
	return nil
}

// announce prints what a new user needs, once, on stdout.
func announce(c serveConfig, addr string, link *natsLink, anonymous bool) {
	fmt.Printf("votecast is running: http://%s/\n", addr)
	fmt.Printf("  producer dashboard: http://%s/admin\n", addr)
	if c.tokenPrinted {
		fmt.Printf("  producer token (generated, set VOTECAST_ADMIN_TOKEN to choose one): %s\n", c.adminToken)
	}
	if link.node != nil && link.node.ClientURL() != "" {
		fmt.Printf("  embedded NATS: %s (clients sign with the nkey in %s)\n", link.node.ClientURL(), c.nats.localSeed())
	}
	if anonymous {
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
