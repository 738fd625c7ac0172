package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

const inFlight = "inflight"

// vote checks a frame against the poll and this connection's memory, then
// publishes it. It never blocks on the log: past the in-flight cap the
// viewer is told to retry.
func (v *viewer) vote(f schema.VoteFrame) {
	if reason := v.s.opts.RefuseVotes; reason != "" {
		// An error frame, not an ack: the frame may be the resend of a
		// vote that counted, so it must not be told rejected; the
		// client keeps it pending and sends it to a node that takes votes.
		v.send(schema.AppendError(nil, reason))
		return
	}
	poll, ok := v.s.opts.Polls.Get(v.poll)
	if !ok {
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRejected, Reason: "poll not found"})
		return
	}
	queued := v.place != 0 && poll.TakesQueuedVote(v.place, time.Now())
	if (poll.State == schema.Closing || poll.State == schema.Closed) && !queued {
		v.closedVote(poll, f)
		return
	}
	if reason := refuse(&poll, f, queued); reason != "" {
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRejected, Reason: reason})
		return
	}
	vs := v.votes
	vs.mu.Lock()
	switch st := vs.keys[f.ID]; {
	case st.Status == inFlight:
		vs.mu.Unlock()
		return // a resend before the answer: the pending answer covers it
	case st.Status != "":
		vs.mu.Unlock()
		// The first answer again (with its receipt), as a repeat.
		if st.Status == schema.StatusAccepted {
			st.Status, st.Reason = schema.StatusDuplicate, "already counted"
		}
		v.answer(st)
		return
	case !poll.AllowChange && vs.used+f.Count > poll.VotesPerUser:
		vs.mu.Unlock()
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusDuplicate, Reason: "no votes left"})
		return
	}
	if len(vs.keys) >= maxKeys {
		clear(vs.keys) // JetStream's dedup window still stops repeats
	}
	vs.keys[f.ID] = schema.Ack{Status: inFlight}
	vs.mu.Unlock()

	select {
	case v.s.inFlight <- struct{}{}:
	default:
		v.forget(f.ID)
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "busy", RetryAfterMS: 200 + rand.IntN(800)})
		return
	}
	v.s.voteRate.add(time.Now())
	shard := schema.ShardOf(v.user, poll.Shards)
	msg := nats.NewMsg(schema.VoteSubject(poll.ID, shard))
	msg.Data = schema.AppendVoteEvent(make([]byte, 0, 8+len(v.user)+len(f.ID)), v.user, f)
	msg.Header.Set(jetstream.MsgIDHeader, schema.DedupKey(&poll, v.user, f.ID))
	start, stalled := time.Now(), v.s.stall.wait()
	fut, err := v.s.opts.JS.PublishMsgAsync(msg)
	if err != nil {
		<-v.s.inFlight
		v.forget(f.ID)
		v.answer(schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "vote log unavailable", RetryAfterMS: 1000 + rand.IntN(1000)})
		return
	}
	v.s.pending.Add(1)
	v.s.startAcker()
	v.s.published <- published{v: v, fut: fut, stalled: stalled, poll: poll, shard: shard, f: f, start: start}
}

// refuse says why a frame can never count, or "". A vote from the line
// (queued) may go in while the poll closes, within its queue grace.
func refuse(p *schema.Poll, f schema.VoteFrame, queued bool) string {
	switch {
	case p.State == schema.Draft:
		return "poll is not open yet"
	case p.State != schema.Open && !queued:
		return "poll is closed"
	case f.Option >= len(p.Options):
		return "no such option"
	case p.VotesPerUser == 1 && !p.AllowChange && f.Count != 1:
		return "count must be 1"
	case p.VotesPerUser == 1 && f.Count > 1:
		return "count must be 0 or 1"
	case !p.AllowChange && f.Count < 1:
		return "count must be at least 1"
	case f.Count > p.VotesPerUser:
		return "count is more than your votes"
	}
	return ""
}

// resolve turns a PubAck into an answer. While the poll is open that is
// accepted; once it is closing, the vote counts only if it stands before
// its shard's close marker, so the answer waits for the markers.
func (v *viewer) resolve(ack *jetstream.PubAck, poll schema.Poll, shard int, f schema.VoteFrame) schema.Ack {
	if ack.Duplicate {
		// JetStream names the stored message. If it is this very frame
		// (a resend after "retry" or a lost answer), the vote is in the
		// log: say so, so the viewer is not told it voted twice.
		same, err := v.s.sameFrame(&poll, ack.Sequence, v.user, f.ID)
		if err != nil {
			// Unknown, not "already voted": the stored vote may be this
			// very frame, which counted (the chaos test caught a read
			// failing while the log changed leaders).
			return schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "vote log unavailable", RetryAfterMS: 500 + rand.IntN(1000)}
		}
		if !same {
			return schema.Ack{ID: f.ID, Status: schema.StatusDuplicate, Reason: "already voted"}
		}
		a := v.resolve(&jetstream.PubAck{Stream: ack.Stream, Sequence: ack.Sequence}, poll, shard, f)
		if a.Status == schema.StatusAccepted {
			a.Status, a.Reason = schema.StatusDuplicate, "already counted"
		}
		return a
	}
	if v.stillOpen(poll.ID) {
		return schema.Ack{ID: f.ID, Status: schema.StatusAccepted, Seq: ack.Sequence}
	}
	// The markers go in after the line's grace (see schema.Poll.QueueSeq),
	// set when the close began: after this vote was sent, maybe.
	until := poll.QueueUntil
	if cur, ok := v.s.opts.Polls.Get(poll.ID); ok && cur.QueueUntil.After(until) {
		until = cur.QueueUntil
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(10*time.Second, time.Until(until)+10*time.Second))
	defer cancel()
	closed, err := v.s.opts.Polls.WaitFor(ctx, poll.ID, func(p schema.Poll) bool { return p.State == schema.Closed })
	if err != nil {
		// In the log, fate unknown: a resend gets "duplicate" or "closed".
		return schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "poll is closing", RetryAfterMS: 1000}
	}
	if closed.CountsBefore(shard, ack.Sequence) {
		return schema.Ack{ID: f.ID, Status: schema.StatusAccepted, Seq: ack.Sequence}
	}
	return schema.Ack{ID: f.ID, Status: schema.StatusRejected, Reason: "poll is closed"}
}

func (v *viewer) forget(id string) {
	v.votes.mu.Lock()
	delete(v.votes.keys, id)
	v.votes.mu.Unlock()
}

// sameFrame reports whether the vote stored at seq is the frame with this
// client key. With a per-frame dedup key it always is; with the per-user
// key of a one-vote poll the stored event is read (rare: only repeats). A
// read that fails is an error, never a "no".
func (s *Server) sameFrame(p *schema.Poll, seq uint64, user, clientKey string) (bool, error) {
	if !schema.DedupPerUser(p) {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stream, err := s.votesStream(ctx)
	if err != nil {
		return false, err
	}
	m, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return false, fmt.Errorf("read the stored vote at %d: %w", seq, err)
	}
	ev, err := schema.DecodeEvent(m.Data)
	if err != nil {
		return false, fmt.Errorf("decode the stored vote at %d: %w", seq, err)
	}
	return ev.User == user && ev.ClientKey == clientKey, nil
}

// votesStream returns the VOTES stream handle, looked up once.
func (s *Server) votesStream(ctx context.Context) (jetstream.Stream, error) {
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	if s.stream == nil {
		st, err := s.opts.JS.Stream(ctx, schema.VotesStream)
		if err != nil {
			return nil, err
		}
		s.stream = st
	}
	return s.stream, nil
}
