package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/votecast/votecast/schema"
)

// A node without the ingest role answers every vote frame at once with
// an error frame giving its reason, never an ack (the frame may be the
// resend of a vote that counted), and publishes nothing.
func TestRefuseVotesAnswersAnErrorAndPublishesNothing(t *testing.T) {
	s, p, js := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	const reason = "this node takes no votes (broadcast only)"
	opts := s.opts
	opts.JS, opts.Feed, opts.RefuseVotes = nil, nil, reason // neither is needed to refuse
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	v, acks := testViewer(t, r, "u1", p.ID)
	tests := []struct {
		name  string
		frame schema.VoteFrame
	}{
		{"valid vote on an open poll", schema.VoteFrame{ID: "k1", Option: 1, Count: 1}},
		{"its resend", schema.VoteFrame{ID: "k1", Option: 1, Count: 1}},
		{"no such option", schema.VoteFrame{ID: "k2", Option: 7, Count: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v.vote(tc.frame)
			want := string(schema.AppendError(nil, reason))
			if got := nextAck(t, acks); got != want {
				t.Fatalf("answered %s, want %s", got, want)
			}
		})
	}
	st, err := js.Stream(context.Background(), schema.VotesStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Msgs; n != 0 {
		t.Fatalf("a refusing node published %d votes", n)
	}
	if got := r.AckCounts()[schema.StatusRejected]; got != 0 {
		t.Fatalf("rejected count %d, want 0: a refused frame is not answered rejected", got)
	}
}

// Without a Feed (no broadcast role) a viewer is served acks only.
func TestNoFeedServesAViewer(t *testing.T) {
	s, p, _ := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	opts := s.opts
	opts.Feed = nil
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	v, acks := testViewer(t, r, "u1", p.ID)
	done := make(chan struct{})
	go func() { defer close(done); v.serve() }()
	v.vote(schema.VoteFrame{ID: "k1", Option: 0, Count: 1})
	want := string(schema.AppendAck(nil, schema.Ack{ID: "k1", Status: schema.StatusAccepted, Seq: 1})) // the first vote in the log
	if got := nextAck(t, acks); got != want {
		t.Fatalf("answered %s, want %s", got, want)
	}
	v.c.CloseNow() // the viewer leaves
	select {
	case <-done:
	case <-time.After(ackWait):
		t.Fatalf("the viewer did not end within %v of its socket closing", ackWait)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
