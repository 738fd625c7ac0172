package tally

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/schema"
)

// shardRunner is the one goroutine that owns a shard index: every poll's
// shard with that index, and its checkpoint. It reads the log in order
// with an ordered consumer from the store's checkpoint, so no consumer
// state outlives it and nothing can be delivered out of order. Flushes run
// beside it, one at a time, on copies of the changed ballots, so folding
// and live totals go on while the store is slow or down.
type shardRunner struct {
	w     *Worker
	idx   int
	polls map[string]*PollShard
	// owed are the poll shards whose published snapshot may be behind
	// their counts: a snapshot is owed once they are settled.
	owed map[*PollShard]struct{}
	// sent are snapshots published and not yet acknowledged by the TALLY
	// stream: one that fails is owed again, so a snapshot lost while the
	// stream has no leader does not leave viewers behind until the next
	// vote on its shard.
	sent            []sentSnapshot
	snapshotFailing bool // logged once per outage
	// eager are polls to load before the first event: their published
	// totals disagree with the store (see Worker.staleShards).
	eager []string
	// position is the stream sequence of the last event this runner has
	// folded, or at start the store's checkpoint (every event at or below
	// it is durably folded).
	position uint64
	// checkpoint is the last position saved to the store.
	checkpoint uint64
	// pending is how many events of the index the log held past the last
	// one folded, and unflushed how many were folded since the last
	// checkpoint: together the runner's lag.
	pending, unflushed atomic.Int64
	// settled is !unsettled(), for other goroutines (Worker.Owns).
	settled atomic.Bool
	// folded is position, for other goroutines (the logs of a lost lease).
	folded  atomic.Uint64
	failing bool // the store is refusing flushes; logged once per outage
}

type sentSnapshot struct {
	ps  *PollShard
	fut jetstream.PubAckFuture
	at  time.Time
}

// flushResult is a finished background flush: the position it covers.
type flushResult struct {
	err      error
	position uint64
	events   int64
	updates  []ShardUpdate
}

func (r *shardRunner) run(ctx context.Context) {
	log := r.w.log.With("shard", r.idx)
	max := r.w.opts.MaxBatch
	r.owed = map[*PollShard]struct{}{}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{schema.ShardFilter(r.idx)}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if r.position > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, r.position+1
	}
	cons, err := r.w.opts.JS.OrderedConsumer(ctx, schema.VotesStream, cfg)
	if err != nil {
		log.Error("tally: read the log", "err", err)
		return
	}
	msgs := make(chan jetstream.Msg, max)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(max), jetstream.PullHeartbeat(schema.ConsumerHeartbeat), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			// The ordered consumer starts again after the last event it
			// delivered; said at info, for a chaos run's log to be read.
			log.Info("tally: no heartbeat from the log; reading it again from the last event delivered", "folded", r.folded.Load())
		default:
			log.Warn("tally: read the log", "err", err)
		}
	}))
	if err != nil {
		log.Error("tally: read the log", "err", err)
		return
	}
	defer cc.Stop()
	for _, id := range r.eager {
		if _, _, ok := r.pollShard(ctx, id); !ok {
			return
		}
	}
	r.publishSnapshots()
	r.settled.Store(!r.unsettled())
	var (
		done     = make(chan flushResult, 1)
		flushing bool
		wait     = storeBackoff()
		retry    <-chan time.Time
	)
	reap := time.NewTicker(snapshotReap)
	defer reap.Stop()
	verify := time.NewTicker(publishedCheckEvery)
	defer verify.Stop()
	var checked <-chan []publishedCheck // a check in flight (verify.go)
	defer func() {
		if checked != nil {
			<-checked // it ends with ctx
		}
	}()
	startFlush := func() {
		if flushing || retry != nil || r.unsettled() {
			return
		}
		updates := r.changes()
		if len(updates) == 0 && r.position == r.checkpoint {
			return
		}
		flushing = true
		res := flushResult{position: r.position, events: r.unflushed.Load(), updates: updates}
		go parts.Do(parts.Flush, func() { res.err = r.write(ctx, res); done <- res })
	}
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), errLeaseLost) {
				// Another process may own the shards now: no flush and no
				// snapshot from here. It replays from the checkpoint.
				if flushing {
					<-done
				}
				return
			}
			if flushing {
				r.settle(<-done, log)
			}
			r.finish(log)
			return
		case m := <-msgs:
			batch := append(make([]jetstream.Msg, 0, 64), m)
		drain:
			for len(batch) < max {
				select {
				case m := <-msgs:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			if r.foldBatch(ctx, batch) {
				r.publishSnapshots()
			}
			r.settled.Store(!r.unsettled())
		case res := <-done:
			flushing = false
			if !r.settle(res, log) {
				retry = time.After(wait.NextBackOff())
				continue
			}
			wait.Reset()
		case <-retry:
			retry = nil
		case <-reap.C:
			// Also retries what PublishAsync refused outright (too many
			// pending), which never reached sent.
			if r.reapSnapshots(log) || len(r.owed) > 0 {
				r.publishSnapshots()
			}
		case <-verify.C:
			if checked == nil {
				checked = r.checkPublished(ctx)
			}
		case differ := <-checked:
			checked = nil
			if r.repairPublished(differ, log) {
				r.publishSnapshots()
			}
		}
		if ctx.Err() == nil {
			startFlush() // once ctx has ended, only finish flushes
		}
	}
}

// unsettled reports whether a poll shard is still replaying what a crash
// cut short: its counts are not a true fold of the log yet, so no header
// of it may be written (a header is ordered by its sequence alone) and
// the checkpoint may not pass it.
func (r *shardRunner) unsettled() bool {
	for _, ps := range r.polls {
		if ps.settleAt > r.position {
			return true
		}
	}
	return false
}

// settle handles a finished flush: move the checkpoint to what it
// covered, or put its changes back to be written again. It reports
// success.
func (r *shardRunner) settle(res flushResult, log *slog.Logger) bool {
	if res.err != nil {
		for _, u := range res.updates {
			r.polls[u.Header.Poll].redirty(u.Ballots)
		}
		if !r.failing {
			log.Error("tally: flush failed; counting goes on, the checkpoint waits until the store is back", "err", res.err)
			r.failing = true
		}
		r.w.metrics.flushErrors.Inc()
		return false
	}
	if r.failing {
		log.Info("tally: store is back, flushes caught up")
		r.failing = false
	}
	r.checkpoint = res.position
	r.unflushed.Add(-res.events)
	return true
}

// finish flushes what was folded and saves the checkpoint, with a fresh
// deadline because the run's context is already done.
func (r *shardRunner) finish(log *slog.Logger) {
	if r.unsettled() {
		log.Info("tally: stopped while replaying; the next owner replays from the checkpoint")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := flushResult{position: r.position, events: r.unflushed.Load(), updates: r.changes()}
	if res.err = r.write(ctx, res); res.err != nil {
		log.Error("tally: final flush failed; the next owner replays from the checkpoint", "err", res.err)
		return
	}
	r.settle(res, log)
}

// foldBatch folds every message; false when ctx ended before the end.
// Nothing is folded once ctx has ended: from then on the reader's
// callback may drop a message (its select picks at random between handing
// it over and ctx.Done) and still hand over later ones, and folding those
// would move the position, and the checkpoint the final flush saves, past
// an event nobody folded.
func (r *shardRunner) foldBatch(ctx context.Context, batch []jetstream.Msg) bool {
	for _, m := range batch {
		if ctx.Err() != nil || !r.fold(ctx, m) {
			return false
		}
		if meta, err := m.Metadata(); err == nil {
			r.position = meta.Sequence.Stream
			r.folded.Store(r.position)
			r.pending.Store(int64(meta.NumPending))
		}
		r.unflushed.Add(1)
	}
	return true
}

func (r *shardRunner) fold(ctx context.Context, m jetstream.Msg) bool {
	meta, err := m.Metadata()
	if err != nil {
		r.w.log.Error("tally: skip message without metadata", "subject", m.Subject(), "err", err)
		return true
	}
	id, shard, ok := schema.ParseVoteSubject(m.Subject())
	if !ok || shard != r.idx {
		r.w.log.Error("tally: skip message on unexpected subject", "subject", m.Subject())
		return true
	}
	ev, err := schema.DecodeEvent(m.Data())
	if err != nil {
		r.w.log.Error("tally: skip undecodable event", "subject", m.Subject(), "seq", meta.Sequence.Stream, "err", err)
		r.w.metrics.outcomes.WithLabelValues(Invalid.String()).Inc()
		return true
	}
	ps, poll, ok := r.pollShard(ctx, id)
	if !ok {
		return false
	}
	out := ps.Apply(&poll, meta.Sequence.Stream, ev)
	r.w.metrics.outcomes.WithLabelValues(out.String()).Inc()
	if out == Counted || out == Marker {
		r.owed[ps] = struct{}{}
	}
	return true
}

// pollShard returns the in-memory shard of a poll, loading it from the
// store on first use. It holds the shard (ok false only when ctx ends)
// until it has both the poll's definition and its stored ballots: skipping
// the event would let a later ack cover it, and folding without the stored
// ballots would count a replay twice.
func (r *shardRunner) pollShard(ctx context.Context, id string) (*PollShard, schema.Poll, bool) {
	var poll schema.Poll
	for {
		wctx, cancel := context.WithTimeout(ctx, r.w.opts.PollWait)
		p, err := r.w.opts.Polls.WaitFor(wctx, id, func(schema.Poll) bool { return true })
		cancel()
		if err == nil {
			poll = p
			break
		}
		if ctx.Err() != nil {
			return nil, poll, false
		}
		r.w.log.Error("tally: an event names a poll this node does not know yet; holding the shard", "poll", id, "shard", r.idx, "waited", r.w.opts.PollWait)
	}
	if ps := r.polls[id]; ps != nil {
		return ps, poll, true
	}
	wait := storeBackoff()
	for tries := 0; ; tries++ {
		st, err := r.w.opts.Store.LoadShard(ctx, id, r.idx)
		if err == nil {
			if tries > 0 {
				r.w.log.Info("tally: loaded shard from store after retries", "poll", id, "shard", r.idx, "tries", tries+1)
			}
			ps := LoadPollShard(st, &poll)
			ps.Poll, ps.Shard = id, r.idx
			if ps.LastSeq > r.position {
				// A flush the crash cut short left ballots past the ack
				// floor: the counts are a true fold of the log only once
				// the replay has passed them.
				ps.settleAt = ps.LastSeq
			}
			if last, ok := r.lastSnapshot(ctx, id); ok {
				ps.published = last
			}
			r.w.log.Info("tally: loaded a poll shard", "poll", id, "shard", r.idx, "at", r.position,
				"last_seq", ps.LastSeq, "ballots", len(ps.Ballots), "counts", ps.Counts, "published_seq", ps.published.Seq)
			r.polls[id] = ps
			r.owed[ps] = struct{}{} // republish what was loaded if the stream lost it
			return ps, poll, true
		}
		if tries == 0 {
			r.w.log.Error("tally: load shard from store; retrying until it answers", "poll", id, "shard", r.idx, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, poll, false
		case <-time.After(wait.NextBackOff()):
		}
	}
}

// lastSnapshot reads the shard's newest published snapshot; ok is false
// when there is none or it cannot be read (then the first snapshot owed
// is published, which running broadcast nodes ignore if it is older).
func (r *shardRunner) lastSnapshot(ctx context.Context, poll string) (schema.Snapshot, bool) {
	stream, err := r.w.opts.JS.Stream(ctx, schema.TallyStream)
	if err != nil {
		return schema.Snapshot{}, false
	}
	m, err := stream.GetLastMsgForSubject(ctx, schema.SnapshotSubject(poll, r.idx))
	if err != nil {
		return schema.Snapshot{}, false
	}
	s, err := schema.DecodeSnapshot(m.Data)
	if err != nil {
		return schema.Snapshot{}, false
	}
	// A snapshot's sequence is that of a vote event folded, so one beyond
	// the log's end is forged (or from a log since recreated): trusting it
	// would freeze the shard's published totals behind it.
	votes, err := r.w.opts.JS.Stream(ctx, schema.VotesStream)
	if err != nil {
		return schema.Snapshot{}, false
	}
	info, err := votes.Info(ctx)
	if err != nil {
		return schema.Snapshot{}, false
	}
	if s.Seq > info.State.LastSeq {
		r.w.log.Warn("tally: ignoring a published snapshot beyond the end of the log", "poll", poll, "shard", r.idx, "seq", s.Seq)
		return schema.Snapshot{}, false
	}
	return s, true
}

const (
	// snapshotReap is how often a runner looks at its unacknowledged
	// snapshots.
	snapshotReap = 250 * time.Millisecond
	// snapshotAckWait is how long a snapshot may go unacknowledged before
	// it counts as lost (a stream without a leader answers nothing).
	snapshotAckWait = 5 * time.Second
)

// publishSnapshots publishes every owed snapshot of a settled poll shard
// that differs from the last one published. A settled shard's counts are
// the fold of the log up to its LastSeq, so a snapshot is never an
// in-between state, and the stream's last snapshot never goes back: the
// runner publishes in order on one connection, and a failed one is
// followed by the poll shard's state at the time of the retry, never by
// the old one.
func (r *shardRunner) publishSnapshots() {
	var again []*PollShard
	for ps := range r.owed {
		if ps.settleAt > r.position {
			continue // still replaying what a crash cut short
		}
		delete(r.owed, ps)
		last := ps.published
		if ps.LastSeq < last.Seq || ps.LastSeq == last.Seq && ps.Closed == last.Closed && slices.Equal(ps.Counts, last.Counts) {
			continue // the replay has not reached what is published, or agrees with it
		}
		s := schema.Snapshot{Poll: ps.Poll, Shard: ps.Shard, Seq: ps.LastSeq, Counts: slices.Clone(ps.Counts), Closed: ps.Closed}
		s.Winners, s.Cutoff = ps.Winners()
		fut, err := r.w.opts.JS.PublishAsync(schema.SnapshotSubject(ps.Poll, ps.Shard), schema.EncodeSnapshot(s))
		if err != nil {
			r.snapshotFailed(err)
			again = append(again, ps)
			continue
		}
		ps.published = s
		r.sent = append(r.sent, sentSnapshot{ps: ps, fut: fut, at: time.Now()})
	}
	for _, ps := range again {
		r.owed[ps] = struct{}{}
	}
}

// reapSnapshots drops the acknowledged snapshots and owes again those the
// stream did not take; it reports whether any is owed again.
func (r *shardRunner) reapSnapshots(log *slog.Logger) (owed bool) {
	kept := r.sent[:0]
	acked := false
	now := time.Now()
	for _, s := range r.sent {
		var err error
		select {
		case <-s.fut.Ok():
			acked = true
			continue
		case err = <-s.fut.Err():
		default:
			if now.Sub(s.at) < snapshotAckWait {
				kept = append(kept, s)
				continue
			}
			err = fmt.Errorf("no PubAck within %v", snapshotAckWait)
		}
		r.snapshotFailed(err)
		// What the stream holds is unknown now: publish the state again
		// even if it has not changed since.
		s.ps.published.Counts = nil
		r.owed[s.ps] = struct{}{}
		owed = true
	}
	clear(r.sent[len(kept):])
	r.sent = kept
	if acked && !owed && r.snapshotFailing {
		r.snapshotFailing = false
		log.Info("tally: snapshots acknowledged again")
	}
	return owed
}

func (r *shardRunner) snapshotFailed(err error) {
	if !r.snapshotFailing {
		r.snapshotFailing = true
		r.w.log.Warn("tally: publish snapshot; retrying until the TALLY stream acknowledges", "shard", r.idx, "err", err)
	}
}

// changes takes every changed poll shard's records for a flush.
func (r *shardRunner) changes() []ShardUpdate {
	var updates []ShardUpdate
	for _, ps := range r.polls {
		if ps.Dirty() || ps.headerDirty {
			updates = append(updates, ShardUpdate{Header: ps.Header(), Ballots: ps.TakeChanges()})
			ps.headerDirty = false
		}
	}
	return updates
}

// write flushes a result's updates to the store, then its checkpoint; it
// runs off the shard goroutine and touches only its argument.
func (r *shardRunner) write(ctx context.Context, res flushResult) error {
	start := time.Now()
	if len(res.updates) > 0 {
		if err := r.w.opts.Store.Flush(ctx, res.updates); err != nil {
			return err
		}
	}
	err := r.w.opts.Store.SaveCheckpoint(ctx, r.idx, res.position)
	r.w.metrics.flushSeconds.Observe(time.Since(start).Seconds())
	return err
}

// storeBackoff paces the retries of a store that refused: from 100ms,
// doubling to 5s, each wait moved at random by up to half of it, so the
// shards of a node (and the nodes) that all met one outage do not retry
// in step when it ends.
func storeBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier, b.RandomizationFactor = 100*time.Millisecond, 5*time.Second, 2, 0.5
	return b
}
