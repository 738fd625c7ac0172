package ingest

import (
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// published is a vote awaiting its PubAck.
type published struct {
	v       *viewer
	fut     jetstream.PubAckFuture
	stalled <-chan struct{} // closed if the log stalls (stall.go)
	poll    schema.Poll
	shard   int
	f       schema.VoteFrame
	start   time.Time
}

// ackLoop answers votes in the order they were published, one goroutine
// and one timer for the whole node rather than a goroutine and a timer per
// vote in flight. JetStream acknowledges one stream's messages in order,
// so when the oldest vote's PubAck is in, the next ones mostly are too;
// PublishTimeout and the stall watch bound how long the oldest can hold
// up the rest. A PubAck that needs a round trip to answer (a duplicate,
// a poll that is closing) is answered off this goroutine.
func (s *Server) ackLoop() {
	defer close(s.ackDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var p published
		select {
		case p = <-s.published:
		case <-s.ackStop:
			return
		}
		timer.Reset(time.Until(p.start.Add(s.opts.PublishTimeout)))
		var a schema.Ack
		select {
		case ack := <-p.fut.Ok():
			s.stall.noteAck(ack.Sequence)
			s.metrics.ackSeconds.Observe(time.Since(p.start).Seconds())
			if ack.Duplicate || !p.v.stillOpen(p.poll.ID) {
				go func() { p.v.complete(p, p.v.resolve(ack, p.poll, p.shard, p.f)) }()
				continue
			}
			a = schema.Ack{ID: p.f.ID, Status: schema.StatusAccepted, Seq: ack.Sequence, Reason: s.soldOut(&p.poll, ack.Sequence)}
		case <-p.fut.Err():
			a = schema.Ack{ID: p.f.ID, Status: schema.StatusRetry, Reason: "vote log unavailable", RetryAfterMS: 500 + rand.IntN(1000)}
		case <-timer.C:
			a = schema.Ack{ID: p.f.ID, Status: schema.StatusRetry, Reason: "vote log slow", RetryAfterMS: 500 + rand.IntN(1000)}
		case <-p.stalled:
			a = schema.Ack{ID: p.f.ID, Status: schema.StatusRetry, Reason: "vote log stalled", RetryAfterMS: 1000 + rand.IntN(1000)}
		case <-s.ackStop:
			return
		}
		p.v.complete(p, a)
	}
}

// soldOut is the reason an accepted entry of a giveaway comes with once
// every prize is won: "sold out", it is in and lost. It was still written:
// the frame may be the resend of an entry the log holds, which must not
// be told rejected.
func (s *Server) soldOut(p *schema.Poll, seq uint64) string {
	if !p.Giveaway() || s.opts.Cutoff == nil {
		return ""
	}
	if c := s.opts.Cutoff(p.ID); c > 0 && seq > c {
		return "sold out"
	}
	return ""
}

// stillOpen reports whether the poll is open now: then a PubAck means
// accepted without further ado.
func (v *viewer) stillOpen(poll string) bool {
	now, ok := v.s.opts.Polls.Get(poll)
	return ok && now.State == schema.Open
}

// complete records a vote's answer on its connection and sends it. A vote
// answered retry may still reach the log: the viewer resends it with the
// same key, and it counts once.
func (v *viewer) complete(p published, a schema.Ack) {
	defer v.s.pending.Done()
	<-v.s.inFlight
	vs := v.votes
	vs.mu.Lock()
	switch a.Status {
	case schema.StatusAccepted:
		vs.keys[p.f.ID] = a
		vs.used += p.f.Count
	case schema.StatusDuplicate:
		vs.keys[p.f.ID] = a
		if p.poll.VotesPerUser == 1 && !p.poll.AllowChange {
			vs.used = 1
		}
	default:
		delete(vs.keys, p.f.ID) // a retry of this key must publish again
	}
	vs.mu.Unlock()
	v.answer(a)
}
