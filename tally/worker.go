package tally

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
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
	me      Holder
	kv      jetstream.KeyValue // the owners bucket, once joined
	unowned atomic.Int64       // see Unread

	runnersMu sync.Mutex
	runners   map[int]*shardRunner    // running here, by index: Lag, Owns
	stopped   map[int]<-chan struct{} // runners that lost their lease, until they end
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
	w := &Worker{
		opts: opts, log: opts.Logger.With("role", "tally"), metrics: newMetrics(opts.Registerer),
		me: newHolder(opts.NodeID), runners: map[int]*shardRunner{}, stopped: map[int]<-chan struct{}{},
	}
	w.unowned.Store(int64(opts.MinShards))
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "votecast_tally_unread_shards",
			Help: "Shard indices that known polls use and no tally node owns: votes there wait uncounted.",
		}, func() float64 { return float64(w.Unread()) }))
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

// owned is a shard index this node folds: its lease and its runner.
type owned struct {
	lease
	runner *shardRunner
	cancel context.CancelCauseFunc
	done   chan struct{}
	// leaving: handing off; the runner flushes and checkpoints, and the
	// lease is kept until it is done.
	leaving bool
}

// Run folds the shard indices this node owns until ctx is cancelled, then
// flushes and checkpoints them, gives their leases up and returns nil.
//
// Each shard index has a lease in the owners bucket; an index goes to
// the live member that rendezvous hashing prefers, so members agree on
// the layout without talking, and a join or a leave moves only the
// indices it must. A free index is taken at once by its preferred member
// and after two rounds by anyone, so no index stays unread. A lease that
// cannot be renewed in time (a paused or cut-off node) stops its runner
// at once, without a flush: the next owner replays from the checkpoint.
func (w *Worker) Run(ctx context.Context) error {
	if w.kv == nil {
		if err := w.Acquire(ctx); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	held := map[int]*owned{}
	free := map[int]int{} // rounds an index has been seen with no owner
	ended := make(chan int, schema.MaxShards)
	failing := false
	defer func() {
		for _, o := range held {
			o.cancel(nil) // a graceful stop: flush and checkpoint
		}
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for idx, o := range held {
			_ = w.kv.Delete(rctx, shardKey(idx), jetstream.LastRevision(o.rev))
		}
		_ = w.kv.Delete(rctx, memberPrefix+w.me.Node)
		w.unowned.Store(int64(w.wanted()))
	}()
	round := func() {
		if err := w.round(ctx, held, free, &wg, ended); err != nil && ctx.Err() == nil {
			if !failing {
				w.log.Warn("tally: shard ownership round failed; retrying", "err", err)
			}
			failing = true
			return
		}
		failing = false
	}
	t := time.NewTicker(schema.OwnerLeaseTTL / 5)
	defer t.Stop()
	round()
	for {
		changed := w.opts.Polls.Changed()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			round()
		case <-changed:
			round() // a poll with more shards may need more indices
		case idx := <-ended:
			w.ended(ctx, held, idx)
		}
	}
}

// ended settles a runner that stopped: after a hand-off its lease is
// released for the next owner; after any other end the index is given up
// and taken again by a later round.
func (w *Worker) ended(ctx context.Context, held map[int]*owned, idx int) {
	o := held[idx]
	if o == nil {
		return // lost: nothing to release
	}
	delete(held, idx)
	w.forget(o.runner)
	if err := w.kv.Delete(ctx, shardKey(idx), jetstream.LastRevision(o.rev)); err != nil && ctx.Err() == nil {
		w.log.Warn("tally: release shard lease", "shard", idx, "err", err)
	}
	if o.leaving {
		w.log.Info("tally: shard handed off", "shard", idx)
	}
}

// round renews this node's leases, then takes, keeps or hands off each
// shard index by where rendezvous hashing places it among the members.
func (w *Worker) round(ctx context.Context, held map[int]*owned, free map[int]int, wg *sync.WaitGroup, ended chan<- int) error {
	rctx, cancel := context.WithTimeout(ctx, schema.OwnerLeaseTTL/5)
	defer cancel()
	for idx, o := range held {
		if since := time.Since(o.renewedAt); since > schema.OwnerLeaseTTL*4/5 {
			w.lose(held, idx, fmt.Sprintf("not renewed for %v", since.Round(time.Millisecond)))
			continue
		}
		lost, err := o.renew(rctx, w.kv, idx, w.me)
		if lost {
			w.lose(held, idx, "another node holds it now")
		} else if err != nil {
			return fmt.Errorf("renew shard %d lease: %w", idx, err)
		}
	}
	if err := w.heartbeat(rctx); err != nil {
		return err
	}
	members, owners, err := holders(rctx, w.kv)
	if err != nil {
		return err
	}
	if !slices.Contains(members, w.me.Node) {
		members = append(members, w.me.Node)
	}
	unowned := 0
	for idx := range w.wanted() {
		pref := preferred(members, idx)
		o := held[idx]
		switch {
		case o != nil:
			if pref != w.me.Node && !o.leaving && owners[idx] == w.me.Node {
				o.leaving = true
				o.cancel(errHandOff)
			}
			continue
		case owners[idx] != "" && owners[idx] != w.me.Node:
			free[idx] = 0
			continue
		}
		free[idx]++
		if pref != w.me.Node && free[idx] <= 2 {
			unowned++
			continue
		}
		if !w.take(ctx, rctx, held, idx, wg, ended) {
			unowned++
		}
	}
	w.unowned.Store(int64(unowned))
	return nil
}

// take leases a free shard index and starts its runner.
func (w *Worker) take(ctx, rctx context.Context, held map[int]*owned, idx int, wg *sync.WaitGroup, ended chan<- int) bool {
	if w.stopping(idx) {
		return false // its last runner here has not finished yet
	}
	l, ok, err := takeLease(rctx, w.kv, idx, w.me)
	if err != nil || !ok {
		return false
	}
	r, err := w.newRunner(rctx, idx)
	if err != nil {
		w.log.Error("tally: start shard", "shard", idx, "err", err)
		_ = w.kv.Delete(rctx, shardKey(idx), jetstream.LastRevision(l.rev))
		return false
	}
	rctx2, cancel := context.WithCancelCause(ctx)
	o := &owned{lease: l, runner: r, cancel: cancel, done: make(chan struct{})}
	held[idx] = o
	wg.Go(func() {
		defer close(o.done)
		r.run(rctx2)
		cancel(nil)
		select {
		case ended <- idx:
		case <-ctx.Done():
		}
	})
	return true
}

// lose stops a runner whose lease is gone, at once and without a flush.
func (w *Worker) lose(held map[int]*owned, idx int, why string) {
	o := held[idx]
	delete(held, idx)
	w.log.Error("tally: lost a shard lease; stopped folding it without a flush", "shard", idx, "why", why)
	o.cancel(errLeaseLost)
	w.runnersMu.Lock()
	w.stopped[idx] = o.done
	w.runnersMu.Unlock()
	w.forget(o.runner)
}

// stopping reports whether a runner of idx that lost its lease is still
// winding down here.
func (w *Worker) stopping(idx int) bool {
	w.runnersMu.Lock()
	defer w.runnersMu.Unlock()
	done, ok := w.stopped[idx]
	if !ok {
		return false
	}
	select {
	case <-done:
		delete(w.stopped, idx)
		return false
	default:
		return true
	}
}

// preferred is the member rendezvous hashing places shard index idx on.
func preferred(members []string, idx int) string {
	var best string
	var score uint64
	for _, m := range members {
		if s := xxhash.Sum64String(m + "/" + strconv.Itoa(idx)); best == "" || s > score {
			best, score = m, s
		}
	}
	return best
}

// Owns reports whether this node folds shard index idx now, settled: its
// store answers for it.
func (w *Worker) Owns(idx int) bool {
	w.runnersMu.Lock()
	r := w.runners[idx]
	w.runnersMu.Unlock()
	return r != nil && r.settled.Load()
}

func (w *Worker) forget(r *shardRunner) {
	w.runnersMu.Lock()
	if w.runners[r.idx] == r {
		delete(w.runners, r.idx)
	}
	w.runnersMu.Unlock()
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
