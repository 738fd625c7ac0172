package tally_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// TestSecondTallyRefusesToStart: a second process on the same NATS must
// not take the shards: it refuses, naming the owner, and the first goes
// on counting exactly.
func TestSecondTallyRefusesToStart(t *testing.T) {
	r := newRig(t)
	stop := r.run(t, r.store)
	defer stop()
	r.publish(t, 0, 100)
	other, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	w2, err := tally.NewWorker(tally.Options{JS: r.js, NC: r.nc, Store: other, Polls: staticPolls{r.poll.ID: r.poll}, MinShards: 2, NodeID: "second-node"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w2.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, tally.ErrShardsHeld) || !strings.Contains(err.Error(), "node test-node") {
			t.Fatalf("second tally: %v, want ErrShardsHeld naming node test-node", err)
		}
	case <-ctx.Done():
		t.Fatal("the second tally started folding instead of refusing")
	}
	r.publish(t, 100, 100)
	want, _ := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	r.waitStored(t, want.Counts)
	r.waitPublished(t)
	if got, _ := tally.StoredTotals(context.Background(), other, r.poll.ID); len(got.Counts) != 0 {
		t.Fatalf("the refused tally stored %v", got.Counts)
	}
}
