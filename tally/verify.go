package tally

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/votecast/votecast/schema"
)

// publishedCheckEvery is how often a runner reads back the newest snapshot
// of each poll shard it published. The TALLY stream keeps the last message
// of a subject, not the one with the highest sequence: a snapshot sent late
// by an owner that was paused (its connection's buffer flushed when it
// woke, long after its shards moved) would stand there in place of the
// true one. Broadcast nodes already running ignore it (they keep the
// highest sequence), but one starting later, and recount, read it, and on
// a poll that gets no more votes nothing else would replace it. One direct
// read per poll shard per check.
const publishedCheckEvery = 5 * time.Second

// publishedCheck is a poll shard and the snapshot this runner last
// published of it, as it was when the check began.
type publishedCheck struct {
	ps   *PollShard
	want schema.Snapshot
}

// checkPublished reads back, off the runner's goroutine, the newest
// snapshot of every settled poll shard this runner published or loaded,
// and sends the ones the stream holds something else for (nil: none).
// The channel gets exactly one value.
func (r *shardRunner) checkPublished(ctx context.Context) <-chan []publishedCheck {
	var checks []publishedCheck
	for _, ps := range r.polls {
		if ps.settleAt > r.position || ps.published.Counts == nil {
			continue
		}
		want := ps.published
		want.Counts = slices.Clone(want.Counts)
		checks = append(checks, publishedCheck{ps: ps, want: want})
	}
	out := make(chan []publishedCheck, 1)
	if len(checks) == 0 {
		out <- nil
		return out
	}
	go func() {
		var differ []publishedCheck
		defer func() { out <- differ }()
		stream, err := r.w.opts.JS.Stream(ctx, schema.TallyStream)
		if err != nil {
			return // the next check tries again
		}
		for _, c := range checks {
			m, err := stream.GetLastMsgForSubject(ctx, schema.SnapshotSubject(c.want.Poll, c.want.Shard))
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue // lost or unreadable: the next check, or the reap, sees to it
			}
			if s, err := schema.DecodeSnapshot(m.Data); err != nil || !sameSnapshot(s, c.want) {
				differ = append(differ, c)
			}
		}
	}()
	return out
}

// repairPublished owes a snapshot again for each poll shard whose newest
// one in the stream was not this runner's, unless the runner published
// since the check began (that newer one may simply not have been stored
// yet). It reports whether any is owed.
func (r *shardRunner) repairPublished(differ []publishedCheck, log *slog.Logger) bool {
	owed := false
	for _, c := range differ {
		if r.polls[c.ps.Poll] != c.ps || !sameSnapshot(c.ps.published, c.want) {
			continue
		}
		log.Warn("tally: the stream's newest snapshot is not this owner's (a late one from a node that was paused?); publishing again",
			"poll", c.ps.Poll, "shard", c.ps.Shard, "seq", c.want.Seq)
		c.ps.published.Counts = nil // publish even though nothing changed
		r.owed[c.ps] = struct{}{}
		owed = true
	}
	return owed
}

func sameSnapshot(a, b schema.Snapshot) bool {
	return a.Seq == b.Seq && a.Closed == b.Closed && slices.Equal(a.Counts, b.Counts)
}
