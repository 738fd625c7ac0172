package ingest

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/votecast/votecast/schema"
)

// Ballots tells ingest whether the tally applied a client key in a closed
// poll: the only way to answer a late resend truthfully, since the frame
// may be a vote that reached the log before the close.
type Ballots interface {
	// Applied returns an error when the answer is not known yet (the
	// tally has not counted up to the close, or cannot be reached).
	Applied(ctx context.Context, poll string, shard int, user, clientKey string) (bool, error)
}

// closedVote answers a frame for a poll that no longer takes votes. A
// vote that ends up counted is never answered rejected: while the poll is
// closing its fate is open, so the viewer is told to send it again; once
// closed, the tally says whether this very key was counted in time.
func (v *viewer) closedVote(poll schema.Poll, f schema.VoteFrame) {
	if poll.State == schema.Closing {
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "poll is closing", RetryAfterMS: 1000 + rand.IntN(500)})
		return
	}
	if v.s.opts.Ballots == nil {
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRejected, Reason: "poll is closed"})
		return
	}
	select {
	case v.s.inFlight <- struct{}{}:
	default:
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "busy", RetryAfterMS: 200 + rand.IntN(800)})
		return
	}
	v.s.pending.Add(1)
	go func() {
		defer v.s.pending.Done()
		defer func() { <-v.s.inFlight }()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		applied, err := v.s.opts.Ballots.Applied(ctx, poll.ID, schema.ShardOf(v.user, poll.Shards), v.user, f.ID)
		switch {
		case err != nil:
			v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "poll is closing", RetryAfterMS: 1000 + rand.IntN(1000)})
		case applied:
			v.answer(schema.Ack{ID: f.ID, Status: schema.StatusDuplicate, Reason: "already counted"})
		default:
			v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRejected, Reason: "poll is closed"})
		}
	}()
}
