package waitroom

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/votecast/votecast/natsnode/natstest"
)

// Viewers who join before the opening are placed at the draw in a random
// order, right behind those already in line, each once, and joining
// again returns the place drawn.
func TestDrawPlacesEarlyViewersAtRandom(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	r := edge(t, env, "a", &free, 0)
	ctx := context.Background()
	before, _, _ := r.Join(ctx, "already-waiting", "other")
	const n = 50
	for i := range n {
		if err := r.JoinEarly(ctx, fmt.Sprintf("early-%02d", i), "p1"); err != nil {
			t.Fatal(err)
		}
	}
	_ = r.JoinEarly(ctx, "early-07", "p1") // twice: one entry
	last, placed, err := r.Draw(ctx, "p1", 0)
	if err != nil || placed != n {
		t.Fatalf("draw placed %d (%v), want %d", placed, err, n)
	}
	places := make([]uint64, n)
	for i := range n {
		tk, _, err := r.Join(ctx, fmt.Sprintf("early-%02d", i), "p1")
		if err != nil {
			t.Fatal(err)
		}
		places[i] = tk.Pos
	}
	sorted := slices.Sorted(slices.Values(places))
	for i, p := range sorted {
		if p != before.Pos+1+uint64(i) {
			t.Fatalf("places %v: want %d..%d, each once", sorted, before.Pos+1, before.Pos+n)
		}
	}
	if slices.IsSorted(places) {
		t.Fatalf("places follow the order of arrival: %v", places)
	}
	if _, again, err := r.Draw(ctx, "p1", last); err != nil || again != 0 {
		t.Fatalf("a second sweep placed %d (%v)", again, err)
	}
	late := "late"
	_ = r.JoinEarly(ctx, late, "p1")
	if _, swept, err := r.Draw(ctx, "p1", last); err != nil || swept != 1 {
		t.Fatalf("the sweep after a late early join placed %d (%v), want 1", swept, err)
	}
}
