package tally

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// TraceEvents is how many events of each shard a Recount keeps in Trace.
const TraceEvents = 32

// TracedEvent is one event of the log and what the fold made of it.
type TracedEvent struct {
	Seq     uint64
	User    string
	Key     string
	Outcome string
}

// ErrLogStalled is wrapped by a recount that stopped receiving events the
// log says it holds; trying again later may cure it.
var ErrLogStalled = errors.New("the log stopped delivering")

// Recount is what the log alone says about a poll.
type Recount struct {
	Counts []int64
	// ByShard are the counts of each shard, and LastSeq the sequence of
	// its last event: where a store or a snapshot disagrees.
	ByShard map[int][]int64
	LastSeq map[int]uint64
	// Trace holds the first TraceEvents events of each shard, for a
	// mismatch to be read event by event.
	Trace    map[int][]TracedEvent
	Events   int
	Outcomes map[string]int
	Last     time.Time // timestamp of the last event folded
	// Winners are a giveaway's winning entries in the log's order, and
	// Cutoff the last one's sequence once every prize is won (else 0).
	Winners []Winner
	Cutoff  uint64
}

// Winner is one winning entry of a giveaway.
type Winner struct {
	Seq  uint64
	User string
}

// LogEvent is one message of a poll's log, as ReadLog hands it over: its
// stream sequence, shard and time, and the event (Bad when its subject or
// body would not decode; such a message counts for nothing).
type LogEvent struct {
	Seq   uint64
	Shard int
	At    time.Time
	Event schema.Event
	Bad   bool
}

// ReadLog hands every message of a poll's log to fn in stream order,
// stopping after the last one stored at or before until (zero: the whole
// log) or at the first error fn returns. It never writes anything.
func ReadLog(ctx context.Context, js jetstream.JetStream, poll schema.Poll, until time.Time, fn func(LogEvent) error) error {
	cons, err := js.OrderedConsumer(ctx, schema.VotesStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"votes." + poll.ID + ".*"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", poll.ID, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", poll.ID, err)
	}
	pending := info.NumPending
	stop := false
	empty := 0 // fetches in a row that brought nothing
	for pending > 0 && !stop {
		// Never ask for more than is there, so a batch ends at once
		// instead of waiting out its expiry.
		batch, err := cons.Fetch(int(min(pending, 500)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("read the log of %s: %w", poll.ID, err)
		}
		got := 0
		var failed error
		for m := range batch.Messages() {
			got++
			if stop || failed != nil {
				continue // drain the batch so its fetch ends
			}
			meta, err := m.Metadata()
			if err != nil {
				failed = fmt.Errorf("read the log of %s: %w", poll.ID, err)
				continue
			}
			pending = meta.NumPending
			if !until.IsZero() && meta.Timestamp.After(until) {
				stop = true
				continue
			}
			le := LogEvent{Seq: meta.Sequence.Stream, At: meta.Timestamp}
			var ok bool
			_, le.Shard, ok = schema.ParseVoteSubject(m.Subject())
			le.Event, err = schema.DecodeEvent(m.Data())
			le.Bad = !ok || err != nil
			failed = fn(le)
		}
		if failed != nil {
			return failed
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read the log of %s: %w", poll.ID, err)
		}
		if got > 0 {
			empty = 0
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read the log of %s: %w", poll.ID, ctx.Err())
		}
		if empty++; empty == 3 {
			// Events are pending and none came for three fetches: a
			// cluster whose replicas are still catching up can do that.
			return fmt.Errorf("read the log of %s: %w: %d events pending, none delivered for 15s", poll.ID, ErrLogStalled, pending)
		}
	}
	return nil
}

// RecountFromLog replays a poll's events from the VOTES stream with the
// same fold the tally uses, stopping after the last event stored at or
// before until (zero: everything). It never writes anything.
func RecountFromLog(ctx context.Context, js jetstream.JetStream, poll schema.Poll, until time.Time) (Recount, error) {
	rc := Recount{Counts: make([]int64, len(poll.Options)), Outcomes: map[string]int{}, Trace: map[int][]TracedEvent{}}
	shards := map[int]*PollShard{}
	entrants := map[uint64]string{} // a giveaway's eligible entries by sequence
	err := ReadLog(ctx, js, poll, until, func(le LogEvent) error {
		if le.Bad {
			rc.Outcomes[Invalid.String()]++
			return nil
		}
		ps := shards[le.Shard]
		if ps == nil {
			ps = NewPollShard(poll.ID, le.Shard, len(poll.Options))
			shards[le.Shard] = ps
		}
		out := ps.Apply(&poll, le.Seq, le.Event)
		rc.Outcomes[out.String()]++
		if out == Counted && poll.Giveaway() && poll.Eligible(le.Event.Option) {
			entrants[le.Seq] = le.Event.User
		}
		if len(rc.Trace[le.Shard]) < TraceEvents {
			rc.Trace[le.Shard] = append(rc.Trace[le.Shard], TracedEvent{Seq: le.Seq, User: le.Event.User, Key: le.Event.ClientKey, Outcome: out.String()})
		}
		rc.Events++
		rc.Last = le.At
		return nil
	})
	if err != nil {
		return rc, fmt.Errorf("recount: %w", err)
	}
	rc.ByShard, rc.LastSeq = map[int][]int64{}, map[int]uint64{}
	for shard, ps := range shards {
		for i, c := range ps.Counts {
			rc.Counts[i] += c
		}
		rc.ByShard[shard], rc.LastSeq[shard] = ps.Counts, ps.LastSeq
		if poll.Giveaway() {
			_, rc.Cutoff = ps.Winners()
			for _, seq := range ps.eligible[:min(len(ps.eligible), poll.Prizes)] {
				rc.Winners = append(rc.Winners, Winner{Seq: seq, User: entrants[seq]})
			}
		}
	}
	return rc, nil
}
