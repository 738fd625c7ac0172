package tally_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// loggedEvent is a vote the test appended, with its stream sequence.
type loggedEvent struct {
	seq  uint64
	user string
	f    schema.VoteFrame
}

// TestStopMidReplayCheckpointsNoGap stops a worker again and again while
// its shards are still reading a long log. Once its context ends, a
// shard's reader may drop events it was handing over; the runner must
// then fold nothing more and checkpoint nothing past what it folded,
// else the next owner starts after an event nobody counted (a chaos run
// lost a vote so: the paused node kept folding the events its reader
// still passed on after its lease was gone, flushed, and later resumed
// from that checkpoint). Whatever checkpoint each shard index ends with,
// the store must hold exactly the fold of the log up to it.
func TestStopMidReplayCheckpointsNoGap(t *testing.T) {
	r := newRig(t)
	events := map[int][]loggedEvent{}
	for i := range 6000 {
		user := fmt.Sprintf("u%d", i%997)
		f := schema.VoteFrame{ID: fmt.Sprintf("k%d", i), Option: i % 3, Count: 1}
		shard := schema.ShardOf(user, r.poll.Shards)
		ack, err := r.js.Publish(context.Background(), schema.VoteSubject(r.poll.ID, shard), schema.AppendVoteEvent(nil, user, f))
		if err != nil {
			t.Fatal(err)
		}
		events[shard] = append(events[shard], loggedEvent{ack.Sequence, user, f})
	}
	checkpoint := func(shard int) uint64 {
		cp, err := r.store.LoadCheckpoint(context.Background(), shard)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	for round := 0; ; round++ {
		before := map[int]uint64{}
		for shard := range r.poll.Shards {
			before[shard] = checkpoint(shard)
		}
		done := true
		for shard, evs := range events {
			done = done && before[shard] >= evs[len(evs)-1].seq
		}
		if done || round == 50 {
			break
		}
		stop := r.run(t, r.store)
		// Stop as soon as some index has moved: mid-replay.
		await.For(t, 30*time.Second, func() string {
			for shard := range r.poll.Shards {
				if checkpoint(shard) > before[shard] {
					return ""
				}
			}
			return "no shard index checkpointed anything"
		})
		stop()
		for shard := range r.poll.Shards {
			cp := checkpoint(shard)
			st, err := r.store.LoadShard(context.Background(), r.poll.ID, shard)
			if err != nil {
				t.Fatal(err)
			}
			got := tally.LoadPollShard(st, &r.poll).Counts
			want := tally.NewPollShard(r.poll.ID, shard, len(r.poll.Options))
			for _, e := range events[shard] {
				if e.seq <= cp {
					want.Apply(&r.poll, e.seq, schema.Event{User: e.user, Option: e.f.Option, Count: e.f.Count, ClientKey: e.f.ID})
				}
			}
			if !slices.Equal(got, want.Counts) {
				t.Fatalf("round %d, shard index %d: stored %v at checkpoint %d, but the log up to it folds to %v", round, shard, got, cp, want.Counts)
			}
		}
	}
}
