package tally

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// LastSnapshots reads the newest snapshot of every shard of a poll: what
// broadcast nodes show its viewers, keyed by subject. One direct read per
// shard, no consumer.
func LastSnapshots(ctx context.Context, js jetstream.JetStream, poll schema.Poll) (map[string]schema.Snapshot, error) {
	stream, err := js.Stream(ctx, schema.TallyStream)
	if err != nil {
		return nil, fmt.Errorf("read published totals of %s: %w", poll.ID, err)
	}
	out := map[string]schema.Snapshot{}
	for shard := range poll.Shards {
		subj := schema.SnapshotSubject(poll.ID, shard)
		m, err := stream.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read published totals of %s: %w", poll.ID, err)
		}
		if s, err := schema.DecodeSnapshot(m.Data); err == nil {
			out[subj] = s
		}
	}
	return out, nil
}

// SumSnapshots adds up the published counts of a poll's shards.
func SumSnapshots(snaps map[string]schema.Snapshot, poll schema.Poll) []int64 {
	out := make([]int64, len(poll.Options))
	for shard := range poll.Shards {
		for i, c := range snaps[schema.SnapshotSubject(poll.ID, shard)].Counts {
			if i < len(out) {
				out[i] += c
			}
		}
	}
	return out
}

// staleShards finds, per shard index, the polls whose published snapshot
// is not what the store holds: a snapshot lost in a crash, or published
// from a state the crash cut short. Their runners load them at once and
// republish, so viewers see the true totals without waiting for a vote.
func (w *Worker) staleShards(ctx context.Context) (map[int][]string, error) {
	stale := map[int][]string{}
	for _, p := range w.opts.Polls.List() {
		if p.State == schema.Draft {
			continue
		}
		snaps, err := LastSnapshots(ctx, w.opts.JS, p)
		if err != nil {
			return stale, err
		}
		hs, err := w.opts.Store.Headers(ctx, p.ID)
		if err != nil {
			return stale, fmt.Errorf("read stored headers of %s: %w", p.ID, err)
		}
		for _, h := range hs {
			s, ok := snaps[schema.SnapshotSubject(p.ID, h.Shard)]
			if !ok || s.Seq != h.LastSeq || s.Closed != h.Closed || !slices.Equal(s.Counts, h.Counts) {
				stale[h.Shard] = append(stale[h.Shard], p.ID)
			}
		}
	}
	return stale, nil
}
