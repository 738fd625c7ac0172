package tally_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/embedded"
	"github.com/votecast/votecast/tally"
)

// waitPublished waits until what viewers are shown (the newest snapshot
// of each shard) adds up to a recount of the log.
func (r *rig) waitPublished(t *testing.T) {
	t.Helper()
	want, err := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	await.For(t, 10*time.Second, func() string {
		snaps, err := tally.LastSnapshots(context.Background(), r.js, r.poll)
		if err != nil {
			return err.Error()
		}
		if got := tally.SumSnapshots(snaps, r.poll); !slices.Equal(got, want.Counts) {
			return fmt.Sprintf("published totals %v, log says %v", got, want.Counts)
		}
		return ""
	})
}

// loseSnapshots plays a crash that lost the newest snapshots: each
// shard's last published one is an old, empty one.
func (r *rig) loseSnapshots(t *testing.T) {
	t.Helper()
	for shard := range r.poll.Shards {
		stale := schema.Snapshot{Poll: r.poll.ID, Shard: shard, Seq: 1, Counts: []int64{0, 0, 0}}
		if err := r.nc.Publish(schema.SnapshotSubject(r.poll.ID, shard), schema.EncodeSnapshot(stale)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestLostSnapshotIsRepublishedAtStart plays a crash that lost the last
// snapshots after the flush: store and log agree, nothing is pending, and
// a new owner must still put the true totals in front of viewers without
// waiting for a new vote.
func TestLostSnapshotIsRepublishedAtStart(t *testing.T) {
	r := newRig(t)
	stop := r.run(t, r.store)
	r.publish(t, 0, 120)
	want, _ := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	r.waitStored(t, want.Counts)
	stop()
	r.loseSnapshots(t)
	stop = r.run(t, r.store)
	defer stop()
	r.waitPublished(t)
}

// TestSnapshotTheStreamDidNotTakeIsPublishedAgain: while the TALLY stream
// refuses snapshots (here: a message size limit below theirs; in a
// cluster, a stream whose leader was killed) the snapshots of a burst of
// votes are lost; once it takes them again, viewers must be shown the
// true totals without waiting for another vote.
func TestSnapshotTheStreamDidNotTakeIsPublishedAgain(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	limit := func(size int32) {
		t.Helper()
		st, err := r.js.Stream(ctx, schema.TallyStream)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		cfg.MaxMsgSize = size
		if _, err := r.js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	limit(8)
	stop := r.run(t, r.store)
	defer stop()
	r.publish(t, 0, 60)
	want, _ := tally.RecountFromLog(ctx, r.js, r.poll, time.Time{})
	r.waitStored(t, want.Counts)
	if snaps, _ := tally.LastSnapshots(ctx, r.js, r.poll); len(snaps) != 0 {
		t.Fatalf("the stream took %d snapshots over its size limit", len(snaps))
	}
	limit(schema.MaxSnapshotBytes)
	r.waitPublished(t)
}

// TestForgedSnapshotDoesNotFreezeAShard: a snapshot whose sequence is
// beyond the end of the log cannot be the tally's; a new owner replaces it
// instead of waiting behind it forever.
func TestForgedSnapshotDoesNotFreezeAShard(t *testing.T) {
	r := newRig(t)
	stop := r.run(t, r.store)
	r.publish(t, 0, 60)
	want, _ := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	r.waitStored(t, want.Counts)
	stop()
	forged := schema.Snapshot{Poll: r.poll.ID, Shard: 0, Seq: 1 << 62, Counts: []int64{1_000_000, 0, 0}}
	if err := r.nc.Publish(schema.SnapshotSubject(r.poll.ID, 0), schema.EncodeSnapshot(forged)); err != nil {
		t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	stop = r.run(t, r.store)
	defer stop()
	r.waitPublished(t)
}

// TestCrashMidFlushPublishesOnlyTrueTotals: after a flush cut in half (and
// the newest snapshots lost) the new owner's state is a mix until its
// replay passes the stored ballots; a snapshot of that mix, published with
// the newest sequence, would stay in front of viewers for good.
func TestCrashMidFlushPublishesOnlyTrueTotals(t *testing.T) {
	r := newRig(t)
	r.crashMidFlush(t, 400)
	r.loseSnapshots(t)
	seen := make(chan schema.Snapshot, 10_000)
	sub, err := r.nc.Subscribe("tally."+r.poll.ID+".*", func(m *nats.Msg) {
		if s, err := schema.DecodeSnapshot(m.Data); err == nil {
			seen <- s
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	stop := r.run(t, r.store)
	defer stop()
	want, _ := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	r.waitStored(t, want.Counts)
	r.waitPublished(t)
	// Every snapshot the new owner published is the fold of its shard's
	// log up to the snapshot's sequence: never an in-between state.
	truth := r.foldBySeq(t)
	for len(seen) > 0 {
		s := <-seen
		if got := truth(s.Shard, s.Seq); !slices.Equal(s.Counts, got) {
			t.Fatalf("shard %d published %v at seq %d; the log says %v there", s.Shard, s.Counts, s.Seq, got)
		}
	}
}

// foldBySeq folds the poll's log once and returns what each shard's
// counts were as of any sequence.
func (r *rig) foldBySeq(t *testing.T) func(shard int, seq uint64) []int64 {
	t.Helper()
	type point struct {
		seq    uint64
		counts []int64
	}
	history := map[int][]point{}
	shards := map[int]*tally.PollShard{}
	cons, err := r.js.OrderedConsumer(context.Background(), schema.VotesStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"votes." + r.poll.ID + ".*"}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := cons.Info(context.Background())
	for n := info.NumPending; n > 0; n-- {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		meta, _ := m.Metadata()
		_, shard, _ := schema.ParseVoteSubject(m.Subject())
		ev, _ := schema.DecodeEvent(m.Data())
		ps := shards[shard]
		if ps == nil {
			ps = tally.NewPollShard(r.poll.ID, shard, len(r.poll.Options))
			shards[shard] = ps
		}
		ps.Apply(&r.poll, meta.Sequence.Stream, ev)
		history[shard] = append(history[shard], point{meta.Sequence.Stream, slices.Clone(ps.Counts)})
	}
	return func(shard int, seq uint64) []int64 {
		out := make([]int64, len(r.poll.Options))
		for _, p := range history[shard] {
			if p.seq <= seq {
				out = p.counts
			}
		}
		return out
	}
}

// startWorker runs a tally node with its own store and node id, and its
// stored-totals answers, until the returned stop.
func (r *rig) startWorker(t *testing.T, st tally.Store, node string) (stop func()) {
	t.Helper()
	w, err := tally.NewWorker(tally.Options{JS: r.js, Store: st, Polls: staticPolls{r.poll.ID: r.poll}, MinShards: r.poll.Shards, MaxBatch: 50, NodeID: node})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := w.ServeStored(r.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	return func() { cancel(); <-done; _ = sub.Unsubscribe() }
}

// waitGathered waits until the stored totals gathered from every tally
// node's own shards equal a recount of the log.
func (r *rig) waitGathered(t *testing.T) {
	t.Helper()
	want, err := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	await.For(t, 30*time.Second, func() string {
		got, err := tally.AskStored(context.Background(), r.nc, r.poll)
		if err != nil {
			return err.Error()
		}
		if !slices.Equal(got.Counts, want.Counts) {
			return fmt.Sprintf("gathered stored totals %v, log says %v", got.Counts, want.Counts)
		}
		return ""
	})
	r.waitPublished(t)
}

// TestTalliesShareAndMoveShards: two tally nodes with a store each split
// the shard indices; when one leaves its indices move to the other, which
// rebuilds them from the log; when it comes back they move back. Through
// all of it the gathered stored totals and the published totals equal a
// recount, and no index is folded by two nodes into one total.
func TestTalliesShareAndMoveShards(t *testing.T) {
	r := newRig(t)
	r.poll.Shards = 8
	r.poll.VotesPerUser = 100 // every event counts, so a missed one shows
	storeB, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer storeB.Close()
	stopA := r.startWorker(t, r.store, "node-a")
	defer func() { stopA() }()
	stopB := r.startWorker(t, storeB, "node-b")
	r.publish(t, 0, 300)
	r.waitGathered(t)
	r.waitOwners(t, "node-a", "node-b")
	stopB() // a graceful leave: its shards move to node-a
	r.waitOwners(t, "node-a")
	r.publish(t, 300, 200)
	r.waitGathered(t)
	// Back: node-b's store is behind on its shards by what node-a folded
	// meanwhile, and must catch up from its own checkpoint.
	stopB = r.startWorker(t, storeB, "node-b")
	defer func() { stopB() }()
	r.waitOwners(t, "node-a", "node-b")
	r.publish(t, 500, 200)
	r.waitGathered(t)
}

// waitOwners waits until every shard index has an owner and the owners
// are exactly the given nodes.
func (r *rig) waitOwners(t *testing.T, nodes ...string) {
	t.Helper()
	kv, err := r.js.KeyValue(context.Background(), schema.OwnersBucket)
	if err != nil {
		t.Fatal(err)
	}
	await.For(t, 20*time.Second, func() string {
		owners := map[string]int{}
		for idx := range r.poll.Shards {
			e, err := kv.Get(context.Background(), fmt.Sprintf("shard.%d", idx))
			if err != nil {
				return fmt.Sprintf("shard %d has no owner: %v", idx, err)
			}
			var h tally.Holder
			_ = json.Unmarshal(e.Value(), &h)
			owners[h.Node]++
		}
		for _, n := range nodes {
			if owners[n] == 0 {
				return fmt.Sprintf("shards per node %v, want each of %v to own some", owners, nodes)
			}
		}
		if len(owners) != len(nodes) {
			return fmt.Sprintf("shards per node %v, want only %v", owners, nodes)
		}
		return ""
	})
}

// TestLateSnapshotOfAPausedOwnerIsOverwritten: an owner paused with a
// snapshot in its connection's buffer sends it when it wakes, long after
// its shards moved. The stream keeps the last snapshot of a subject, so
// that stale one would be what a broadcast node starting now shows, and
// on a poll that gets no more votes nothing would replace it. The owner
// looks again and publishes its own.
func TestLateSnapshotOfAPausedOwnerIsOverwritten(t *testing.T) {
	r := newRig(t)
	stop := r.run(t, r.store)
	defer stop()
	r.publish(t, 0, 60)
	r.waitPublished(t)
	late := schema.Snapshot{Poll: r.poll.ID, Shard: 0, Seq: 1, Counts: []int64{0, 0, 0}}
	if err := r.nc.Publish(schema.SnapshotSubject(r.poll.ID, 0), schema.EncodeSnapshot(late)); err != nil {
		t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r.waitPublished(t)
}
