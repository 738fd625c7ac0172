package waitroom

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/schema"
)

// JoinEarly puts user in line for a poll that has not opened yet: an
// entry in the QUEUE_EARLY stream, once per user while a ticket lasts.
// There is no place yet, so no ticket; Draw gives the places at the
// opening, and joining again after it returns the place drawn.
func (r *Room) JoinEarly(ctx context.Context, user, poll string) error {
	msg := nats.NewMsg(schema.EarlyEntrySubject(poll))
	msg.Header.Set(jetstream.MsgIDHeader, "e:"+poll+":"+user)
	msg.Data = []byte(user)
	if _, err := r.opts.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("join the waiting room before the opening: %w", err)
	}
	r.metrics.joined(false)
	return nil
}

// Draw gives the viewers who joined poll's line before it opened their
// places, in a random order: each gets the QUEUE entry Join would make
// (same dedup key), so its next join returns that place. It reads the
// early entries after sequence from and returns the last one read, so
// the opener can sweep again for late arrivals. Running it twice places
// nobody twice: the QUEUE stream's dedup window returns the first place.
func (r *Room) Draw(ctx context.Context, poll string, from uint64) (last uint64, placed int, err error) {
	var users []string
	err = retryTransient(ctx, func() error {
		var err error
		users, last, err = r.early(ctx, poll, from)
		return err
	})
	if err != nil || len(users) == 0 {
		return max(last, from), 0, err
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	rng := rand.New(rand.NewChaCha8(seed))
	rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	// One at a time, in the drawn order: the stream's sequence is the
	// order, and an asynchronous batch could be stored out of it.
	now := r.opts.Now()
	for _, u := range users {
		msg := entryMsg(poll, u, now)
		var ack *jetstream.PubAck
		err := retryTransient(ctx, func() error {
			var err error
			ack, err = r.opts.JS.PublishMsg(ctx, msg)
			return err
		})
		if err != nil {
			return from, placed, fmt.Errorf("draw the places of poll %s: %w", poll, err)
		}
		r.noteLast(ack.Sequence)
		placed++
	}
	return last, placed, nil
}

// early reads the users of poll's early entries after sequence from.
func (r *Room) early(ctx context.Context, poll string, from uint64) ([]string, uint64, error) {
	s, err := r.opts.JS.Stream(ctx, schema.EarlyStream)
	if err != nil {
		return nil, from, fmt.Errorf("open stream %s: %w", schema.EarlyStream, err)
	}
	// Most polls open with nobody early: one read says so, without a
	// consumer.
	lastEarly, err := s.GetLastMsgForSubject(ctx, schema.EarlyEntrySubject(poll))
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && lastEarly.Sequence <= from) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, fmt.Errorf("read the early line of poll %s: %w", poll, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{schema.EarlyEntrySubject(poll)}}
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from+1
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, from, fmt.Errorf("read the early line of poll %s: %w", poll, err)
	}
	var users []string
	seen := map[string]bool{}
	last := from
	for {
		batch, err := c.FetchNoWait(1000)
		if err != nil {
			return nil, from, fmt.Errorf("read the early line of poll %s: %w", poll, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, from, err
			}
			last = meta.Sequence.Stream
			if u := string(m.Data()); !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
			if meta.NumPending == 0 {
				return users, last, batch.Error()
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, from, fmt.Errorf("read the early line of poll %s: %w", poll, err)
		}
		if n == 0 {
			return users, last, nil
		}
	}
}

// retryTransient gives a read or write of the line up to 10 seconds of
// a cluster without a stream leader: an opening or a close must not fail
// for a moment of election.
func retryTransient(ctx context.Context, op func() error) error {
	return natsnode.Retry(ctx, 10*time.Second, op)
}
