package tally

import (
	"testing"
	"time"
)

// TestStoreBackoffSpreads: sixteen shards meeting one store outage do
// not retry in step, and no wait passes 5s plus its jitter.
func TestStoreBackoffSpreads(t *testing.T) {
	first := map[time.Duration]bool{}
	for range 16 {
		b := storeBackoff()
		d := b.NextBackOff()
		if d < 50*time.Millisecond || d > 150*time.Millisecond {
			t.Fatalf("first wait %v, want 100ms ± 50%%", d)
		}
		first[d] = true
		for range 20 {
			if d = b.NextBackOff(); d > 7500*time.Millisecond {
				t.Fatalf("wait %v past 5s ± 50%%", d)
			}
		}
		if d < 2500*time.Millisecond {
			t.Fatalf("after 20 failures the wait is %v, want near 5s", d)
		}
	}
	if len(first) < 8 {
		t.Fatalf("16 shards' first waits took only %d values: they retry in step", len(first))
	}
}
