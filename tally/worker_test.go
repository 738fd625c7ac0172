package tally_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/embedded"
	"github.com/votecast/votecast/tally"
)

// staticPolls is a PollSource over fixed definitions.
type staticPolls map[string]schema.Poll

func (s staticPolls) WaitFor(ctx context.Context, id string, _ func(schema.Poll) bool) (schema.Poll, error) {
	if p, ok := s[id]; ok {
		return p, nil
	}
	<-ctx.Done()
	return schema.Poll{}, ctx.Err()
}

// crashingStore writes part of a flush and then fails every call: a
// worker that dies halfway through a flush.
type crashingStore struct {
	tally.Store
	mu      sync.Mutex
	flushes int
	after   int // flushes that succeed before the crash
	crashed chan struct{}
}

func (c *crashingStore) Flush(ctx context.Context, us []tally.ShardUpdate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
	switch {
	case c.flushes <= c.after:
		return c.Store.Flush(ctx, us)
	case c.flushes == c.after+1:
		half := us[0]
		half.Ballots = half.Ballots[:len(half.Ballots)/2]
		half.Header = tally.ShardHeader{Poll: half.Header.Poll, Shard: half.Header.Shard}
		if err := c.Store.Flush(ctx, []tally.ShardUpdate{half}); err != nil {
			return err
		}
		close(c.crashed)
	}
	return fmt.Errorf("crashed: %w", tally.ErrStoreUnavailable)
}

type rig struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store *embedded.Store
	poll  schema.Poll
	last  map[int]uint64 // per shard index, the sequence of its last event
}

func newRig(t *testing.T) *rig {
	env := natstest.Start(t, "")
	nc, js := env.NC, env.JS
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	poll := schema.Poll{ID: schema.NewPollID(), Options: []string{"a", "b", "c"}, VotesPerUser: 2, State: schema.Open, Shards: 2}
	return &rig{nc: nc, js: js, store: st, poll: poll}
}

// publish appends n vote events; users vote several times so that order
// decides which votes count under a budget of 2.
func (r *rig) publish(t *testing.T, from, n int) {
	for i := from; i < from+n; i++ {
		user := fmt.Sprintf("u%d", i%37)
		f := schema.VoteFrame{ID: fmt.Sprintf("k%d", i), Option: i % 3, Count: 1}
		shard := schema.ShardOf(user, r.poll.Shards)
		ack, err := r.js.Publish(context.Background(), schema.VoteSubject(r.poll.ID, shard), schema.AppendVoteEvent(nil, user, f))
		if err != nil {
			t.Fatal(err)
		}
		if r.last == nil {
			r.last = map[int]uint64{}
		}
		r.last[shard] = ack.Sequence
	}
}

// behind counts the shard indices whose store checkpoint has not reached
// their last event: events not yet durably folded.
func (r *rig) behind(t *testing.T) int {
	t.Helper()
	n := 0
	for shard, last := range r.last {
		cp, err := r.store.LoadCheckpoint(context.Background(), shard)
		if err != nil {
			t.Fatal(err)
		}
		if cp < last {
			n++
		}
	}
	return n
}

// run runs one tally node on st until the returned stop.
func (r *rig) run(t *testing.T, st tally.Store) (stop func()) {
	t.Helper()
	return r.startWorker(t, st, "test-node")
}

func (r *rig) waitStored(t *testing.T, want []int64) {
	t.Helper()
	await.For(t, 20*time.Second, func() string {
		got, err := tally.StoredTotals(context.Background(), r.store, r.poll.ID, nil)
		if err != nil {
			return fmt.Sprintf("reading stored totals: %v", err)
		}
		if behind := r.behind(t); !slices.Equal(got.Counts, want) || behind != 0 {
			return fmt.Sprintf("stored = %v with %d shard checkpoints behind the log, want %v with none", got.Counts, behind, want)
		}
		return ""
	})
}

// crashMidFlush publishes n votes and runs a worker until it dies halfway
// through its third flush.
func (r *rig) crashMidFlush(t *testing.T, n int) {
	t.Helper()
	r.publish(t, 0, n)
	crash := &crashingStore{Store: r.store, after: 2, crashed: make(chan struct{})}
	stop := r.run(t, crash)
	select {
	case <-crash.crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("the worker never reached the crashing flush")
	}
	stop()
}

// TestCrashMidFlushLosesAndDoublesNothing kills a worker halfway through a
// flush, publishes more votes, and starts a new worker on the same store:
// the stored totals must equal a recount of the log.
func TestCrashMidFlushLosesAndDoublesNothing(t *testing.T) {
	r := newRig(t)
	r.crashMidFlush(t, 400)
	r.publish(t, 400, 300)
	stop := r.run(t, r.store)
	defer stop()
	r.publish(t, 700, 100)
	want, err := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want.Events != 800 {
		t.Fatalf("log has %d events, want 800", want.Events)
	}
	r.waitStored(t, want.Counts)
}

// TestStoreOutageHoldsAcks: while the store refuses flushes, no
// checkpoint moves; when it is back, the flushes catch up to the exact
// counts.
func TestStoreOutageHoldsAcks(t *testing.T) {
	r := newRig(t)
	down := &switchableStore{Store: r.store}
	down.set(true)
	stop := r.run(t, down)
	defer stop()
	r.publish(t, 0, 200)
	await.Until(t, 10*time.Second, "three flushes refused by the store", func() bool { return down.attempts() >= 3 })
	for shard := range r.last {
		if cp, _ := r.store.LoadCheckpoint(context.Background(), shard); cp != 0 {
			t.Fatalf("shard %d checkpoint moved to %d while the store was down", shard, cp)
		}
	}
	down.set(false)
	want, err := tally.RecountFromLog(context.Background(), r.js, r.poll, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want.Events != 200 {
		t.Fatalf("log has %d events, want 200", want.Events)
	}
	r.waitStored(t, want.Counts)
}

type switchableStore struct {
	tally.Store
	mu    sync.Mutex
	off   bool
	tries int
}

func (s *switchableStore) set(off bool) { s.mu.Lock(); s.off = off; s.mu.Unlock() }
func (s *switchableStore) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

func (s *switchableStore) Flush(ctx context.Context, us []tally.ShardUpdate) error {
	s.mu.Lock()
	off := s.off
	s.tries++
	s.mu.Unlock()
	if off {
		return errors.Join(tally.ErrStoreUnavailable, errors.New("switched off"))
	}
	return s.Store.Flush(ctx, us)
}

// latePolls is a PollSource that learns polls while the test runs.
type latePolls struct {
	mu      sync.Mutex
	polls   map[string]schema.Poll
	changed chan struct{}
	misses  int // WaitFor calls that ended without the poll
}

func (l *latePolls) missed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.misses
}

func (l *latePolls) add(p schema.Poll) {
	l.mu.Lock()
	l.polls[p.ID] = p
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *latePolls) WaitFor(ctx context.Context, id string, _ func(schema.Poll) bool) (schema.Poll, error) {
	for {
		l.mu.Lock()
		p, ok := l.polls[id]
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return p, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			l.misses++
			l.mu.Unlock()
			return schema.Poll{}, ctx.Err()
		}
	}
}

// TestUnknownPollHoldsTheShard: events of a poll the tally does not know
// yet must wait, not be skipped: a later ack on the shard would cover them.
func TestUnknownPollHoldsTheShard(t *testing.T) {
	r := newRig(t)
	known := r.poll
	late := schema.Poll{ID: schema.NewPollID(), Options: []string{"x", "y"}, VotesPerUser: 1, State: schema.Open, Shards: 2}
	src := &latePolls{polls: map[string]schema.Poll{known.ID: known}, changed: make(chan struct{})}
	w, err := tally.NewWorker(tally.Options{JS: r.js, Store: r.store, Polls: src, MinShards: 2, PollWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := range 40 {
		p := late
		if i%2 == 0 {
			p = known
		}
		user := fmt.Sprintf("h%d", i)
		subj := schema.VoteSubject(p.ID, schema.ShardOf(user, p.Shards))
		if _, err := r.js.Publish(context.Background(), subj, schema.AppendVoteEvent(nil, user, schema.VoteFrame{ID: "k", Option: 0, Count: 1})); err != nil {
			t.Fatal(err)
		}
	}
	// The case under test: the tally has given up waiting at least twice
	// and must still be holding the events, not skipping them.
	await.Until(t, 10*time.Second, "the tally waiting twice for the unknown poll", func() bool { return src.missed() >= 2 })
	src.add(late)
	r.waitStored(t, []int64{20, 0, 0})
	r.poll = late
	r.waitStored(t, []int64{20, 0})
}
