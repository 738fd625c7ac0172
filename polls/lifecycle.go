package polls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// Producer changes polls. Every change is a compare-and-set on the poll's
// KV revision, so two producers (or two nodes) racing cannot both win.
type Producer struct {
	kv      jetstream.KeyValue
	js      jetstream.JetStream
	shards  int
	grace   time.Duration
	queue   Queue
	qgrace  time.Duration
	nowFunc func() time.Time
}

// ProducerOptions configures NewProducer.
type ProducerOptions struct {
	// Shards is the shard count of new polls; zero value: schema.DefaultShards.
	Shards int
	// CloseGrace is how long a closing poll waits for ingest nodes'
	// in-flight publishes before the markers go in; zero value: 1s.
	// Correctness does not depend on it (ingest compares the PubAck's
	// sequence with the marker); it only spares late voters a "closed".
	CloseGrace time.Duration
	// Queue tells whether viewers wait in line for a poll; zero value:
	// no waiting room, no queue grace.
	Queue Queue
	// QueueGrace is how long viewers who joined the line before the
	// close may still vote from it; zero value: 15s; negative: none.
	// Only a poll with viewers in line when it closes waits for it.
	QueueGrace time.Duration
}

// Queue is what closing needs of the waiting room.
type Queue interface {
	// LastPlace returns the last place given in the line (for any poll)
	// and whether any viewer of poll still waits.
	LastPlace(ctx context.Context, poll string) (last uint64, waiting bool, err error)
	// Draw places the viewers who joined poll's line before it opened,
	// in a random order, reading their entries after sequence from.
	Draw(ctx context.Context, poll string, from uint64) (last uint64, placed int, err error)
}

// NewProducer returns a Producer over the polls bucket and the stream.
func NewProducer(kv jetstream.KeyValue, js jetstream.JetStream, opts ProducerOptions) (*Producer, error) {
	if opts.Shards == 0 {
		opts.Shards = schema.DefaultShards
	}
	if opts.Shards < 1 || opts.Shards > schema.MaxShards {
		return nil, fmt.Errorf("new poll producer: shards must be between 1 and %d", schema.MaxShards)
	}
	if opts.CloseGrace == 0 {
		opts.CloseGrace = time.Second
	}
	if opts.QueueGrace == 0 {
		opts.QueueGrace = 15 * time.Second
	}
	return &Producer{kv: kv, js: js, shards: opts.Shards, grace: opts.CloseGrace, queue: opts.Queue, qgrace: opts.QueueGrace, nowFunc: time.Now}, nil
}

// Create stores a new draft poll.
func (p *Producer) Create(ctx context.Context, spec schema.PollSpec) (schema.Poll, error) {
	if err := spec.Normalize(); err != nil {
		return schema.Poll{}, err
	}
	poll := schema.NewPoll(schema.NewPollID(), spec, p.shards, p.nowFunc())
	b, _ := json.Marshal(poll)
	if _, err := p.kv.Create(ctx, poll.ID, b); err != nil {
		return schema.Poll{}, fmt.Errorf("create poll: %w", err)
	}
	return poll, nil
}

// Edit replaces a draft poll's definition.
func (p *Producer) Edit(ctx context.Context, id string, spec schema.PollSpec) (schema.Poll, error) {
	if err := spec.Normalize(); err != nil {
		return schema.Poll{}, err
	}
	return p.update(ctx, id, func(poll *schema.Poll) error {
		if poll.State != schema.Draft {
			return fmt.Errorf("%w: only a draft can be edited, this poll is %s", ErrConflict, poll.State)
		}
		created := poll.CreatedAt
		*poll = schema.NewPoll(poll.ID, spec, poll.Shards, created)
		return nil
	})
}

// Open opens a draft poll; opening an open poll changes nothing. With a
// waiting room, the viewers who joined the line before the opening are
// then given their places in a random order (the draw), and the poll
// says so until it is done; a draw cut short is finished by the next
// Open or FinishOpening.
func (p *Producer) Open(ctx context.Context, id string) (schema.Poll, error) {
	poll, err := p.update(ctx, id, func(poll *schema.Poll) error {
		switch poll.State {
		case schema.Open:
			return errUnchanged
		case schema.Draft:
			poll.State, poll.OpenedAt, poll.QueueDrawing = schema.Open, p.nowFunc().UTC(), p.queue != nil
			return nil
		}
		return fmt.Errorf("%w: a %s poll cannot be opened", ErrConflict, poll.State)
	})
	if err != nil || !poll.QueueDrawing || p.queue == nil {
		return poll, err
	}
	return p.draw(ctx, id)
}

// draw places the early viewers, clears QueueDrawing, and sweeps once
// more for those whose edge put them in the early line while the first
// pass ran (an edge that saw the poll drawing after that: its viewer is
// placed at the back of the line when it joins again).
func (p *Producer) draw(ctx context.Context, id string) (schema.Poll, error) {
	last, _, err := p.queue.Draw(ctx, id, 0)
	if err != nil {
		return schema.Poll{}, fmt.Errorf("open poll %s: %w", id, err)
	}
	poll, err := p.update(ctx, id, func(poll *schema.Poll) error {
		if !poll.QueueDrawing {
			return errUnchanged
		}
		poll.QueueDrawing = false
		return nil
	})
	if err != nil {
		return poll, err
	}
	if _, _, err := p.queue.Draw(ctx, id, last); err != nil {
		return poll, fmt.Errorf("open poll %s: the last sweep of the early line: %w", id, err)
	}
	return poll, nil
}

// FinishOpening finishes the draw of every open poll in polls that a
// crash left drawing. It returns the first error, after trying every poll.
func (p *Producer) FinishOpening(ctx context.Context, polls []schema.Poll) error {
	if p.queue == nil {
		return nil
	}
	var first error
	for _, poll := range polls {
		if poll.State != schema.Open || !poll.QueueDrawing {
			continue
		}
		if _, err := p.draw(ctx, poll.ID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close runs the close procedure: closing (ingest stops publishing), a grace
// for in-flight publishes, a marker on each shard subject, then closed with
// the markers' sequences. A crash midway leaves the poll closing, and
// calling Close again finishes the job without a second marker.
//
// When viewers wait in line for the poll, closing also records the last
// place given (QueueSeq) and lets those viewers vote from the line until
// QueueUntil; the markers go in after it, so their votes count.
func (p *Producer) Close(ctx context.Context, id string) (schema.Poll, error) {
	var last uint64
	var waiting bool
	if p.queue != nil && p.qgrace > 0 {
		var err error
		if last, waiting, err = p.queue.LastPlace(ctx, id); err != nil {
			return schema.Poll{}, fmt.Errorf("close poll %s: read the waiting room: %w", id, err)
		}
	}
	poll, err := p.update(ctx, id, func(poll *schema.Poll) error {
		switch poll.State {
		case schema.Closing, schema.Closed:
			return errUnchanged
		case schema.Draft:
			poll.State, poll.ClosedAt = schema.Closed, p.nowFunc().UTC()
			return nil
		}
		poll.State = schema.Closing
		if waiting {
			poll.QueueSeq, poll.QueueUntil = last, p.nowFunc().Add(p.qgrace).UTC()
		}
		return nil
	})
	if err != nil || poll.State != schema.Closing {
		return poll, err
	}
	// A close resumed after a crash waits out what is left of the line's
	// grace too.
	wait := max(p.grace, poll.QueueUntil.Sub(p.nowFunc())+p.grace)
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return poll, fmt.Errorf("close poll %s: %w", id, ctx.Err())
	}
	markers, err := p.placeMarkers(ctx, poll)
	if err != nil {
		return poll, err
	}
	return p.update(ctx, id, func(poll *schema.Poll) error {
		if poll.State == schema.Closed {
			return errUnchanged
		}
		poll.State, poll.ClosedAt, poll.Markers = schema.Closed, p.nowFunc().UTC(), markers
		return nil
	})
}

// FinishClosing finishes the close of every poll in polls that a crash
// left closing: the close procedure is resumable, and no marker is placed
// twice. It returns the first error, after trying every poll.
func (p *Producer) FinishClosing(ctx context.Context, polls []schema.Poll) error {
	var first error
	for _, poll := range polls {
		if poll.State != schema.Closing {
			continue
		}
		if _, err := p.Close(ctx, poll.ID); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// placeMarkers appends a close marker to each shard subject, or finds the
// one an earlier, interrupted close already appended.
func (p *Producer) placeMarkers(ctx context.Context, poll schema.Poll) ([]uint64, error) {
	stream, err := p.js.Stream(ctx, schema.VotesStream)
	if err != nil {
		return nil, fmt.Errorf("close poll %s: %w", poll.ID, err)
	}
	markers := make([]uint64, poll.Shards)
	for shard := range poll.Shards {
		subj := schema.VoteSubject(poll.ID, shard)
		last, err := stream.GetLastMsgForSubject(ctx, subj)
		switch {
		case err == nil:
			if ev, derr := schema.DecodeEvent(last.Data); derr == nil && ev.Close {
				markers[shard] = last.Sequence
				continue
			}
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return nil, fmt.Errorf("close poll %s: read shard %d: %w", poll.ID, shard, err)
		}
		msg := nats.NewMsg(subj)
		msg.Data = schema.CloseMarkerEvent()
		msg.Header.Set(jetstream.MsgIDHeader, "close:"+poll.ID+":"+fmt.Sprint(shard))
		ack, err := p.js.PublishMsg(ctx, msg)
		if err != nil {
			return nil, fmt.Errorf("close poll %s: marker on shard %d: %w", poll.ID, shard, err)
		}
		markers[shard] = ack.Sequence
	}
	return markers, nil
}

var errUnchanged = errors.New("unchanged")

// get reads a poll's entry. On a cluster a KV read may be served by a
// replica that has not yet seen a poll created a moment ago (direct gets
// go to any replica), so "not found" is asked again a few times, briefly,
// before it is believed.
func (p *Producer) get(ctx context.Context, id string) (jetstream.KeyValueEntry, error) {
	backoff := 20 * time.Millisecond
	for try := 0; ; try++ {
		e, err := p.kv.Get(ctx, id)
		if !errors.Is(err, jetstream.ErrKeyNotFound) || try == 4 {
			return e, err
		}
		select {
		case <-ctx.Done():
			return e, err
		case <-time.After(backoff): // a replica catching up: nothing to wait on
		}
		backoff *= 2
	}
}

// update reads a poll, applies change and writes it back if its revision is
// still the one read, retrying a few times when another writer got there
// first.
func (p *Producer) update(ctx context.Context, id string, change func(*schema.Poll) error) (schema.Poll, error) {
	if !schema.ValidPollID(id) {
		return schema.Poll{}, ErrNotFound
	}
	for range 5 {
		e, err := p.get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return schema.Poll{}, ErrNotFound
		}
		if err != nil {
			return schema.Poll{}, fmt.Errorf("read poll %s: %w", id, err)
		}
		var poll schema.Poll
		if err := json.Unmarshal(e.Value(), &poll); err != nil {
			return schema.Poll{}, fmt.Errorf("read poll %s: %w", id, err)
		}
		err = change(&poll)
		if errors.Is(err, errUnchanged) {
			return poll, nil
		}
		if err != nil {
			return poll, err
		}
		b, _ := json.Marshal(poll)
		_, err = p.kv.Update(ctx, id, b, e.Revision())
		if err == nil {
			return poll, nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return poll, fmt.Errorf("write poll %s: %w", id, err)
		}
	}
	return schema.Poll{}, fmt.Errorf("write poll %s: %w: too many concurrent changes", id, ErrConflict)
}
