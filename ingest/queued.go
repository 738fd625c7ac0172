package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/votecast/votecast/schema"
)

// Room is what ingest needs of the waiting room (package waitroom).
type Room interface {
	// Queueing reports whether viewers wait in line: one who arrives
	// without a ticket must join it, or it would pass them.
	Queueing() bool
	// Turn checks a ticket and that its place is let in, without using it.
	Turn(ticket, user, poll string) error
	// Admit exchanges a ticket for a connection: one at a time per
	// ticket; release ends the use when the connection closes.
	Admit(ctx context.Context, ticket, user, poll string) (release func(), err error)
}

// ErrNoVotes is returned by VoteQueued on a node that takes no votes.
var ErrNoVotes = errors.New("this node takes no votes")

// VoteQueued casts a vote from the waiting room: a viewer in line, with a
// ticket for place, and no socket. The vote goes the way of a socket's
// (same checks, same subject and dedup key, the same acker and answers);
// only the answer comes back here. While the poll is closing it is still
// taken if the ticket's place was given before the close (see
// schema.Poll.TakesQueuedVote). The caller has checked the ticket.
func (s *Server) VoteQueued(ctx context.Context, user, poll string, place uint64, f schema.VoteFrame) (schema.Ack, error) {
	if s.opts.RefuseVotes != "" {
		return schema.Ack{}, ErrNoVotes
	}
	if s.closing.Load() {
		return schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "server is shutting down", RetryAfterMS: 1000}, nil
	}
	v := newViewer(s, nil, user, poll)
	v.place, v.reply = place, make(chan schema.Ack, 1)
	v.votes = &voteState{keys: map[string]schema.Ack{}}
	v.vote(f)
	// Every path of vote answers: at once, or from the acker within the
	// publish timeout, or once a closing poll's markers are in.
	wait := time.NewTimer(s.opts.PublishTimeout + time.Minute)
	defer wait.Stop()
	select {
	case a := <-v.reply:
		return a, nil
	case <-ctx.Done():
		return schema.Ack{}, ctx.Err()
	case <-wait.C:
		return schema.Ack{ID: f.ID, Status: schema.StatusRetry, Reason: "vote log slow", RetryAfterMS: 1000}, nil
	}
}
