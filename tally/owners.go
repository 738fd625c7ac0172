package tally

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/parts"
	"github.com/votecast/votecast/schema"
)

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
	w.log.Info("tally: took shard", "shard", idx, "from_checkpoint", r.position)
	rctx2, cancel := context.WithCancelCause(ctx)
	o := &owned{lease: l, runner: r, cancel: cancel, done: make(chan struct{})}
	held[idx] = o
	wg.Go(func() {
		defer close(o.done)
		parts.Do(parts.Fold, func() { r.run(rctx2) })
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
	w.log.Error("tally: lost a shard lease; stopped folding it without a flush", "shard", idx, "why", why, "folded", o.runner.folded.Load())
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
