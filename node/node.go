// Package node is a running votecast node: it assembles the roles it is
// given (ingest, broadcast, tally: any non-empty set) over one NATS
// connection, serves them on one HTTP server, and stops them in the order
// that keeps every accepted vote counted.
//
// What a node serves depends on its roles. With ingest or broadcast: the
// producer API, the pages, the viewer WebSocket, /metrics and the probes.
// Without ingest, a vote frame is answered with an error frame ("this node
// takes no votes (broadcast only)"), never an ack, and never published; without broadcast, viewers
// get acks and no totals, and the results API answers 503 (the node has no
// hub to sum the tally's snapshots). A tally-only node serves /metrics,
// /livez, /healthz and /readyz, and 404 for everything else.
//
// The node never dials NATS: the caller passes a connection in, keeps the
// URLs and credentials, and closes the connection after Close. Secrets the
// node is given (the admin token) are never logged.
//
// Concurrency: Open starts the roles' goroutines and the HTTP server and
// returns once the node serves; Close stops them, waits for them and is
// safe to call twice and from any goroutine. Addr and Ready are safe from
// any goroutine.
package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/votecast/votecast/api"
	"github.com/votecast/votecast/broadcast"
	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/ingest"
	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/polls"
	"github.com/votecast/votecast/preflight"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
	"github.com/votecast/votecast/waitroom"
	"github.com/votecast/votecast/web"
)

// NoVotesReason is the reason a node without the ingest role gives for
// every vote frame, in an error frame.
const NoVotesReason = "this node takes no votes (broadcast only)"

// Options configures Open. NC and JS are always required; what else is
// depends on Roles, as each field says.
type Options struct {
	// Roles this node runs; zero value: AllRoles.
	Roles Roles
	// NC and JS reach NATS (embedded or a cluster); required. They stay
	// the caller's: close NC after Close. JS's async publish limit
	// (jetstream.WithPublishAsyncMaxPending) must exceed MaxInFlight, or
	// ingest blocks where it should answer retry.
	NC *nats.Conn
	JS jetstream.JetStream
	// NodeID names this node in the tally's shard lease; zero value: a
	// new one per process (see tally.Options.NodeID: give the data
	// directory's stable id so a restart takes its own lease back).
	NodeID string
	// HTTPAddr is the HTTP listen address; zero value: 127.0.0.1:0, a
	// free port (see Addr).
	HTTPAddr string
	// AdminToken is the producer API token, at least 16 characters;
	// required with ingest or broadcast, unused by a tally-only node.
	AdminToken string
	// Identity tells who a viewer is; required with ingest or broadcast.
	Identity *identity.Verifier
	// AllowOrigins are partner origins allowed to open viewer sockets and
	// frame the widget; zero value: none, only this server's own origin.
	AllowOrigins []string
	// OpenStore opens the tally's store; required with the tally role and
	// called only with it. Close closes the store, after the tally's final
	// flush.
	OpenStore func(ctx context.Context) (tally.Store, error)
	// Shards is the shard count of new polls, and the fewest shard indices
	// the tally consumes; zero value: schema.DefaultShards.
	Shards int
	// TotalsInterval is the shortest time between two totals frames of a
	// poll; zero value: broadcast's (100ms).
	TotalsInterval time.Duration
	// MaxDeliveries caps the totals frames per second this node writes;
	// zero value: broadcast's (100,000).
	MaxDeliveries int
	// FanoutShare is the share of the node's CPU totals may take while
	// votes wait for the log; zero value: broadcast's (0.1).
	FanoutShare float64
	// MaxInFlight caps publishes awaiting a PubAck; zero value: ingest's
	// (16384).
	MaxInFlight int
	// StallTimeout: how long the log may acknowledge nothing while votes
	// wait before they are answered retry; zero value: ingest's (2s).
	StallTimeout time.Duration
	// MaxConns and MaxConnsPerIP cap viewer connections; zero values:
	// ingest's (200,000 and 20,000).
	MaxConns, MaxConnsPerIP int
	// VoteRate limits each connection's frames; zero value: ingest's (5
	// per second, burst 20). VoteBurst; zero value: four times VoteRate.
	VoteRate  rate.Limit
	VoteBurst int
	// CloseGrace is how long a closing poll waits for in-flight publishes;
	// zero value: polls' (1s).
	CloseGrace time.Duration
	// DuplicateWindow is how long JetStream remembers vote dedup keys;
	// zero value: natsnode's (2 minutes).
	DuplicateWindow time.Duration
	// Replicas of every stream and bucket the node declares; zero value:
	// natsnode's (1, one server).
	Replicas int
	// TicketKey signs waiting-room tickets; every edge of a deployment
	// needs the same one. Zero value: derived from AdminToken, which the
	// edges share already.
	TicketKey []byte
	// SigningKey signs closed polls' results certificates; every node
	// with the API should have the same one (the first node to certify a
	// poll stores the certificate, the others serve it). Zero value: no
	// certificates (their endpoints answer 404).
	SigningKey ed25519.PrivateKey
	// TicketTTL is how long a waiting-room ticket lasts; zero value: 1h.
	TicketTTL time.Duration
	// AdmitRate is the waiting room's admission rate until an operator
	// sets another, viewers per second; zero value: waitroom's (1000).
	AdmitRate float64
	// QueueGrace is how long viewers in line when a poll closes may still
	// vote from it; zero value: polls' (15s).
	QueueGrace time.Duration
	// MaxVoteRate is the votes per second an edge takes before new
	// viewers wait in line; zero value: ingest's (10,000).
	MaxVoteRate float64
	// DebugAddr, when set, serves CPU and heap profiles (parts.Handler)
	// on a listener of its own, for operators only; zero value: none.
	DebugAddr string
	// Version is the build running, for votecast_build_info and
	// preflight; zero value: "dev".
	Version string
	// Facts are what only the caller knows about this deployment (the log's
	// fsync, the store's pool), for preflight's checklist.
	Facts preflight.Facts
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
}

// Node is a running node.
type Node struct {
	opts  Options
	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	debug *http.Server   // nil without DebugAddr
	ing   *ingest.Server // nil without ingest and broadcast
	hub   *broadcast.Hub // nil without broadcast
	// catalog is the poll mirror every node keeps.
	catalog *polls.Catalog
	room    *waitroom.Room // nil without ingest and broadcast
	// endAPI ends the producer API's poll changes (a close waiting out
	// its grace) when the node stops; nil without ingest and broadcast.
	endAPI context.CancelFunc
	store  tally.Store // nil without tally
	// worker is nil without tally.
	worker *tally.Worker

	stopRoles context.CancelFunc
	roles     sync.WaitGroup // the roles' goroutines and the HTTP server's
	release   []func()       // undone in reverse once the roles have stopped

	closeOnce sync.Once
	closeErr  error
}

func (o *Options) check() error {
	if o.Roles == 0 {
		o.Roles = AllRoles
	}
	if o.Roles&^AllRoles != 0 {
		return fmt.Errorf("unknown roles %#x", uint8(o.Roles&^AllRoles))
	}
	if o.NC == nil || o.JS == nil {
		return errors.New("a NATS connection is required (NC and JS)")
	}
	if o.Roles.serves() && o.Identity == nil {
		return fmt.Errorf("roles %s serve viewers and need Identity", o.Roles)
	}
	if o.Roles.Has(Tally) && o.OpenStore == nil {
		return errors.New("the tally role needs OpenStore")
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.Shards == 0 {
		o.Shards = schema.DefaultShards
	}
	if o.VoteRate != 0 && o.VoteBurst == 0 {
		o.VoteBurst = int(4 * o.VoteRate)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return nil
}

// Open starts the roles and serves HTTP. ctx bounds the start only; the
// roles run until Close. With the tally role the worker's Acquire runs
// before anything is served, and its error comes back unchanged inside
// "tally role: ...", for errors.Is. On an error nothing is left running.
func Open(ctx context.Context, opts Options) (_ *Node, err error) {
	if err := opts.check(); err != nil {
		return nil, fmt.Errorf("open node: %w", err)
	}
	roleCtx, stopRoles := context.WithCancel(context.Background())
	n := &Node{opts: opts, log: opts.Logger, stopRoles: stopRoles}
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	// The port first: a node that cannot serve should fail before it takes
	// the tally lease.
	n.ln, err = net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", opts.HTTPAddr, err)
	}
	n.onStop(func() { n.ln.Close() })
	if opts.DebugAddr != "" {
		if err := n.serveDebug(opts.DebugAddr); err != nil {
			return nil, err
		}
	}

	kv, err := natsnode.Ensure(ctx, opts.JS, natsnode.StreamOptions{DuplicateWindow: opts.DuplicateWindow, Replicas: opts.Replicas, TicketTTL: opts.TicketTTL})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		natsnode.NewLogCollector(opts.JS), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_build_info", Help: "Always 1; the version label says which build runs.",
			ConstLabels: prometheus.Labels{"version": opts.Version},
		}, func() float64 { return 1 }))

	catalog := polls.NewCatalog(kv, n.log)
	n.catalog = catalog
	var hub *broadcast.Hub
	if opts.Roles.Has(Broadcast) {
		hub, err = broadcast.New(broadcast.Options{
			JS: opts.JS, Polls: catalog, Interval: opts.TotalsInterval, MaxDeliveries: opts.MaxDeliveries,
			FanoutShare: opts.FanoutShare,
			// n.ing is set before the hub runs, and never again.
			VotesWaiting: func() bool { return n.ing != nil && n.ing.Waiting() },
			Logger:       n.log, Registerer: reg,
		})
		if err != nil {
			return nil, err
		}
		catalog.OnChange(hub.PollChanged)
		n.hub = hub
	}
	if err := catalog.Start(ctx); err != nil {
		return nil, err
	}
	n.onStop(catalog.Close)
	po := polls.ProducerOptions{Shards: opts.Shards, CloseGrace: opts.CloseGrace, QueueGrace: opts.QueueGrace}
	if opts.Roles.serves() {
		if n.room, err = n.openRoom(ctx, reg); err != nil {
			return nil, err
		}
		po.Queue = n.room
	}
	producer, err := polls.NewProducer(kv, opts.JS, po)
	if err != nil {
		return nil, err
	}

	if opts.Roles.Has(Tally) {
		if err := n.startTally(ctx, roleCtx, catalog, reg); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if opts.Roles.serves() {
		if err := n.serveViewers(mux, catalog, producer, hub, reg); err != nil {
			return nil, err
		}
		// After serveViewers: the room reads n.ing's free slots.
		n.roles.Go(func() { n.room.Run(roleCtx) })
	} else {
		probes := api.Probes(n.Ready)
		for _, p := range []string{"/livez", "/healthz", "/readyz"} {
			mux.Handle(p, probes)
		}
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"this node runs only the tally role: it serves /metrics, /livez and /readyz"}` + "\n"))
		})
	}

	if hub != nil {
		n.roles.Go(func() {
			if err := hub.Run(roleCtx); err != nil && roleCtx.Err() == nil {
				n.log.Error("broadcast stopped", "err", err)
			}
		})
	}
	// A close cut short by a crash is finished by whichever node starts
	// next, whatever its roles: the close is a compare-and-set on the
	// poll, so two nodes racing finish it once.
	n.roles.Go(func() {
		if err := producer.FinishClosing(roleCtx, catalog.List()); err != nil && roleCtx.Err() == nil {
			n.log.Error("finish interrupted close", "err", err)
		}
		if err := producer.FinishOpening(roleCtx, catalog.List()); err != nil && roleCtx.Err() == nil {
			n.log.Error("finish the interrupted draw of an opening", "err", err)
		}
	})

	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	n.roles.Go(func() {
		if err := n.srv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server", "err", err)
		}
	})
	return n, nil
}

// serveDebug serves the profiles on their own listener until the roles
// stop.
func (n *Node) serveDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for profiles on %s: %w", addr, err)
	}
	n.debug = &http.Server{Addr: ln.Addr().String(), Handler: parts.Handler(), ReadHeaderTimeout: 10 * time.Second}
	n.roles.Go(func() {
		if err := n.debug.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("profile server", "err", err)
		}
	})
	return nil
}

// DebugAddr is where the profiles are served, host:port, or "" without
// Options.DebugAddr.
func (n *Node) DebugAddr() string {
	if n.debug == nil {
		return ""
	}
	return n.debug.Addr
}

// serveViewers mounts what a node with ingest or broadcast serves.
func (n *Node) serveViewers(mux *http.ServeMux, catalog *polls.Catalog, producer *polls.Producer, hub *broadcast.Hub, reg prometheus.Registerer) error {
	opts := n.opts
	ingOpts := ingest.Options{
		JS: opts.JS, Polls: catalog, Identity: opts.Identity, AllowOrigins: opts.AllowOrigins,
		MaxInFlight: opts.MaxInFlight, StallTimeout: opts.StallTimeout, MaxConns: opts.MaxConns, MaxConnsPerIP: opts.MaxConnsPerIP,
		VoteRate: opts.VoteRate, VoteBurst: opts.VoteBurst, Logger: n.log, Registerer: reg,
	}
	if hub != nil {
		ingOpts.Feed = hub // an interface holding a nil *Hub would not be nil
		ingOpts.Cutoff = hub.Cutoff
	}
	if opts.Roles.Has(Ingest) {
		ingOpts.Ballots = tally.BallotClient{NC: opts.NC}
	} else {
		ingOpts.RefuseVotes = NoVotesReason
	}
	ingOpts.Room, ingOpts.MaxVoteRate = n.room, opts.MaxVoteRate
	ing, err := ingest.New(ingOpts)
	if err != nil {
		return err
	}
	n.ing = ing
	ao := api.Options{
		AdminToken: opts.AdminToken, Catalog: catalog, Producer: producer, AckCounts: ing.AckCounts,
		Ready: n.Ready, Logger: n.log, Queue: n.room,
	}
	ao.Life, n.endAPI = context.WithCancel(context.Background())
	if opts.SigningKey != nil {
		certs, err := certify.NewService(ao.Life, opts.JS, opts.SigningKey)
		if err != nil {
			return err
		}
		ao.Certificates = certs
		ao.Identify = opts.Identity.Identify
	}
	if hub != nil {
		ao.Totals = hub
	}
	if n.worker != nil {
		// Only the tally knows how far behind it is.
		ao.TallyLag = func(context.Context) (uint64, error) { return n.worker.Lag(), nil }
	}
	ao.Preflight = func(ctx context.Context) any { return n.Preflight(ctx) }
	apiHandler, err := api.New(ao)
	if err != nil {
		return err
	}
	pages, err := web.New(web.Options{PartnerOrigins: opts.AllowOrigins})
	if err != nil {
		return err
	}
	for _, p := range []string{"/api/", "/livez", "/healthz", "/readyz", "/.well-known/"} {
		mux.Handle(p, apiHandler)
	}
	wo := waitroom.HTTPOptions{Room: n.room, Identify: opts.Identity.Identify, Poll: catalog.Get, Full: ing.Full, Logger: n.log}
	if opts.Roles.Has(Ingest) {
		wo.Vote = ing.VoteQueued
	}
	line := waitroom.Handler(wo)
	for _, p := range []string{"POST /api/polls/{id}/queue", "GET /api/queue", "POST /api/polls/{id}/queue/vote"} {
		mux.Handle(p, line)
	}
	mux.Handle("GET /ws", ing)
	mux.Handle("/", pages)
	return nil
}

// startTally opens the store, acquires the shards (tally's Acquire) and
// starts folding.
func (n *Node) startTally(ctx, roleCtx context.Context, catalog *polls.Catalog, reg prometheus.Registerer) error {
	opts := n.opts
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return fmt.Errorf("tally role: open the store: %w", err)
	}
	n.store = st
	n.onStop(func() {
		if err := st.Close(); err != nil {
			n.log.Error("close the store", "err", err)
		}
	})
	worker, err := tally.NewWorker(tally.Options{
		JS: opts.JS, Store: st, Polls: catalog, Logger: n.log, Registerer: reg,
		MinShards: opts.Shards, NodeID: opts.NodeID,
	})
	if err != nil {
		return fmt.Errorf("tally role: %w", err)
	}
	// Before anything is served: join the tally group, so the other tally
	// nodes make room for this one.
	if err := worker.Acquire(ctx); err != nil {
		return fmt.Errorf("tally role: %w", err)
	}
	// Run at once: it is also what gives the shards back if the rest of
	// Open fails.
	n.roles.Go(func() {
		if err := worker.Run(roleCtx); err != nil && roleCtx.Err() == nil {
			n.log.Error("tally stopped", "err", err)
		}
	})
	n.worker = worker
	stored, err := worker.ServeStored(opts.NC)
	if err != nil {
		return err
	}
	n.onStop(func() { _ = stored.Unsubscribe() })
	ballots, err := worker.ServeBallots(opts.NC)
	if err != nil {
		return err
	}
	n.onStop(func() { _ = ballots.Unsubscribe() })
	return nil
}

// onStop registers what stop undoes, in reverse order, once the roles
// have stopped.
func (n *Node) onStop(f func()) { n.release = append(n.release, f) }

// Addr is the bound HTTP address, host:port (with HTTPAddr port 0, the
// port the system chose).
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Ready says why this node cannot do its roles' work now, or nil: what
// /readyz answers. Every node needs NATS; the tally also needs its shards
// folding and its store answering.
func (n *Node) Ready(ctx context.Context) error {
	if !n.opts.NC.IsConnected() {
		return errors.New("nats disconnected")
	}
	if n.worker != nil {
		if err := n.worker.Ready(); err != nil {
			return err
		}
		return n.store.Ping(ctx)
	}
	return nil
}

// Close stops the node in the order that loses no vote: ingest stops
// taking votes and waits for the PubAcks in flight (bounded by ctx), the
// viewer sockets are closed with 1001 after their last acks, the HTTP
// server shuts down, then the roles stop (the tally's final flush), the
// store closes and the connection is flushed. It returns
// what went wrong on the way (the wait cut short by ctx, say) but always
// stops everything. Safe to call twice: the second call waits for the
// first and returns its error.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(ctx) })
	return n.closeErr
}

func (n *Node) shutdown(ctx context.Context) error {
	var errs []error
	if n.endAPI != nil {
		n.endAPI() // a close in progress stops; the next start finishes it
	}
	if n.ing != nil {
		if err := n.ing.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		n.ing.GoingAway()
	}
	if err := n.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut the http server down: %w", err))
		_ = n.srv.Close() // what did not finish in time is cut off
	}
	if n.ing != nil {
		n.ing.Stop()
	}
	n.stop()
	// The roles have stopped: send what they left (the tally's last
	// snapshots) before the caller closes the connection.
	if err := n.opts.NC.FlushWithContext(ctx); err != nil && n.opts.NC.IsConnected() {
		errs = append(errs, fmt.Errorf("flush nats: %w", err))
	}
	return errors.Join(errs...)
}

// stop ends the roles, waits for them, and releases what Open took.
func (n *Node) stop() {
	n.stopRoles()
	if n.debug != nil {
		n.debug.Close() // its Serve is one of the roles' goroutines
	}
	n.roles.Wait()
	for i := len(n.release) - 1; i >= 0; i-- {
		n.release[i]()
	}
	n.release = nil
}

// openRoom opens this edge's handle on the waiting room. Its free slots
// are ingest's: Run starts once serveViewers has set n.ing.
func (n *Node) openRoom(ctx context.Context, reg prometheus.Registerer) (*waitroom.Room, error) {
	key := n.opts.TicketKey
	if len(key) == 0 {
		key = waitroom.DeriveKey(n.opts.AdminToken)
	}
	signer, err := waitroom.NewSigner(key)
	if err != nil {
		return nil, err
	}
	edge := n.opts.NodeID
	if edge == "" {
		edge = "edge-" + schema.NewPollID()
	}
	return waitroom.New(ctx, waitroom.Options{
		JS: n.opts.JS, Signer: signer, Edge: edge, Rate: n.opts.AdmitRate, TicketTTL: n.opts.TicketTTL,
		Free:   func() int { return n.ing.Free() },
		Logger: n.log, Registerer: reg,
	})
}
