package tally

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/schema"
)

// PollSource gives the tally poll definitions (the policy to fold under)
// and the list of polls, whose shard counts say which shard indices must
// be consumed.
type PollSource interface {
	WaitFor(ctx context.Context, id string, cond func(schema.Poll) bool) (schema.Poll, error)
	List() []schema.Poll
	// Changed returns a channel closed at the next change of any poll.
	Changed() <-chan struct{}
}

// Options configures a Worker. JS, Store and Polls are required.
type Options struct {
	JS    jetstream.JetStream
	Store Store
	Polls PollSource
	// MinShards is the least number of shard indices consumed; zero
	// value: schema.DefaultShards. The worker consumes indices
	// 0..n-1, n the largest of MinShards and every known poll's Shards,
	// and grows n when a poll with more shards appears: no accepted vote
	// is left on a subject nobody reads, whatever the default for new
	// polls was when a poll was made.
	MinShards int
	// NodeID names this node in the shard lease; zero value: a new one per
	// process. Give the stable id of the node's data directory so that a
	// restart after a crash takes its own lease over at once.
	NodeID string
	// MaxBatch bounds the events folded between two flushes; zero value: 2000.
	MaxBatch int
	// PollWait bounds the wait for a poll definition an event names;
	// zero value: 30s. Ingest publishes only for known polls, so this is
	// only ever the KV watch catching up.
	PollWait time.Duration
	// Logger; zero value: slog.Default().
	Logger *slog.Logger
	// Registerer receives the worker's metrics; zero value: none.
	Registerer prometheus.Registerer
}

// Worker folds the shards it owns. Acquire, then Run, once.
type Worker struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	me      Holder
	kv      jetstream.KeyValue // the owners bucket, once joined
	unowned atomic.Int64       // see Unread

	runnersMu sync.Mutex
	runners   map[int]*shardRunner    // running here, by index: Lag, Owns
	stopped   map[int]<-chan struct{} // runners that lost their lease, until they end
}

// NewWorker validates opts and returns a Worker.
func NewWorker(opts Options) (*Worker, error) {
	if opts.JS == nil || opts.Store == nil || opts.Polls == nil {
		return nil, errors.New("new tally worker: JS, Store and Polls are required")
	}
	if opts.MinShards == 0 {
		opts.MinShards = schema.DefaultShards
	}
	if opts.MinShards < 1 || opts.MinShards > schema.MaxShards {
		return nil, fmt.Errorf("new tally worker: MinShards must be between 1 and %d", schema.MaxShards)
	}
	if opts.NodeID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		opts.NodeID = hex.EncodeToString(b[:])
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 2000
	}
	if opts.PollWait == 0 {
		opts.PollWait = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Worker{
		opts: opts, log: opts.Logger.With("role", "tally"), metrics: newMetrics(opts.Registerer),
		me: newHolder(opts.NodeID), runners: map[int]*shardRunner{}, stopped: map[int]<-chan struct{}{},
	}
	w.unowned.Store(int64(opts.MinShards))
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_tally_unread_shards",
			Help: "Shard indices that known polls use and no tally node owns: votes there wait uncounted.",
		}, func() float64 { return float64(w.Unread()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_tally_owned_shards",
			Help: "Shard indices this node folds, settled: caught up with what its store held when it took them.",
		}, func() float64 { return float64(w.Settled()) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_tally_pending_events",
			Help: "Events in the log this node's shards have not yet durably counted: the tally's lag.",
		}, func() float64 { return float64(w.Lag()) }))
	}
	return w, nil
}

// Acquire joins the tally group: it opens the owners bucket and says this
// node is alive, so the others make room for it. Call it before Run (Run
// calls it when it was not).
func (w *Worker) Acquire(ctx context.Context) error {
	kv, err := w.opts.JS.KeyValue(ctx, schema.OwnersBucket)
	if err != nil {
		return fmt.Errorf("tally: open owners bucket: %w", err)
	}
	w.kv = kv
	return w.heartbeat(ctx)
}

func (w *Worker) heartbeat(ctx context.Context) error {
	val, _ := json.Marshal(w.me)
	if _, err := w.kv.Put(ctx, memberPrefix+w.me.Node, val); err != nil {
		return fmt.Errorf("tally: join the tally group: %w", err)
	}
	return nil
}

// wanted is how many shard indices must be consumed now.
func (w *Worker) wanted() int {
	n := w.opts.MinShards
	for _, p := range w.opts.Polls.List() {
		n = max(n, min(p.Shards, schema.MaxShards))
	}
	return n
}

// Unread is how many shard indices that known polls use have no tally
// owner on any node, as this node saw the owners bucket last: votes
// there would wait uncounted. It is 0 but for the seconds an index takes
// to move.
func (w *Worker) Unread() int { return int(w.unowned.Load()) }

func (w *Worker) newRunner(ctx context.Context, idx int) (*shardRunner, error) {
	cp, err := w.checkpoint(ctx, idx)
	if err != nil {
		return nil, err
	}
	r := &shardRunner{w: w, idx: idx, polls: map[string]*PollShard{}, position: cp, checkpoint: cp}
	r.folded.Store(cp)
	r.eager = w.stalePolls(ctx, idx)
	w.runnersMu.Lock()
	w.runners[idx] = r
	w.runnersMu.Unlock()
	return r, nil
}

// checkpoint is where a shard index's replay starts: the store's
// checkpoint. A store written by a release that kept its place in a
// durable consumer instead has none; that consumer's ack floor is the
// same promise (acked only after a durable flush), so it is taken over
// and the consumer, which only the lease holder could be reading,
// removed.
func (w *Worker) checkpoint(ctx context.Context, idx int) (uint64, error) {
	cp, err := w.opts.Store.LoadCheckpoint(ctx, idx)
	if err != nil {
		return 0, fmt.Errorf("tally: load checkpoint of shard %d: %w", idx, err)
	}
	legacy := "tally-" + strconv.Itoa(idx)
	cons, err := w.opts.JS.Consumer(ctx, schema.VotesStream, legacy)
	if err != nil {
		return cp, nil // none (the usual case), or unreadable: the checkpoint stands
	}
	if info, err := cons.Info(ctx); err == nil && cp == 0 {
		cp = info.AckFloor.Stream
		if err := w.opts.Store.SaveCheckpoint(ctx, idx, cp); err != nil {
			return 0, fmt.Errorf("tally: take over the checkpoint of shard %d: %w", idx, err)
		}
		w.log.Info("tally: took the place of a durable consumer over as the shard's checkpoint", "shard", idx, "checkpoint", cp)
	}
	_ = w.opts.JS.DeleteConsumer(ctx, schema.VotesStream, legacy)
	return cp, nil
}

// Lag is how many events of this worker's shards are not yet durably
// folded: still in the log past the last one folded, or folded since the
// last checkpoint.
func (w *Worker) Lag() uint64 {
	w.runnersMu.Lock()
	defer w.runnersMu.Unlock()
	var n int64
	for _, r := range w.runners {
		n += r.pending.Load() + r.unflushed.Load()
	}
	return uint64(max(n, 0))
}

// Settled is how many shard indices this node folds, caught up with what
// its store held when it took them.
func (w *Worker) Settled() int {
	w.runnersMu.Lock()
	defer w.runnersMu.Unlock()
	n := 0
	for _, r := range w.runners {
		if r.settled.Load() {
			n++
		}
	}
	return n
}

// Ready says why the tally cannot be relied on now, or nil: it has not
// joined the group, or shard indices that polls use have no owner.
func (w *Worker) Ready() error {
	if w.kv == nil {
		return errors.New("tally has not joined the tally group")
	}
	if n := w.Unread(); n > 0 {
		return fmt.Errorf("tally: %d shard indices that polls use have no owner yet", n)
	}
	return nil
}
