package ingest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/polls"
	"github.com/votecast/votecast/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// benchSync is the JetStream fsync policy of these tests; the benchmark
// reports the same path under both (VOTECAST_BENCH_SYNC=2m).
var benchSync = cmp.Or(os.Getenv("VOTECAST_BENCH_SYNC"), "always")

type noFeed struct{}

func (noFeed) Subscribe(string, interface{ Offer([]byte) }) ([]byte, func()) { return nil, func() {} }

// newTestServer runs ingest against an embedded JetStream with one open
// poll, without sockets: viewers are driven through vote directly.
func newTestServer(tb testing.TB, spec schema.PollSpec) (*Server, schema.Poll, jetstream.JetStream) {
	tb.Helper()
	env := natstest.Start(tb, benchSync, jetstream.WithPublishAsyncMaxPending(10_000))
	js, kv := env.JS, env.KV
	ctx := context.Background()
	cat := polls.NewCatalog(kv, slog.Default())
	if err := cat.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cat.Close)
	prod, _ := polls.NewProducer(kv, js, polls.ProducerOptions{})
	p, err := prod.Create(ctx, spec)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ = prod.Open(ctx, p.ID)
	if _, err := cat.WaitFor(ctx, p.ID, func(q schema.Poll) bool { return q.State == schema.Open }); err != nil {
		tb.Fatal(err)
	}
	ids, _ := identity.New(identity.Options{AnonKey: []byte("0123456789abcdef0123456789abcdef")})
	s, err := New(Options{JS: js, Polls: cat, Feed: noFeed{}, Identity: ids})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s, p, js
}

// fakeConn hands written frames to the test. Like a socket, its Read
// returns once CloseNow is called.
type fakeConn struct {
	acks chan []byte
	once sync.Once
	gone chan struct{}
}

func (f *fakeConn) Read(context.Context) (websocket.MessageType, []byte, error) {
	<-f.gone
	return 0, nil, net.ErrClosed
}
func (f *fakeConn) Write(_ context.Context, _ websocket.MessageType, p []byte) error {
	f.acks <- p
	return nil
}
func (f *fakeConn) Close(websocket.StatusCode, string) error { return f.CloseNow() }
func (f *fakeConn) CloseNow() error {
	f.once.Do(func() { close(f.gone) })
	return nil
}

// ackWait bounds how long a test waits for one answer: a missing answer is
// a failure, not a hang.
const ackWait = 10 * time.Second

// nextAck returns the next frame written to a test viewer, failing the test
// if none comes within ackWait.
func nextAck(tb testing.TB, acks <-chan []byte) string {
	tb.Helper()
	select {
	case a := <-acks:
		return string(a)
	case <-time.After(ackWait):
		tb.Fatalf("no answer within %v", ackWait)
		return ""
	}
}

// testViewer is a viewer without a socket; its acks arrive on the channel.
func testViewer(tb testing.TB, s *Server, user, poll string) (*viewer, chan []byte) {
	fc := &fakeConn{acks: make(chan []byte, 1024), gone: make(chan struct{})}
	v := newViewer(s, fc, user, poll)
	v.votes = &voteState{keys: map[string]schema.Ack{}}
	tb.Cleanup(v.endWrites)
	return v, fc.acks
}

func TestVoteAnswersAfterPubAck(t *testing.T) {
	s, p, js := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	v, acks := testViewer(t, s, "u1", p.ID)
	tests := []struct {
		frame      schema.VoteFrame
		wantStatus string
		wantReason string
		wantSeq    uint64 // the receipt: where the log holds the vote
	}{
		{schema.VoteFrame{ID: "k1", Option: 1, Count: 1}, schema.StatusAccepted, "", 1},
		{schema.VoteFrame{ID: "k1", Option: 1, Count: 1}, schema.StatusDuplicate, "already counted", 1},
		{schema.VoteFrame{ID: "k2", Option: 0, Count: 1}, schema.StatusDuplicate, "no votes left", 0},
		{schema.VoteFrame{ID: "k3", Option: 5, Count: 1}, schema.StatusRejected, "no such option", 0},
	}
	for _, tc := range tests {
		v.vote(tc.frame)
		got := nextAck(t, acks)
		want := string(schema.AppendAck(nil, schema.Ack{ID: tc.frame.ID, Status: tc.wantStatus, Reason: tc.wantReason, Seq: tc.wantSeq}))
		if got != want {
			t.Fatalf("vote %+v: %s, want %s", tc.frame, got, want)
		}
	}
	// A second connection of the same user: JetStream's dedup key stops it.
	w, wacks := testViewer(t, s, "u1", p.ID)
	w.vote(schema.VoteFrame{ID: "k9", Option: 0, Count: 1})
	if got := nextAck(t, wacks); !strings.Contains(got, `"status":"duplicate","reason":"already voted"`) {
		t.Fatalf("second socket: %s", got)
	}
	// Its resend on that socket is told the same, never "already counted"
	// (it was not).
	w.vote(schema.VoteFrame{ID: "k9", Option: 0, Count: 1})
	if got := nextAck(t, wacks); !strings.Contains(got, `"status":"duplicate","reason":"already voted"`) {
		t.Fatalf("second socket, the same frame again: %s", got)
	}
	// The same frame resent on a new connection (its answer was lost, or
	// it was told to retry after a slow PubAck): it is in the log.
	x, xacks := testViewer(t, s, "u1", p.ID)
	x.vote(schema.VoteFrame{ID: "k1", Option: 1, Count: 1})
	if got := nextAck(t, xacks); !strings.Contains(got, `"status":"duplicate","reason":"already counted"`) {
		t.Fatalf("resent frame: %s", got)
	}
	st, _ := js.Stream(context.Background(), schema.VotesStream)
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("stream holds %d votes, want 1", n)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestInFlightCapAnswersRetry(t *testing.T) {
	s, p, _ := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	for range cap(s.inFlight) {
		s.inFlight <- struct{}{} // the node is saturated
	}
	v, acks := testViewer(t, s, "u1", p.ID)
	v.vote(schema.VoteFrame{ID: "k1", Option: 0, Count: 1})
	if got := nextAck(t, acks); !strings.Contains(got, `"status":"retry","reason":"busy","retry_after_ms":`) {
		t.Fatalf("saturated node answered %s", got)
	}
	for range cap(s.inFlight) {
		<-s.inFlight
	}
	v.vote(schema.VoteFrame{ID: "k1", Option: 0, Count: 1}) // the retry goes through
	if got := nextAck(t, acks); !strings.Contains(got, `"accepted"`) {
		t.Fatalf("retry answered %s", got)
	}
}

// BenchmarkPublishPipeline drives votes through validation, the dedup key,
// the async publish, the PubAck and the ack encoding, 256 in flight.
func BenchmarkPublishPipeline(b *testing.B) {
	s, p, _ := newTestServer(b, schema.PollSpec{Question: "q", Options: []string{"a", "b", "c"}, VotesPerUser: 1, AllowChange: true})
	const window = 256
	viewers := make([]*viewer, window)
	acks := make([]chan []byte, window)
	for i := range viewers {
		viewers[i], acks[i] = testViewer(b, s, fmt.Sprintf("user-%d", i), p.ID)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += window {
		n := min(window, b.N-i)
		for j := range n {
			viewers[j].vote(schema.VoteFrame{ID: fmt.Sprintf("k%d", i+j), Option: (i + j) % 3, Count: 1})
		}
		// One deadline per window, not a timer per vote on the measured path.
		deadline := time.NewTimer(ackWait)
		for j := range n {
			select {
			case <-acks[j]:
			case <-deadline.C:
				b.Fatalf("vote %d: no answer within %v", i+j, ackWait)
			}
		}
		deadline.Stop()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "votes/s")
}

// TestUnreadableOriginalAnswersRetry: on a one-vote poll a resend from a
// new connection is a JetStream duplicate, and the stored vote is read to
// tell "already counted" (this frame) from "already voted" (another).
// When that read fails the answer is retry, never "already voted": the
// stored vote may be this very frame, which counted.
func TestUnreadableOriginalAnswersRetry(t *testing.T) {
	s, p, js := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	v, acks := testViewer(t, s, "u1", p.ID)
	v.vote(schema.VoteFrame{ID: "k1", Option: 1, Count: 1})
	if got := nextAck(t, acks); !strings.Contains(got, `"status":"accepted"`) {
		t.Fatalf("first vote: %s", got)
	}
	ctx := context.Background()
	st, err := js.Stream(ctx, schema.VotesStream)
	if err != nil {
		t.Fatal(err)
	}
	// The read of the original fails: here it is gone from the stream
	// (votecast never deletes; a log changing leaders fails the read).
	if err := st.DeleteMsg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	w, wacks := testViewer(t, s, "u1", p.ID)
	w.vote(schema.VoteFrame{ID: "k1", Option: 1, Count: 1})
	if got := nextAck(t, wacks); !strings.Contains(got, `"status":"retry","reason":"vote log unavailable","retry_after_ms":`) {
		t.Fatalf("a resend whose original cannot be read: %s, want retry", got)
	}
}
