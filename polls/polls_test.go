package polls

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setup(t *testing.T) (*Catalog, *Producer, jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	env := natstest.Start(t, "")
	js, kv := env.JS, env.KV
	c := NewCatalog(kv, slog.Default())
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	p, err := NewProducer(kv, js, ProducerOptions{Shards: 3, CloseGrace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, p, js, kv
}

func spec() schema.PollSpec {
	return schema.PollSpec{Question: " Which? ", Options: []string{"a", " b "}}
}

func TestLifecycle(t *testing.T) {
	c, p, _, _ := setup(t)
	ctx := context.Background()
	poll, err := p.Create(ctx, spec())
	if err != nil {
		t.Fatal(err)
	}
	if poll.State != schema.Draft || poll.Question != "Which?" || poll.Options[1] != "b" || poll.VotesPerUser != 1 || poll.Results != schema.ResultsLive || poll.Shards != 3 {
		t.Fatalf("created %+v", poll)
	}
	edited := spec()
	edited.Options = append(edited.Options, "c")
	if poll, err = p.Edit(ctx, poll.ID, edited); err != nil || len(poll.Options) != 3 {
		t.Fatalf("edit draft: %+v, %v", poll, err)
	}
	if poll, err = p.Open(ctx, poll.ID); err != nil || poll.State != schema.Open || poll.OpenedAt.IsZero() {
		t.Fatalf("open: %+v, %v", poll, err)
	}
	if again, err := p.Open(ctx, poll.ID); err != nil || again.State != schema.Open {
		t.Fatalf("open twice: %+v, %v", again, err)
	}
	if _, err := p.Edit(ctx, poll.ID, edited); !errors.Is(err, ErrConflict) {
		t.Fatalf("edit open poll: %v, want ErrConflict", err)
	}
	if poll, err = p.Close(ctx, poll.ID); err != nil || poll.State != schema.Closed || len(poll.Markers) != 3 {
		t.Fatalf("close: %+v, %v", poll, err)
	}
	if again, err := p.Close(ctx, poll.ID); err != nil || !slices.Equal(again.Markers, poll.Markers) {
		t.Fatalf("close twice: %+v, %v", again, err)
	}
	if _, err := p.Open(ctx, poll.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("reopen: %v, want ErrConflict", err)
	}
	if _, err := p.Open(ctx, "zzzzzzzzzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open unknown: %v, want ErrNotFound", err)
	}
	got, err := c.WaitFor(ctx, poll.ID, func(q schema.Poll) bool { return q.State == schema.Closed })
	if err != nil || !slices.Equal(got.Markers, poll.Markers) {
		t.Fatalf("catalog sees %+v, %v", got, err)
	}
}

// TestInterruptedCloseFinishes: a producer node died after placing markers
// but before writing closed. Closing again must reuse those markers, not
// append later ones that would make votes in between look valid.
func TestInterruptedCloseFinishes(t *testing.T) {
	_, p, js, kv := setup(t)
	ctx := context.Background()
	poll, _ := p.Create(ctx, spec())
	poll, _ = p.Open(ctx, poll.ID)
	first, err := p.placeMarkers(ctx, poll)
	if err != nil {
		t.Fatal(err)
	}
	poll.State = schema.Closing
	b, _ := json.Marshal(poll)
	if _, err := kv.Put(ctx, poll.ID, b); err != nil {
		t.Fatal(err)
	}
	closed, err := p.Close(ctx, poll.ID)
	if err != nil || closed.State != schema.Closed || !slices.Equal(closed.Markers, first) {
		t.Fatalf("close after interruption: %+v, %v; want markers %v", closed, err, first)
	}
	info, _ := js.Stream(ctx, schema.VotesStream)
	if n := info.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("stream holds %d messages, want the 3 markers only", n)
	}
}

func TestCloseDraftNeedsNoMarkers(t *testing.T) {
	_, p, _, _ := setup(t)
	poll, _ := p.Create(context.Background(), spec())
	closed, err := p.Close(context.Background(), poll.ID)
	if err != nil || closed.State != schema.Closed || len(closed.Markers) != 0 {
		t.Fatalf("close draft: %+v, %v", closed, err)
	}
}
