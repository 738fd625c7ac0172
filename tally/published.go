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

// stalePolls finds the polls whose published snapshot of shard index idx
// is not what the store holds: a snapshot lost in a crash, or published
// from a state the crash cut short. The runner loads them at once and
// republishes, so viewers see the true totals without waiting for a vote.
// A poll it cannot read is left to the events that come.
func (w *Worker) stalePolls(ctx context.Context, idx int) []string {
	stream, err := w.opts.JS.Stream(ctx, schema.TallyStream)
	if err != nil {
		return nil
	}
	var stale []string
	for _, p := range w.opts.Polls.List() {
		if p.State == schema.Draft || idx >= p.Shards {
			continue
		}
		hs, err := w.opts.Store.Headers(ctx, p.ID)
		if err != nil {
			w.log.Warn("tally: compare published totals with the store; they are repaired as events come", "poll", p.ID, "err", err)
			return stale
		}
		i := slices.IndexFunc(hs, func(h ShardHeader) bool { return h.Shard == idx })
		if i < 0 {
			continue
		}
		h := hs[i]
		var s schema.Snapshot
		m, err := stream.GetLastMsgForSubject(ctx, schema.SnapshotSubject(p.ID, idx))
		if err == nil {
			s, _ = schema.DecodeSnapshot(m.Data)
		}
		if s.Seq != h.LastSeq || s.Closed != h.Closed || !slices.Equal(s.Counts, h.Counts) {
			stale = append(stale, p.ID)
		}
	}
	return stale
}
