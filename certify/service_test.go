package certify

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"

	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
)

// Two nodes certifying one poll at once, with different keys and salts:
// the first to store wins and the second serves its certificate, so a
// poll never has two. On the real nats-server.
func TestSecondCertifierServesTheFirst(t *testing.T) {
	env := natstest.Start(t, "")
	ctx := context.Background()
	poll := schema.Poll{ID: schema.NewPollID(), Question: "q", Options: []string{"a", "b"}, VotesPerUser: 1, Shards: 2, State: schema.Closed}
	for i, user := range []string{"u1", "u2", "u3"} {
		body := schema.AppendVoteEvent(nil, user, schema.VoteFrame{ID: "k", Option: i % 2, Count: 1})
		if _, err := env.JS.Publish(ctx, schema.VoteSubject(poll.ID, schema.ShardOf(user, 2)), body); err != nil {
			t.Fatal(err)
		}
	}
	for shard := range 2 {
		if _, err := env.JS.Publish(ctx, schema.VoteSubject(poll.ID, shard), schema.CloseMarkerEvent()); err != nil {
			t.Fatal(err)
		}
	}
	var certs []Certificate
	for range 2 {
		_, key, _ := ed25519.GenerateKey(nil)
		svc, err := NewService(ctx, env.JS, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.create(ctx, poll) // both build: neither has read the other's
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.p.Totals, []int64{2, 1}) || got.p.Entries != 5 || got.tree.Root() != got.p.Root {
			t.Fatalf("certified %+v", got.p)
		}
		certs = append(certs, got.c)
	}
	if certs[0] != certs[1] {
		t.Fatal("the second node made a certificate of its own")
	}
}
