package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/schema"
)

func TestStallTicks(t *testing.T) {
	type step struct {
		pending int
		acks    int64 // PubAcks since the last tick
		want    int
	}
	const after = time.Second
	tests := []struct {
		name  string
		steps []step // one tick every 400ms
	}{
		{"idle log", []step{{0, 0, stallNone}, {0, 0, stallNone}, {0, 0, stallNone}, {0, 0, stallNone}}},
		{"slow but acknowledging", []step{{4096, 1, stallNone}, {4096, 1, stallNone}, {4096, 1, stallNone}, {4096, 1, stallNone}, {4096, 1, stallNone}}},
		{"nothing acknowledged", []step{{5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallStarted}, {5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallContinued}, {5, 1, stallEnded}}},
		{"a vote after a quiet minute", []step{{0, 0, stallNone}, {1, 0, stallNone}, {1, 1, stallNone}}},
		{"votes drain between stalls", []step{{5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallNone}, {5, 0, stallStarted}, {0, 0, stallNone}, {0, 0, stallNone}, {3, 1, stallEnded}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStall(after)
			now := time.Unix(1e9, 0)
			for i, s := range tc.steps {
				released := st.wait()
				st.acked.Add(s.acks)
				now = now.Add(400 * time.Millisecond)
				if got := st.tick(now, s.pending, nil); got != s.want {
					t.Fatalf("tick %d (pending %d, %d acks): event %d, want %d", i, s.pending, s.acks, got, s.want)
				}
				select {
				case <-released:
					if s.want != stallStarted && s.want != stallContinued {
						t.Fatalf("tick %d released waiting votes without a stall", i)
					}
				default:
					if s.want == stallStarted || s.want == stallContinued {
						t.Fatalf("tick %d stalled but released nobody", i)
					}
				}
			}
		})
	}
}

// A log that stores votes but holds their PubAcks back (js-sync always
// in a spike) is moving: no stall while its last sequence grows past what
// the PubAcks named; a stall once it stops growing, or cannot be read.
func TestStallCountsStoredVotesAsProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint64 // the stream's last sequence at each timeout; 0: unreadable
		want []int    // the event at each timeout
	}{
		{"stored, not acknowledged", []uint64{500, 900, 1400}, []int{stallNone, stallNone, stallNone}},
		{"stopped growing", []uint64{500, 500}, []int{stallNone, stallStarted}},
		{"no more than the PubAcks said", []uint64{100}, []int{stallStarted}},
		{"unreadable (no leader)", []uint64{0}, []int{stallStarted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStall(time.Second)
			st.noteAck(100)
			now := time.Unix(1e9, 0)
			st.tick(now, 5, nil) // the acks so far: progress
			for i, seq := range tc.seqs {
				read := func() (uint64, bool) { return seq, seq != 0 }
				var got int
				// Ticks every 400ms until the timeout has passed.
				for range 4 {
					now = now.Add(400 * time.Millisecond)
					if got = st.tick(now, 5, read); got != stallNone {
						break
					}
				}
				if got != tc.want[i] {
					t.Fatalf("timeout %d (last sequence %d): event %d, want %d", i, seq, got, tc.want[i])
				}
			}
		})
	}
}

// TestStalledLogAnswersRetry: a log that takes votes and acknowledges
// nothing (a stream leader without its quorum) gets the viewer a retry
// within the stall timeout, not after the hour-long PublishTimeout of
// this test; once the log acknowledges again the resent frame counts.
func TestStalledLogAnswersRetry(t *testing.T) {
	s, p, js := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	s.opts.PublishTimeout, s.opts.StallTimeout = time.Hour, 300*time.Millisecond
	s.stall = newStall(s.opts.StallTimeout)
	s.janitorOnce.Do(func() { go s.janitor() })
	t.Cleanup(s.Stop)
	ctx := context.Background()
	if err := js.DeleteStream(ctx, schema.VotesStream); err != nil {
		t.Fatal(err)
	}
	// A subscriber that swallows votes: publishes get no "no responders",
	// and no PubAck ever.
	hole, err := js.Conn().Subscribe(schema.VotesSubject, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	v, acks := testViewer(t, s, "u1", p.ID)
	v.vote(schema.VoteFrame{ID: "k1", Option: 1, Count: 1})
	if got := nextAck(t, acks); !strings.Contains(got, `"status":"retry","reason":"vote log stalled","retry_after_ms":`) {
		t.Fatalf("a vote into a stalled log: %s, want retry (vote log stalled)", got)
	}
	_ = hole.Unsubscribe()
	if _, err := natsnode.Ensure(ctx, js, natsnode.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	v.vote(schema.VoteFrame{ID: "k1", Option: 1, Count: 1})
	if got := nextAck(t, acks); !strings.Contains(got, `"status":"accepted"`) {
		t.Fatalf("the resent frame once the log is back: %s, want accepted", got)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
