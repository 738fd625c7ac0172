package tally

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/votecast/votecast/schema"
)

// PollSource gives the tally poll definitions (the policy to fold under).
type PollSource interface {
	WaitFor(ctx context.Context, id string, cond func(schema.Poll) bool) (schema.Poll, error)
}

// Options configures a Worker. JS, NC, Store and Polls are required.
type Options struct {
	JS    jetstream.JetStream
	NC    *nats.Conn // publishes snapshots
	Store Store
	Polls PollSource
	// Shards are the shard indices this worker owns; zero value: all of
	// 0..schema.DefaultShards-1. Each index must be owned by one worker.
	Shards []int
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

// Worker folds the shards it owns. Run it once.
type Worker struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
}

// NewWorker validates opts and returns a Worker.
func NewWorker(opts Options) (*Worker, error) {
	if opts.JS == nil || opts.NC == nil || opts.Store == nil || opts.Polls == nil {
		return nil, errors.New("new tally worker: JS, NC, Store and Polls are required")
	}
	if len(opts.Shards) == 0 {
		for i := range schema.DefaultShards {
			opts.Shards = append(opts.Shards, i)
		}
	}
	for _, s := range opts.Shards {
		if s < 0 || s >= schema.MaxShards {
			return nil, fmt.Errorf("new tally worker: shard %d out of range", s)
		}
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
	return &Worker{opts: opts, log: opts.Logger.With("role", "tally"), metrics: newMetrics(opts.Registerer)}, nil
}

// ConsumerName is the durable consumer of a shard index.
func ConsumerName(shard int) string { return "tally-" + strconv.Itoa(shard) }

// Run folds until ctx is cancelled, then flushes what it folded, acks it
// and returns. It returns early only if a consumer cannot be set up.
func (w *Worker) Run(ctx context.Context) error {
	runners := make([]*shardRunner, 0, len(w.opts.Shards))
	for _, idx := range w.opts.Shards {
		cons, err := w.claim(ctx, idx)
		if err != nil {
			return err
		}
		runners = append(runners, &shardRunner{w: w, idx: idx, cons: cons, polls: map[string]*PollShard{}})
	}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() { r.run(ctx) })
	}
	wg.Wait()
	return nil
}

func consumerConfig(idx int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(idx),
		FilterSubject: schema.ShardFilter(idx),
		AckPolicy:     jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Held acks during a store outage must not turn into a
		// redelivery storm: redelivered events are skipped anyway.
		AckWait:       2 * time.Minute,
		MaxAckPending: 200_000,
	}
}

// claim takes ownership of a shard's durable consumer. If a previous owner
// died with events delivered but unacked, JetStream would send new events
// now and the old ones only after AckWait, out of order, and a user's
// second vote could be folded before the first. So the new owner recreates
// the consumer at the ack floor: everything after it comes again, in log
// order, and what the old owner already flushed is skipped as a replay.
func (w *Worker) claim(ctx context.Context, idx int) (jetstream.Consumer, error) {
	cfg := consumerConfig(idx)
	cons, err := w.opts.JS.Consumer(ctx, schema.VotesStream, cfg.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return nil, fmt.Errorf("tally: claim shard %d: %w", idx, err)
	default:
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("tally: claim shard %d: %w", idx, err)
		}
		if info.NumAckPending == 0 {
			return cons, nil
		}
		w.log.Info("tally: previous owner left events unacked; replaying from the ack floor in order",
			"shard", idx, "ack_floor", info.AckFloor.Stream, "unacked", info.NumAckPending)
		if err := w.opts.JS.DeleteConsumer(ctx, schema.VotesStream, cfg.Durable); err != nil {
			return nil, fmt.Errorf("tally: claim shard %d: reset consumer: %w", idx, err)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
	}
	cons, err = w.opts.JS.CreateOrUpdateConsumer(ctx, schema.VotesStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("tally: set up consumer for shard %d: %w", idx, err)
	}
	return cons, nil
}

// Lag is how many events of the given shards the tally has not yet made
// durable: delivered-but-unacked plus not yet delivered.
func Lag(ctx context.Context, js jetstream.JetStream, shards int) (uint64, error) {
	var total uint64
	for i := range shards {
		c, err := js.Consumer(ctx, schema.VotesStream, ConsumerName(i))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("tally lag: shard %d: %w", i, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("tally lag: shard %d: %w", i, err)
		}
		total += info.NumPending + uint64(info.NumAckPending)
	}
	return total, nil
}
