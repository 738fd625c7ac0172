package broadcast

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type polls map[string]schema.Poll

func (p polls) Get(id string) (schema.Poll, bool) { v, ok := p[id]; return v, ok }

// sink records the frames offered to it.
type sink struct {
	mu     sync.Mutex
	frames []string
}

func (s *sink) Offer(b []byte) { s.mu.Lock(); s.frames = append(s.frames, string(b)); s.mu.Unlock() }

// waitFor waits until the newest frame offered contains substr.
func (s *sink) waitFor(t *testing.T, substr string) {
	t.Helper()
	await.For(t, 10*time.Second, func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := len(s.frames); n > 0 && strings.Contains(s.frames[n-1], substr) {
			return ""
		}
		return fmt.Sprintf("no newest frame with %s; got %v", substr, s.frames)
	})
}

func startHub(t *testing.T, js jetstream.JetStream, ps polls) (*Hub, func()) {
	h, err := New(Options{JS: js, Polls: ps, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	return h, func() { cancel(); <-done }
}

func TestHubSumsNewestSnapshotPerShard(t *testing.T) {
	js := natstest.Start(t, "").JS
	live := schema.Poll{ID: schema.NewPollID(), Options: []string{"a", "b"}, State: schema.Open, Results: schema.ResultsLive}
	hidden := schema.Poll{ID: schema.NewPollID(), Options: []string{"a", "b"}, State: schema.Open, Results: schema.ResultsHidden}
	ps := polls{live.ID: live, hidden.ID: hidden}
	pub := func(s schema.Snapshot) {
		t.Helper()
		if _, err := js.Publish(context.Background(), schema.SnapshotSubject(s.Poll, s.Shard), schema.EncodeSnapshot(s)); err != nil {
			t.Fatal(err)
		}
	}
	appendVotes(t, js, 20) // the sequences the snapshots below claim to have folded
	hub, stop := startHub(t, js, ps)
	var viewer, secret sink
	_, unsub := hub.Subscribe(live.ID, &viewer)
	defer unsub()
	_, unsub2 := hub.Subscribe(hidden.ID, &secret)
	defer unsub2()

	pub(schema.Snapshot{Poll: live.ID, Shard: 0, Seq: 10, Counts: []int64{3, 1}})
	pub(schema.Snapshot{Poll: live.ID, Shard: 1, Seq: 12, Counts: []int64{0, 2}})
	viewer.waitFor(t, `"counts":[3,3],"total":6`)
	// An older snapshot of shard 0 (a replay after a crash) must not
	// take the totals back.
	pub(schema.Snapshot{Poll: live.ID, Shard: 0, Seq: 9, Counts: []int64{1, 0}})
	pub(schema.Snapshot{Poll: live.ID, Shard: 1, Seq: 13, Counts: []int64{0, 3}})
	viewer.waitFor(t, `"counts":[3,4],"total":7`)
	// The tally never leaves an older snapshot last in the stream (it
	// publishes nothing while replaying): play its next real snapshot.
	pub(schema.Snapshot{Poll: live.ID, Shard: 0, Seq: 14, Counts: []int64{3, 1}})

	pub(schema.Snapshot{Poll: hidden.ID, Shard: 0, Seq: 20, Counts: []int64{5, 0}})
	secret.waitFor(t, `"hidden":true`)
	if tot, _ := hub.Totals(hidden.ID); tot.Total != 5 {
		t.Fatalf("producer totals of the hidden poll = %+v", tot)
	}
	hidden.State = schema.Closed
	ps[hidden.ID] = hidden
	hub.PollChanged(hidden)
	secret.waitFor(t, `"state":"closed","counts":[5,0],"total":5`)
	stop()

	// A restarted node has the current totals at once, from the stream.
	hub2, stop2 := startHub(t, js, ps)
	defer stop2()
	await.For(t, 10*time.Second, func() string {
		if tot, _ := hub2.Totals(live.ID); !slices.Equal(tot.Counts, []int64{3, 4}) || tot.Total != 7 {
			return fmt.Sprintf("restarted hub has totals %+v, want counts [3 4], total 7", tot)
		}
		return ""
	})
}

type nopSink struct{ n int }

func (s *nopSink) Offer([]byte) { s.n++ }

// reentrantSink reads the hub from inside Offer, as a slow viewer's
// goroutines would while a round is under way.
type reentrantSink struct {
	h    *Hub
	poll string
	got  []int64
}

func (s *reentrantSink) Offer([]byte) {
	t, _ := s.h.Totals(s.poll)
	s.got = t.Counts
	_, unsubscribe := s.h.Subscribe("other", &nopSink{})
	unsubscribe()
}

// TestOffersAreMadeOutsideTheLock: a round's offers do not hold the hub,
// so Totals, Subscribe and unsubscribe go on while thousands of viewers
// are offered a frame (with the lock held, this sink deadlocks).
func TestOffersAreMadeOutsideTheLock(t *testing.T) {
	p := schema.Poll{ID: "lockfree01", Options: []string{"a", "b"}, State: schema.Open, Results: schema.ResultsLive}
	h, _ := New(Options{JS: struct{ jetstream.JetStream }{}, Polls: polls{p.ID: p}})
	h.votesLast = math.MaxUint64
	s := &reentrantSink{h: h, poll: p.ID}
	h.Subscribe(p.ID, s)
	h.apply(schema.Snapshot{Poll: p.ID, Shard: 0, Seq: 1, Counts: []int64{4, 2}})
	done := make(chan struct{})
	go func() { h.fanOut(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("fan-out round still running after 10s: the offer waits for the hub's lock")
	}
	if !slices.Equal(s.got, []int64{4, 2}) {
		t.Fatalf("totals read during the offer: %v, want [4 2]", s.got)
	}
}

// BenchmarkFanOut offers one poll's new totals to 10,000 viewers.
func BenchmarkFanOut(b *testing.B) {
	p := schema.Poll{ID: "benchbench", Options: []string{"a", "b", "c", "d"}, State: schema.Open, Results: schema.ResultsLive}
	h, _ := New(Options{JS: struct{ jetstream.JetStream }{}, Polls: polls{p.ID: p}})
	h.votesLast = math.MaxUint64 // every snapshot is covered: no refresh without a Run
	for range 10_000 {
		h.Subscribe(p.ID, &nopSink{})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.apply(schema.Snapshot{Poll: p.ID, Shard: 0, Seq: uint64(i + 1), Counts: []int64{int64(i), 1, 2, 3}})
		h.fanOut()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/delivery")
}

func TestIntervalStretchesWithTheAudience(t *testing.T) {
	cores := time.Duration(runtime.GOMAXPROCS(0))
	tests := []struct {
		viewers int
		waiting bool // votes wait for the log
		want    time.Duration
	}{
		{0, false, 100 * time.Millisecond},
		{10_000, false, 100 * time.Millisecond},
		{20_000, false, 200 * time.Millisecond},
		{80_000, false, 800 * time.Millisecond},
		{1_000_000, false, time.Second},
		{0, true, 100 * time.Millisecond},
		// 15µs a frame within a tenth of the cores.
		{1_000, true, max(100*time.Millisecond, 1_000*15*time.Microsecond*10/cores)},
		{5_000, true, min(time.Second, max(100*time.Millisecond, 5_000*15*time.Microsecond*10/cores))},
		{1_000_000, true, time.Second},
	}
	for _, tc := range tests {
		h, _ := New(Options{JS: struct{ jetstream.JetStream }{}, Polls: polls{}, VotesWaiting: func() bool { return tc.waiting }})
		h.viewerN = tc.viewers
		if got := h.interval(); got != tc.want {
			t.Errorf("%d viewers, votes waiting %v: interval %v, want %v", tc.viewers, tc.waiting, got, tc.want)
		}
	}
}

// A giveaway's sold-out snapshot goes out at once, however long the
// interval: entrants learn their outcome from it.
func TestSoldOutGoesOutAtOnce(t *testing.T) {
	env := natstest.Start(t, "")
	poll := schema.Poll{ID: schema.NewPollID(), Kind: schema.KindGiveaway, Prizes: 2, Options: []string{"a", "b"}, State: schema.Open, Results: schema.ResultsLive, Shards: 1}
	h := runHub(t, Options{JS: env.JS, Polls: polls{poll.ID: poll}, Interval: time.Hour, MaxInterval: time.Hour})
	var s sink
	_, unsubscribe := h.Subscribe(poll.ID, &s)
	defer unsubscribe()
	last := appendVotes(t, env.JS, 3)
	publishSnapshot(t, env.JS, schema.Snapshot{Poll: poll.ID, Shard: 0, Seq: last, Counts: []int64{3, 0}, Winners: 2, Cutoff: last - 1})
	s.waitFor(t, `"sold_out":true`)
}
