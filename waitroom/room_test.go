package waitroom

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/natsnode/natstest"
)

// edge opens a Room named name on env's NATS with free free slots.
func edge(t testing.TB, env natstest.Env, name string, free *atomic.Int64, rate float64) *Room {
	t.Helper()
	s, _ := NewSigner(testKey)
	r, err := New(context.Background(), Options{JS: env.JS, Signer: s, Edge: name, Rate: rate,
		Free: func() int { return int(free.Load()) }, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, rooms ...*Room) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Go(func() { r.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// Places come from the QUEUE stream, so two edges give one strict order,
// and a viewer who joins again keeps its place.
func TestPlacesAreGlobalAndKept(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	a, b := edge(t, env, "a", &free, 0), edge(t, env, "b", &free, 0)
	ctx := context.Background()
	seen := map[uint64]string{}
	for i := range 10 {
		r := []*Room{a, b}[i%2]
		tk, tok, err := r.Join(ctx, fmt.Sprintf("user-%d", i), "p1")
		if err != nil {
			t.Fatal(err)
		}
		if tk.Pos != uint64(i+1) {
			t.Fatalf("user-%d got place %d, want %d", i, tk.Pos, i+1)
		}
		seen[tk.Pos] = tok
	}
	again, _, err := b.Join(ctx, "user-2", "p1")
	if err != nil || again.Pos != 3 {
		t.Fatalf("user-2 joining again on the other edge: place %d (%v), want 3", again.Pos, err)
	}
	other, _, err := a.Join(ctx, "user-2", "p2")
	if err != nil || other.Pos != 11 {
		t.Fatalf("user-2 in another poll's line: place %d (%v), want 11", other.Pos, err)
	}
}

// The serving position moves at the rate, never past the line, and a
// ticket is exchanged for a connection once, whichever edge is asked.
func TestAdmissionInOrderAndOnce(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	free.Store(1000)
	a, b := edge(t, env, "a", &free, 0), edge(t, env, "b", &free, 0)
	ctx := context.Background()
	toks := make([]string, 6)
	for i := range toks {
		_, toks[i], _ = a.Join(ctx, fmt.Sprintf("user-%d", i), "p1")
	}
	run(t, a, b)
	if !a.Queueing() {
		t.Fatal("six wait and nobody was let in, but the room says nobody queues")
	}
	if _, err := a.Admit(ctx, toks[0], "user-0", "p1"); !errors.Is(err, ErrNotYet) {
		t.Fatalf("admitted at rate 0: %v", err)
	}
	if _, err := a.SetRate(ctx, 20); err != nil {
		t.Fatal(err)
	}
	// Each edge learns the serving position from its own watch of the
	// bucket: wait for both, then ask.
	await.Until(t, 5*time.Second, "everyone let in, as both edges see it", func() bool { return a.State().Serving == 6 && b.State().Serving == 6 })
	if a.Queueing() || b.State().Admitted != 6 {
		t.Fatalf("all six let in, yet queueing %v, admitted %d", a.Queueing(), b.State().Admitted)
	}
	// Both edges race for every ticket: one wins each.
	var wins atomic.Int64
	var wg sync.WaitGroup
	releases := make([]func(), len(toks))
	for i, tok := range toks {
		for _, r := range []*Room{a, b, a, b} {
			wg.Go(func() {
				release, err := r.Admit(ctx, tok, fmt.Sprintf("user-%d", i), "p1")
				switch {
				case err == nil:
					wins.Add(1)
					releases[i] = release
				case err.Error() != "ticket refused: this ticket is in use on another connection":
					t.Errorf("user-%d: %v", i, err)
				}
			})
		}
	}
	wg.Wait()
	if wins.Load() != 6 {
		t.Fatalf("%d admissions for 6 tickets", wins.Load())
	}
	// Once its connection ends, the viewer reconnects with the same ticket.
	releases[0]()
	if _, err := b.Admit(ctx, toks[0], "user-0", "p1"); err != nil {
		t.Fatalf("reconnect after the connection ended: %v", err)
	}
}

// A ticket held by an edge that stopped reporting (killed with the
// connection open) is taken over; one held by a live edge is not.
func TestTicketOfADeadEdgeIsTakenOver(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	free.Store(10)
	a, b := edge(t, env, "a", &free, 100), edge(t, env, "b", &free, 100)
	ctx := context.Background()
	_, tok, _ := a.Join(ctx, "u", "p1")
	run(t, b) // a never runs: it never reports
	await.Until(t, 5*time.Second, "u let in", func() bool { return b.State().Serving >= 1 })
	a.mu.Lock()
	a.cur = b.State()
	a.mu.Unlock()
	if _, err := a.Admit(ctx, tok, "u", "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admit(ctx, tok, "u", "p1"); err != nil {
		t.Fatalf("a is silent, yet its mark held: %v", err)
	}
	// a sees b's reports (a's own watchers do not run here).
	b.mu.Lock()
	rep := b.free["b"]
	b.mu.Unlock()
	a.mu.Lock()
	a.free["b"] = rep
	a.mu.Unlock()
	if _, err := a.Admit(ctx, tok, "u", "p1"); err == nil || err.Error() != "ticket refused: this ticket is in use on another connection" {
		t.Fatalf("b is alive and holds the ticket, yet: %v", err)
	}
}

// The edges' free slots cap admission: a full deployment lets nobody in,
// whatever the rate.
func TestAdmissionWaitsForFreeSlots(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	a := edge(t, env, "a", &free, 1000)
	ctx := context.Background()
	for i := range 5 {
		_, _, _ = a.Join(ctx, fmt.Sprintf("user-%d", i), "p1")
	}
	run(t, a)
	// Wait for a report of zero and a few admitter turns after it.
	await.Until(t, 5*time.Second, "the edge's report", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		_, ok := a.free["a"]
		return ok
	})
	turns := a.State()
	if turns.Serving != 0 {
		t.Fatalf("let in %d with no free slot", turns.Serving)
	}
	free.Store(2)
	await.Until(t, 5*time.Second, "two let in", func() bool { return a.State().Serving == 2 })
	free.Store(0)
	// Once this edge has seen a report of no free slot, the position
	// must not move again: two more reports later it still stands.
	report := func() edgeReport {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.free["a"]
	}
	await.Until(t, 5*time.Second, "a report of no free slot", func() bool { return report().Free == 0 })
	held, seen := a.State().Serving, report().At
	await.Until(t, 5*time.Second, "two more reports", func() bool { return report().At >= seen+2*reportEvery.Milliseconds() })
	if got := a.State().Serving; got != held {
		t.Fatalf("let in %d, then %d with no free slot", held, got)
	}
}

// An edge's --admit-rate applies when it starts, unless the producer has
// set a rate since: a live change outlives restarts.
func TestStartingRateGivesWayToTheProducers(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	if got := edge(t, env, "a", &free, -1).State().Rate; got != 0 {
		t.Fatalf("a negative rate: %v, want 0 (stopped)", got)
	}
	if got := edge(t, env, "b", &free, 30).State().Rate; got != 30 {
		t.Fatalf("an edge starting with 30: %v", got)
	}
	if _, err := edge(t, env, "c", &free, 30).SetRate(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	if got := edge(t, env, "d", &free, 500).State().Rate; got != 7 {
		t.Fatalf("an edge starting with 500 after the producer set 7: %v", got)
	}
}

// An edge's own report counts for its turn at once, not when its watch of
// the edges bucket brings it back: here no watch runs (the loop alone),
// and the edge still lets the line in on the slots it reported.
func TestOwnReportCountsWithoutItsWatch(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	free.Store(3)
	a := edge(t, env, "a", &free, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 5 {
		if _, _, err := a.Join(ctx, fmt.Sprintf("user-%d", i), "p1"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { a.loop(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	await.Until(t, 5*time.Second, "all five let in", func() bool { return a.State().Serving == 5 })
}
