package tally

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
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

// Options configures a Worker. JS, NC, Store and Polls are required.
type Options struct {
	JS    jetstream.JetStream
	NC    *nats.Conn // publishes snapshots
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
	lease   *lease
	running atomic.Int64 // shard indices being consumed now

	runnersMu sync.Mutex
	runners   []*shardRunner // of the current lease, for Lag
}

// NewWorker validates opts and returns a Worker.
func NewWorker(opts Options) (*Worker, error) {
	if opts.JS == nil || opts.NC == nil || opts.Store == nil || opts.Polls == nil {
		return nil, errors.New("new tally worker: JS, NC, Store and Polls are required")
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
	w := &Worker{opts: opts, log: opts.Logger.With("role", "tally"), metrics: newMetrics(opts.Registerer)}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_tally_unread_shards",
			Help: "Shard indices that known polls use and this tally does not consume: votes there would wait uncounted.",
		}, func() float64 { return float64(w.Unread()) }))
	}
	return w, nil
}

// Acquire takes the lease on the tally shards. It fails, wrapping
// ErrShardsHeld and naming the holder, while another live process owns
// them: two tallies folding the same shards would split and double
// counts. Call it before Run.
func (w *Worker) Acquire(ctx context.Context) error {
	l, err := acquireLease(ctx, w.opts.JS, newHolder(w.opts.NodeID))
	if err != nil {
		return err
	}
	w.lease = l
	return nil
}

// Run folds until ctx is cancelled, then flushes what it folded, acks it,
// gives the lease up and returns nil. If the lease is lost (not renewed in
// time: a paused or cut-off process) it stops folding at once, without a
// final flush, and takes the lease again to start over from the store; it
// returns an error only when it cannot (another process owns the shards
// now, or a consumer cannot be set up).
func (w *Worker) Run(ctx context.Context) error {
	if w.lease == nil {
		if err := w.Acquire(ctx); err != nil {
			return err
		}
	}
	for {
		err := w.runOwned(ctx)
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			w.lease.release(rctx)
			cancel()
			return nil
		}
		if !errors.Is(err, errLeaseLost) {
			return err
		}
		w.log.Error("tally: stopped folding; taking the lease again to start over from the store", "err", err)
		if err := w.Acquire(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// runOwned runs the shard runners while the lease holds.
func (w *Worker) runOwned(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	defer func() {
		cancel(nil)
		wg.Wait()
		w.running.Store(0)
		w.runnersMu.Lock()
		w.runners = nil
		w.runnersMu.Unlock()
	}()
	wg.Go(func() {
		if err := w.lease.keep(ctx, w.log); err != nil {
			cancel(err)
		}
	})
	stale, err := w.staleShards(ctx)
	if err != nil {
		w.log.Warn("tally: compare published totals with the store; they are repaired as events come", "err", err)
	}
	started := 0
	grow := func() error {
		for n := w.wanted(); started < n; started++ {
			r, err := w.newRunner(ctx, started)
			if err != nil {
				return err
			}
			r.eager = stale[started]
			wg.Go(func() { r.run(ctx) })
			w.running.Store(int64(started + 1))
		}
		return nil
	}
	if err := grow(); err != nil {
		return err
	}
	for {
		changed := w.opts.Polls.Changed()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-changed:
			if err := grow(); err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				// The votes wait in the stream; the next change retries.
				w.log.Error("tally: consume a new shard index", "err", err)
			}
		}
	}
}

// wanted is how many shard indices must be consumed now.
func (w *Worker) wanted() int {
	n := w.opts.MinShards
	for _, p := range w.opts.Polls.List() {
		n = max(n, min(p.Shards, schema.MaxShards))
	}
	return n
}

// Unread is how many shard indices that known polls use no runner of this
// worker consumes: votes there would be accepted and never counted. It is
// 0 but for the moment a new poll takes to reach the worker.
func (w *Worker) Unread() int {
	return max(0, w.wanted()-int(w.running.Load()))
}

func (w *Worker) newRunner(ctx context.Context, idx int) (*shardRunner, error) {
	cp, err := w.checkpoint(ctx, idx)
	if err != nil {
		return nil, err
	}
	r := &shardRunner{w: w, idx: idx, polls: map[string]*PollShard{}, position: cp, checkpoint: cp}
	w.runnersMu.Lock()
	w.runners = append(w.runners, r)
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

// Ready says why the tally cannot be relied on now, or nil: it is not
// folding (its lease is being taken again), or known polls use shard
// indices it does not consume.
func (w *Worker) Ready() error {
	if w.running.Load() == 0 {
		return errors.New("tally is not folding (no shard lease)")
	}
	if n := w.Unread(); n > 0 {
		return fmt.Errorf("tally: %d shard indices that polls use are not consumed yet", n)
	}
	return nil
}
